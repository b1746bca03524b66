"""A thread-safe, buffered, append-only writer of whole JSON lines.

:class:`JsonlSink` assumes each ``write()`` gets exactly one complete, ``\\n``-terminated line of
bytes (the logger serialises with ``orjson.OPT_APPEND_NEWLINE``). It guarantees:

- the file is opened in append mode and never truncated; if a crash left its last line
  without ``\\n``, a ``\\n`` is added first so that torn line cannot swallow the next one;
- lines reach the file whole and in order: a batch is joined and handed to the OS in one
  ``write`` (looping only on a short write), so a crash (even SIGKILL) can leave at most an
  incomplete last line, never two lines mixed;
- buffered lines are written when ``flush_every`` lines are waiting, when ``flush_interval_s``
  has passed since the last write (checked against the caller's clock on each ``write()``, and
  by a daemon flusher thread so a trainer that goes quiet still shows up on the dashboard), on
  :meth:`flush`, on :meth:`close`, when the sink is garbage-collected and at interpreter exit;
- ``flush_every_line=True`` writes each line before ``write()`` returns;
- several threads may write at once (the file is written under one lock);
- after ``fork`` the child drops the parent's buffered lines (the parent writes them) and
  keeps appending its own to the same file.

The caller's cost of ``write()`` is a deque append and two comparisons (no lock). The flusher
thread is stopped and joined by :meth:`close`; all state it touches lives in ``_Core``, so the
thread never keeps the sink itself alive.
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections import deque
from pathlib import Path

__all__ = ["JsonlSink", "NullSink"]

_CORES: weakref.WeakSet[_Core] = weakref.WeakSet()


def _end_torn_line(path: Path, fd: int) -> None:
    """If a crash left the file without a final ``\\n``, end that line so ours stay whole."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    with open(path, "rb") as f:
        f.seek(size - 1)
        last = f.read(1)
    if last != b"\n":
        os.write(fd, b"\n")


class _Core:
    """Queue, lock and file of one sink (shared with its flusher thread and finalizer).

    Writers append to a ``deque`` (atomic, so the caller pays no lock); whoever writes to the
    file holds ``lock`` and pops exactly the lines it saw, in order, so no line is lost or
    reordered however many threads write and flush at once.
    """

    def __init__(self, path: Path, flush_every: int, flush_interval_s: float) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.queue: deque[bytes] = deque()
        self.flush_every = flush_every
        self.flush_interval_s = flush_interval_s
        self.fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _end_torn_line(path, self.fd)
        # When the caller's clock next calls for a flush: -inf writes the first line at once.
        self.due = -math.inf
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def flush(self, now: float | None = None) -> None:
        """Hand every queued line to the OS in one ``write`` (looping on short writes)."""
        with self.lock:
            if now is not None:
                self.due = now + self.flush_interval_s
            queue = self.queue
            n = len(queue)
            if not n or self.fd is None:
                return
            pop = queue.popleft
            data = memoryview(b"".join([pop() for _ in range(n)]))
            while data:
                written = os.write(self.fd, data)
                data = data[written:]

    def run_flusher(self) -> None:
        while not self.stop.wait(self.flush_interval_s):
            if self.queue:
                self.flush()

    def close(self) -> None:
        self.stop.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        try:
            self.flush()
        finally:
            with self.lock:
                if self.fd is not None:
                    os.close(self.fd)
                    self.fd = None

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()
        self.queue.clear()  # in place: the logger holds this deque (it inlines write())
        self.thread = None
        self.stop = threading.Event()
        # The fd stays (O_APPEND keeps whole lines whole); the parent's queued lines are the
        # parent's to write, so the child starts empty and without a flusher thread.


def _after_fork_in_child() -> None:
    for core in list(_CORES):
        core.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class JsonlSink:
    """Append whole lines to ``path``; see the module docstring for the guarantees.

    ``flush_every`` (lines, >= 1) and ``flush_interval_s`` (seconds, > 0) set the flush policy;
    ``flush_every_line`` forces a write per line. ``background_flush`` starts the daemon
    flusher thread (stopped by :meth:`close`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_every: int = 100,
        flush_interval_s: float = 1.0,
        flush_every_line: bool = False,
        background_flush: bool = True,
    ) -> None:
        if isinstance(flush_every, bool) or not isinstance(flush_every, int) or flush_every < 1:
            raise ValueError(f"flush_every must be an int >= 1, got {flush_every!r}")
        if not isinstance(flush_interval_s, int | float) or not flush_interval_s > 0:
            raise ValueError(
                f"flush_interval_s must be a number of seconds > 0, got {flush_interval_s!r}"
            )
        self.path = Path(path)
        self._core = core = _Core(self.path, 1 if flush_every_line else flush_every,
                                  float(flush_interval_s))
        _CORES.add(core)
        self._closed = False
        if background_flush and not flush_every_line:
            core.thread = threading.Thread(
                target=core.run_flusher, name=f"thalia-flush:{self.path.name}", daemon=True
            )
            core.thread.start()
        # Runs on close(), on garbage collection and at interpreter exit, whichever comes first.
        self._finalizer = weakref.finalize(self, core.close)

    def write(self, line: bytes, now: float | None = None) -> None:
        """Queue one complete line; flush when the count or (given ``now``) the time says so."""
        core = self._core
        queue = core.queue
        queue.append(line)
        if len(queue) >= core.flush_every or (now is not None and now >= core.due):
            core.flush(now)

    def flush(self) -> None:
        """Write every buffered line to the OS now (no fsync)."""
        self._core.flush()

    def close(self) -> None:
        """Flush, stop the flusher thread and close the file; calling it again does nothing."""
        self._closed = True
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """How many lines wait in the buffer (for tests and diagnostics)."""
        return len(self._core.queue)

    @property
    def core(self) -> _Core:
        """The queue, policy and file behind this sink (the logger inlines ``write`` with it)."""
        return self._core

    @property
    def flusher_thread(self) -> threading.Thread | None:
        return self._core.thread


class NullSink:
    """A sink that drops every line: ``json_log=False``, or a rank that does not write."""

    path: Path | None = None
    closed = False
    pending = 0
    flusher_thread: threading.Thread | None = None

    def write(self, line: bytes, now: float | None = None) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

