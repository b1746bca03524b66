"""The sink of segment mode (see :mod:`.segments` for the files and the trade-off) and the
outputs a logger in segment mode opens.

:class:`SegmentSink` has :class:`~thalia_logging.sink.JsonlSink`'s interface (``append_line``,
``write``, ``flush``, ``close``, ``pending``, ``lost_lines``, ``write_error``, ``write_now``), so
the logger's hot path is the same call: a deque append, a byte count and two comparisons.
"""

from __future__ import annotations

import errno
import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from .console import ConsoleLog
from .contract import segment_name
from .outputs import Outputs
from .ranks import RankPlan
from .segments import (
    DEFAULT_SEGMENT_EVERY_S,
    DEFAULT_SEGMENT_MAX_BYTES,
    Store,
    is_url,
    last_segment_step,
    segment_numbers,
    store_for,
)
from .sink import MAX_PENDING_BYTES, LogWriteError, NullSink
from .values import check_step

__all__ = ["SegmentSink", "open_segment_outputs"]

_log = logging.getLogger(__name__)


class SegmentSink:
    """Writes rank ``rank``'s lines to ``store`` as numbered segments (module docstring).

    ``every_s``: seconds after its first line that a segment is closed (by the caller's clock on
    each line, and by the background thread on the monotonic clock when the trainer is quiet);
    ``max_bytes``: size at which it is closed. Numbers start after the highest one in the store.
    """

    def __init__(
        self,
        store: Store,
        rank: int = 0,
        *,
        every_s: float = DEFAULT_SEGMENT_EVERY_S,
        max_bytes: int = DEFAULT_SEGMENT_MAX_BYTES,
        background_flush: bool = True,
        strict: bool = False,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        if not isinstance(every_s, int | float) or not every_s > 0:
            raise ValueError(f"segment_every_s must be seconds > 0, got {every_s!r}")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"segment_max_bytes must be an int >= 1, got {max_bytes!r}")
        self.store, self.rank = store, rank
        self.every_s, self.max_bytes = float(every_s), max_bytes
        self.strict, self.max_pending_bytes = strict, max_pending_bytes
        self._numbers = itertools.count(max(segment_numbers(store, rank), default=-1) + 1)
        self._queue: deque[bytes] = deque()
        self._bytes = 0
        self._first = math.inf  # caller's clock at the open segment's first line
        self._first_mono = math.inf
        self._kept: deque[bytes] = deque()  # lines a failed put left, oldest first
        self._retry_mono = -math.inf
        self._lock = threading.Lock()
        self.lost_lines = 0
        self.write_error: OSError | None = None
        self.segments_written = 0
        self.closed = False
        self._stop = threading.Event()
        self.flusher_thread: threading.Thread | None = None
        if background_flush:
            self.flusher_thread = threading.Thread(
                target=self._run, name=f"thalia-segments:rank{rank}", daemon=True
            )
            self.flusher_thread.start()

    @property
    def path(self) -> str:
        """Where the next segment goes (for messages)."""
        return segment_name(self.rank, 0).replace("000000", "NNNNNN")

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue) + len(self._kept)

    def append_line(self, line: bytes, now: float) -> None:
        """The hot path: queue one whole line; close the segment when it is due by size or by
        ``now`` (the caller's clock)."""
        self._queue.append(line)
        self._bytes += len(line)
        if self._first == math.inf:
            self._first, self._first_mono = now, time.monotonic()
        if self._bytes >= self.max_bytes or now - self._first >= self.every_s:
            self.flush()

    def write(self, line: bytes, now: float | None = None) -> None:
        self.append_line(line, time.time() if now is None else now)

    def flush(self) -> None:
        """Close the open segment now: its lines (and any kept after a failure) as one object."""
        with self._lock:
            n = len(self._queue)
            lines = [self._queue.popleft() for _ in range(n)]
            if self._queue:  # appended meanwhile: they start the next segment's clock
                self._bytes, self._first_mono = sum(map(len, self._queue)), time.monotonic()
            else:
                self._bytes, self._first, self._first_mono = 0, math.inf, math.inf
            if not lines and not self._kept:
                return
            data = b"".join([*self._kept, *lines])
            try:
                self.store.put(segment_name(self.rank, next(self._numbers)), data)
            except OSError as exc:
                self._failed(lines, exc)
                if self.strict:
                    raise LogWriteError(
                        exc.errno or errno.EIO,
                        f"could not write a log segment ({exc}); the lines are kept for a retry",
                    ) from exc
                return
            if self.write_error is not None:
                _log.warning("thalia_logging: log segments are written again")
            self._kept.clear()
            self.write_error = None
            self.segments_written += 1

    def _failed(self, lines: list[bytes], exc: OSError) -> None:
        if self.write_error is None:
            _log.warning(
                "thalia_logging: could not write a log segment (%s); lines kept and retried",
                exc,
            )
        self.write_error = exc
        self._retry_mono = time.monotonic() + self.every_s  # the thread retries once per interval
        self._kept.extend(lines)
        size = sum(map(len, self._kept))
        while self._kept and size > self.max_pending_bytes:
            size -= len(self._kept.popleft())
            self.lost_lines += 1

    def write_now(self, line: bytes) -> None:
        """Write ``line`` as a segment of its own without the lock (a signal handler: the
        interrupted thread may hold it). Numbers are never shared (one counter)."""
        self.store.put(segment_name(self.rank, next(self._numbers)), line)

    def _run(self) -> None:
        while not self._stop.wait(min(1.0, self.every_s / 4)):
            now = time.monotonic()
            if now - self._first_mono >= self.every_s or (self._kept and now >= self._retry_mono):
                try:
                    self.flush()
                except Exception as exc:  # the thread survives any error
                    _log.debug("segment flush failed: %s", exc)

    def close(self) -> None:
        """Close the last segment, stop the thread; calling it again does nothing."""
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        if self.flusher_thread is not None:
            self.flusher_thread.join(timeout=30)
        try:
            self.flush()
        finally:
            if self._kept:  # the store still refuses: these lines are lost, and said so
                _log.warning(
                    "thalia_logging: closed with %d lines unwritten (%s); they are lost",
                    len(self._kept),
                    self.write_error,
                )
                self.lost_lines += len(self._kept)
                self._kept.clear()


