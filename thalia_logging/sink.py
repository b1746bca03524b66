"""A thread-safe, buffered, append-only writer of whole JSON lines.

:class:`JsonlSink` assumes each ``write()`` gets exactly one complete, ``\\n``-terminated line of
bytes (the logger serialises with ``orjson.OPT_APPEND_NEWLINE``). It guarantees:

- the file is opened in append mode and never truncated past its own last whole line; if a
  crash left its last line without ``\\n``, a ``\\n`` is added first so that torn line cannot
  swallow the next one;
- lines reach the file whole and in order: a batch is joined and handed to the OS in one
  ``write`` (looping only on a short write), so a crash (even SIGKILL) can leave at most an
  incomplete last line, never two lines mixed;
- a failed or short write (disk full, file size limit, I/O error) never leaves a fragment that
  the next line joins: the fragment is cut off with ``ftruncate`` back to the end of the last
  whole line; if that fails (or another process appended since), the next write starts with
  ``\\n``, so a reader sees the fragment as one bad line of its own;
- lines that could not be written are kept, in order, and retried at the next flush, up to
  ``max_pending_bytes`` (default :data:`MAX_PENDING_BYTES`, 32 MiB); beyond that the oldest are
  dropped and counted in :attr:`JsonlSink.lost_lines`. The first failure is said once through
  :mod:`logging` (logger ``thalia_logging.sink``), and once more when writing works again,
  with how many lines were written late and how many were lost;
- a write error never reaches the caller, unless ``strict=True``: then the ``write()`` or
  :meth:`flush` that meets it raises :class:`LogWriteError` (the lines stay kept for a retry),
  and an error met by the flusher thread is raised by the caller's next flush;
- buffered lines are written when ``flush_every`` lines are waiting, when ``flush_interval_s``
  has passed since the last write (checked against the caller's clock on each ``write()``, and
  by a daemon flusher thread so a trainer that goes quiet still shows up on the dashboard), on
  :meth:`flush`, on :meth:`close`, when the sink is garbage-collected and at interpreter exit;
  the flusher thread survives any error;
- ``flush_every_line=True`` writes each line before ``write()`` returns;
- several threads may write at once (the file is written under one lock);
- after ``fork`` the child drops the parent's buffered and kept lines (the parent writes them)
  and keeps appending its own to the same file.

The hot path is :meth:`JsonlSink.append_line` (what ``CurriculumLogger.log_metrics`` calls for
each line): a deque append and two comparisons (no lock, no check of the line). The flusher
thread is stopped and joined by :meth:`close`; all state it touches lives in ``_Core``, so the
thread never keeps the sink itself alive.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import threading
import weakref
from collections import deque
from pathlib import Path

__all__ = ["MAX_PENDING_BYTES", "JsonlSink", "LogWriteError", "NullSink"]

MAX_PENDING_BYTES = 32 * 2**20
"""Default bound on the bytes of unwritten lines kept in memory for a retry (per sink)."""

_log = logging.getLogger(__name__)
_CORES: weakref.WeakSet[_Core] = weakref.WeakSet()


class LogWriteError(OSError):
    """``strict=True`` and the JSON log could not be written (disk full, I/O error...).

    The lines are kept in memory and retried at the next flush; free space (or pass
    ``strict=False`` to keep training and have write errors reported through ``logging``).
    """


def _end_torn_line(path: Path, fd: int) -> bool:
    """If a crash left the file without a final ``\\n``, end that line so ours stay whole.

    Returns False when that ``\\n`` could not be written (the caller writes it before its next
    line instead).
    """
    size = os.fstat(fd).st_size
    if size == 0:
        return True
    with open(path, "rb") as f:
        f.seek(size - 1)
        last = f.read(1)
    if last != b"\n":
        try:
            os.write(fd, b"\n")
        except OSError:
            return False
    return True


class _Core:
    """Queue, lock and file of one sink (shared with its flusher thread and finalizer).

    Writers append to a ``deque`` (atomic, so the caller pays no lock); whoever writes to the
    file holds ``lock`` and pops exactly the lines it saw, in order, so no line is lost or
    reordered however many threads write and flush at once. Lines a write could not place are
    moved to ``kept`` (older than anything in ``queue``) and go first at the next flush.
    """

    def __init__(
        self,
        path: Path,
        flush_every: int,
        flush_interval_s: float,
        *,
        strict: bool = False,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.queue: deque[bytes] = deque()
        self.flush_every = flush_every
        self.flush_interval_s = flush_interval_s
        self.strict = strict
        self.max_pending_bytes = max_pending_bytes
        self.kept: deque[bytes] = deque()
        self.kept_bytes = 0
        self.lost_lines = 0
        self.error: OSError | None = None  # set while writing fails (one failure episode)
        self.lost_at_error = 0
        self.retry_due = -math.inf
        self.fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        # True when a fragment could not be cut off: the next write starts on a fresh line.
        self.need_newline = not _end_torn_line(path, self.fd)
        # When the caller's clock next calls for a flush: -inf writes the first line at once.
        self.due = -math.inf
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def flush(self, now: float | None = None, *, raise_errors: bool = True) -> None:
        """Hand every kept and queued line to the OS in one ``write`` (looping on short writes).

        On a write error the unwritten lines are kept for the next flush; the error is raised
        (as :class:`LogWriteError`) only in strict mode and when ``raise_errors``.
        """
        with self.lock:
            if now is not None:
                self.due = now + self.flush_interval_s
            queue = self.queue
            n = len(queue)
            fd = self.fd
            if fd is None or not (n or self.kept or self.need_newline):
                return
            pop = queue.popleft
            lines = [pop() for _ in range(n)]
            if self.error is not None and now is not None and not self.strict:
                # While writing fails, the caller's flushes retry once per interval only
                # (the flusher thread retries on its own); in between they just keep lines.
                if now < self.retry_due:
                    self._keep(lines)
                    return
                self.retry_due = now + self.flush_interval_s
            if self.kept or self.need_newline or self.error is not None:
                self._write_slow(fd, lines)
            else:
                data = b"".join(lines)
                try:
                    written = os.write(fd, data)
                    if written != len(data):
                        self._write_rest(fd, lines, data, written)
                except OSError as exc:
                    self._failed(fd, lines, 0, 0, exc)
            if self.error is not None and self.strict:
                self.due = -math.inf  # the caller's next write retries (and raises) at once
                if raise_errors:
                    raise LogWriteError(
                        self.error.errno or errno.EIO,
                        f"could not write {self.path}: {self.error.strerror or self.error}; "
                        f"{len(self.kept)} lines are kept in memory and retried at the next "
                        "flush. Free space on that disk, or open the logger with strict=False "
                        "to keep training and have write errors reported through logging",
                    ) from self.error

    def _write_rest(self, fd: int, lines: list[bytes], data: bytes, written: int) -> None:
        view = memoryview(data)
        total = written
        try:
            while total < len(data):
                w = os.write(fd, view[total:])
                if w <= 0:
                    raise OSError(errno.ENOSPC, "write() wrote nothing")
                total += w
        except OSError as exc:
            self._failed(fd, lines, 0, total, exc)

    def _write_slow(self, fd: int, new_lines: list[bytes]) -> None:
        """Write kept lines, then new ones; used while a failure episode lasts."""
        kept = self.kept
        kept.extend(new_lines)
        lines = list(kept)
        kept.clear()
        self.kept_bytes = 0
        prefix = b"\n" if self.need_newline else b""
        data = prefix + b"".join(lines)
        view = memoryview(data)
        total = 0
        try:
            while total < len(data):
                w = os.write(fd, view[total:])
                if w <= 0:
                    raise OSError(errno.ENOSPC, "write() wrote nothing")
                total += w
        except OSError as exc:
            self._failed(fd, lines, len(prefix), total, exc)
            return
        self.need_newline = False
        self._recovered(len(lines))

    def _failed(self, fd: int, lines: list[bytes], prefix: int, total: int, exc: OSError) -> None:
        """``total`` bytes of ``prefix`` + ``lines`` reached the file: cut any fragment, keep
        the rest for a retry, say it once per failure episode."""
        if total >= prefix:
            self.need_newline = False
        data_done = max(0, total - prefix)
        # Whole lines written: each line ends with its only b"\n".
        done = 0
        used = 0
        for line in lines:
            if used + len(line) > data_done:
                break
            used += len(line)
            done += 1
        fragment = data_done - used
        if fragment:
            try:
                end = os.lseek(fd, 0, os.SEEK_CUR)
                if os.fstat(fd).st_size != end:  # someone appended after us: do not cut theirs
                    raise OSError(errno.EAGAIN, "the file grew after this write")
                os.ftruncate(fd, end - fragment)
            except OSError:
                self.need_newline = True
        rest = lines[done:]
        self._keep(rest)
        if self.error is None:
            self.error = exc
            self.lost_at_error = self.lost_lines
            _log.warning(
                "thalia_logging: could not write %d lines to %s (%s); keeping up to %d MiB of "
                "lines in memory and retrying at each flush, the oldest beyond that are lost "
                "and counted (said once, and again when writing recovers)",
                len(rest),
                self.path,
                exc,
                self.max_pending_bytes // 2**20,
            )
        else:
            self.error = exc

    def _keep(self, lines: list[bytes]) -> None:
        self.kept.extend(lines)
        self.kept_bytes += sum(map(len, lines))
        kept = self.kept
        while self.kept_bytes > self.max_pending_bytes and kept:
            self.kept_bytes -= len(kept.popleft())
            self.lost_lines += 1

    def _recovered(self, written: int) -> None:
        if self.error is None:
            return
        lost = self.lost_lines - self.lost_at_error
        _log.warning(
            "thalia_logging: writing to %s works again after %s; wrote %d kept lines, "
            "%d lines were lost while it failed",
            self.path,
            self.error,
            written,
            lost,
        )
        self.error = None

    def run_flusher(self) -> None:
        while not self.stop.wait(self.flush_interval_s):
            try:
                if self.queue or self.kept:
                    self.flush(raise_errors=False)
            except Exception:  # never let the thread die: the next round tries again
                _log.exception("thalia_logging: the background flush of %s failed", self.path)

    def close(self) -> int:
        """Stop the flusher, write what can be written, close; returns the lines lost."""
        self.stop.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        try:
            self.flush(raise_errors=False)
        finally:
            with self.lock:
                if self.kept:
                    _log.error(
                        "thalia_logging: closing %s with %d lines unwritten (%s); they are lost",
                        self.path,
                        len(self.kept),
                        self.error,
                    )
                    self.lost_lines += len(self.kept)
                    self.kept.clear()
                    self.kept_bytes = 0
                if self.fd is not None:
                    os.close(self.fd)
                    self.fd = None
        return self.lost_lines

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()
        self.queue.clear()
        self.kept.clear()
        self.kept_bytes = 0
        self.error = None
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
    flusher thread (stopped by :meth:`close`). ``strict`` raises :class:`LogWriteError` on a
    write error instead of keeping going; ``max_pending_bytes`` bounds the unwritten lines kept
    in memory for a retry.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_every: int = 100,
        flush_interval_s: float = 1.0,
        flush_every_line: bool = False,
        background_flush: bool = True,
        strict: bool = False,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        if isinstance(flush_every, bool) or not isinstance(flush_every, int) or flush_every < 1:
            raise ValueError(f"flush_every must be an int >= 1, got {flush_every!r}")
        if not isinstance(flush_interval_s, int | float) or not flush_interval_s > 0:
            raise ValueError(
                f"flush_interval_s must be a number of seconds > 0, got {flush_interval_s!r}"
            )
        if (
            isinstance(max_pending_bytes, bool)
            or not isinstance(max_pending_bytes, int)
            or max_pending_bytes < 0
        ):
            raise ValueError(
                f"max_pending_bytes must be an int >= 0 (bytes), got {max_pending_bytes!r}"
            )
        self.path = Path(path)
        self._core = core = _Core(
            self.path,
            1 if flush_every_line else flush_every,
            float(flush_interval_s),
            strict=bool(strict),
            max_pending_bytes=max_pending_bytes,
        )
        _CORES.add(core)
        self._closed = False
        if background_flush and not flush_every_line:
            core.thread = threading.Thread(
                target=core.run_flusher, name=f"thalia-flush:{self.path.name}", daemon=True
            )
            core.thread.start()
        # Runs on close(), on garbage collection and at interpreter exit, whichever comes first.
        self._finalizer = weakref.finalize(self, core.close)

    def append_line(self, line: bytes, now: float) -> None:
        """The hot path: queue ``line`` and flush when the count or the time says so.

        Contract: ``line`` is exactly one complete line of bytes ending with its only ``\\n``
        (``orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)``), and ``now`` the caller's
        clock in seconds (the same clock on every call). Neither is checked: the caller's cost is a
        deque append and two comparisons, no lock. A line is written once ``flush_every`` lines
        are queued or ``flush_interval_s`` has passed since the last write by that clock (the
        first line at once); otherwise it waits for the flusher thread, :meth:`flush` or
        :meth:`close`. A write error keeps the lines for a retry (see the module docstring) and
        is raised here only with ``strict=True``. Safe from several threads at once.
        """
        core = self._core
        queue = core.queue
        queue.append(line)
        if len(queue) >= core.flush_every or now >= core.due:
            core.flush(now)

    def write(self, line: bytes, now: float | None = None) -> None:
        """Queue one complete line; flush when the count or (given ``now``) the time says so.

        :meth:`append_line` is the same with ``now`` required (the hot path)."""
        core = self._core
        queue = core.queue
        queue.append(line)
        if len(queue) >= core.flush_every or (now is not None and now >= core.due):
            core.flush(now)

    def flush(self) -> None:
        """Write every buffered line to the OS now (no fsync)."""
        self._core.flush()

    def write_now(self, line: bytes) -> None:
        """Append ``line`` to the file at once, without the lock or the buffer (a signal
        handler: the interrupted thread may hold the lock); O_APPEND keeps it whole."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Flush, stop the flusher thread and close the file; calling it again does nothing.

        In strict mode, raises :class:`LogWriteError` if lines could not be written.
        """
        self._closed = True
        core = self._core
        lost_before = core.lost_lines
        error = core.error
        if self._finalizer() is not None and core.strict and core.lost_lines > lost_before:
            raise LogWriteError(
                errno.EIO,
                f"closed {self.path} with {core.lost_lines - lost_before} lines unwritten "
                f"({core.error or error}); they are lost. Free space on that disk",
            )

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """How many lines wait in the buffer or for a retry (for tests and diagnostics)."""
        core = self._core
        with core.lock:  # a flush in progress moves lines between the two
            return len(core.queue) + len(core.kept)

    @property
    def lost_lines(self) -> int:
        """Lines dropped for good: beyond ``max_pending_bytes`` while writing failed, or at close."""
        return self._core.lost_lines

    @property
    def write_error(self) -> OSError | None:
        """The last write error while writing fails; ``None`` once a write works again."""
        return self._core.error

    @property
    def core(self) -> _Core:
        """The queue, policy and file behind this sink, for tests and diagnostics only."""
        return self._core

    @property
    def flusher_thread(self) -> threading.Thread | None:
        return self._core.thread


class NullSink:
    """A sink that drops every line: ``json_log=False``, or a rank that does not write."""

    path: Path | None = None
    closed = False
    pending = 0
    lost_lines = 0
    write_error: OSError | None = None
    flusher_thread: threading.Thread | None = None

    def write(self, line: bytes, now: float | None = None) -> None:
        pass

    def append_line(self, line: bytes, now: float) -> None:
        pass

    def write_now(self, line: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