def open_segment_outputs(
    log_dir: str | Path,
    plan: RankPlan,
    *,
    segment_every_s: float | None,
    segment_max_bytes: int | None,
    storage_options: Mapping[str, Any] | None,
    console_log: bool,
    file_log: bool,
    json_log: bool,
    resumed_from_step: object | None,
    background_flush: bool,
    strict: bool,
    max_pending_bytes: int,
    console_every: int,
    console_stream: IO[str] | None,
    fsync: bool = True,
) -> tuple[Outputs, Store]:
    """Like :func:`~thalia_logging.outputs.open_outputs`, for segment mode: the outputs and the
    store (metadata of a remote run goes there too). ``console.log`` is written only locally."""
    store = store_for(log_dir, storage_options, fsync=fsync)
    remote = is_url(log_dir)
    if not remote and (json_log or plan.writes_metadata):
        Path(log_dir).mkdir(parents=True, exist_ok=True)
    writes = json_log and plan.log_name is not None
    resumed = check_step(resumed_from_step) if resumed_from_step is not None else None
    if resumed is None and writes:
        resumed = last_segment_step(store, plan.rank)
    sink: Any = None
    if writes:
        sink = SegmentSink(
            store,
            plan.rank,
            every_s=DEFAULT_SEGMENT_EVERY_S if segment_every_s is None else segment_every_s,
            max_bytes=segment_max_bytes or DEFAULT_SEGMENT_MAX_BYTES,
            background_flush=background_flush,
            strict=strict,
            max_pending_bytes=max_pending_bytes,
        )
    try:
        console = ConsoleLog(
            "." if remote else log_dir,
            console=console_log and plan.console,
            file_log=file_log and plan.writes_console_file and not remote,
            every=console_every,
            prefix=f"[rank {plan.rank}] " if plan.rank_field is not None else "",
            stream=console_stream,
        )
    except BaseException:
        if sink is not None:
            sink.close()
        raise
    log_path = Path(str(log_dir)) / sink.path if sink is not None else None
    return Outputs(log_path, sink or NullSink(), console, resumed), store
