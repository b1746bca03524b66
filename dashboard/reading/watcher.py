"""RunWatcher: one live view of a checkpoint directory, shared by every browser session.

Polling is the truth, watchdog the hint: :meth:`RunWatcher.refresh` stats the files itself at
least every ``poll_interval_s``; a watchdog observer (inotify/FSEvents, or watchdog's
``PollingObserver`` when asked) only sets a dirty flag so that a change shows up at the next
refresh without waiting for the interval, and an idle refresh returns the cached state at once.
A remote directory (an fsspec URL, :mod:`dashboard.reading.remote_fs`) is only polled, every
``REMOTE_POLL_INTERVAL_S`` by default, backing off (doubling, up to ``MAX_BACKOFF_S``) while
reads fail.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from dashboard.errors import RemoteUnavailable
from dashboard.reading.console_tail import read_log_tail
from dashboard.reading.directory import DirectoryReader
from dashboard.reading.fs import FileSystem
from dashboard.reading.linebuffer import DEFAULT_MAX_LINE_BYTES
from dashboard.reading.remote_fs import (
    MAX_BACKOFF_S,
    REMOTE_POLL_INTERVAL_S,
    filesystem_for,
    is_remote,
)
from dashboard.run_state import RunState
from thalia_logging.contract import CONSOLE_LOG_NAME

__all__ = ["RunWatcher", "load_training_state"]

_log = logging.getLogger(__name__)
_IGNORED_EVENTS = frozenset((EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE))


class _DirtyHandler(FileSystemEventHandler):
    """Only sets a flag: an exception inside a handler would kill watchdog's thread."""

    def __init__(self, mark: Callable[[], None]) -> None:
        super().__init__()
        self._mark = mark

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _IGNORED_EVENTS:  # our own reads must not wake us up
            self._mark()


class RunWatcher:
    """Watches ``checkpoint_dir`` and hands out :class:`RunState` snapshots.

    ``refresh()`` returns the cached state when nothing is marked dirty and the poll interval
    (measured with ``clock``) has not elapsed; otherwise it reads the new bytes of every log file
    and the changed metadata files, and returns a new state (``version`` + 1) if anything
    changed. It never raises: an unexpected error is logged and kept in ``state.error`` while the
    previous data stays. A directory that does not exist yet gives ``exists=False`` and is picked
    up once it appears (polled; the observer is attached then). Thread-safe: one lock around
    reading; an idle refresh takes no lock. ``close()`` (or leaving the ``with`` block) stops the
    observer thread; the watcher can still be refreshed by polling afterwards. Every file read
    goes through ``fs`` (:mod:`dashboard.reading.fs`); without one, ``checkpoint_dir`` may be an
    fsspec URL (``s3://bucket/run``, opened with ``storage_options``): then no observer is started
    (polling only), ``poll_interval_s`` defaults to ``REMOTE_POLL_INTERVAL_S`` and grows while reads
    fail. A URL whose backend is missing raises :class:`~dashboard.errors.RemoteUnavailable` here.
    """

    def __init__(
        self,
        checkpoint_dir: str | os.PathLike[str],
        *,
        poll_interval_s: float | None = None,
        use_watchdog: bool = True,
        polling_observer: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        fs: FileSystem | None = None,
        storage_options: Mapping[str, Any] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        observer_factory: Callable[[], Any] | None = None,
    ) -> None:
        fs, location = (
            filesystem_for(checkpoint_dir, storage_options)
            if fs is None
            else (fs, os.fspath(checkpoint_dir))
        )
        self.remote = is_remote(location)
        self.checkpoint_dir = Path(location)
        default_s = REMOTE_POLL_INTERVAL_S if self.remote else 2.0
        self.poll_interval_s = default_s if poll_interval_s is None else poll_interval_s
        self._failures = 0  # remote reads failed in a row (the poll interval backs off)
        self._clock = clock
        self._lock = threading.Lock()
        self._fs = fs
        self._tail: tuple[tuple[int, float] | None, str | None] = (None, None)
        self._reader = DirectoryReader(
            location,
            fs=fs,
            wall_clock=wall_clock,
            max_line_bytes=max_line_bytes,
        )
        self._dirty = True
        self._next_poll = -float("inf")
        self._version = 0
        self._error: str | None = None
        self._state = RunState(
            self.checkpoint_dir, exists=False, url=location if self.remote else None
        )
        self._observer: Any = None
        self._watched = False
        if use_watchdog and not self.remote:  # no filesystem events come from a remote store
            self._start_observer(observer_factory, polling_observer)

    def _start_observer(self, factory: Callable[[], Any] | None, polling: bool) -> None:
        if factory is None and polling:
            interval = self.poll_interval_s

            def factory() -> Any:
                return PollingObserver(timeout=interval)

        self._observer = (factory or Observer)()
        self._observer.daemon = True
        self._observer.start()
        self._watch()

    @property
    def observer(self) -> Any:
        """The running watchdog observer, or None (polling only, or closed)."""
        return self._observer

    @property
    def state(self) -> RunState:
        """The last state returned by :meth:`refresh` (no I/O)."""
        return self._state

    def mark_dirty(self) -> None:
        """Make the next refresh look at the files (what a filesystem event does)."""
        self._dirty = True

    def _watch(self) -> None:
        if self._observer is None or self._watched or not self.checkpoint_dir.is_dir():
            return
        try:
            self._observer.schedule(
                _DirtyHandler(self.mark_dirty), str(self.checkpoint_dir), recursive=False
            )
            self._watched = True
        except OSError as exc:  # e.g. inotify watch limit: polling still works
            _log.warning(
                "cannot watch %s (%s); polling every %.1f s",
                self.checkpoint_dir,
                exc,
                self.poll_interval_s,
            )
            self._watched = True

    def refresh(self) -> RunState:
        """The current state; reads only new bytes, and nothing when idle."""
        if not self._dirty and self._clock() < self._next_poll:
            return self._state
        with self._lock:
            now = self._clock()
            if not self._dirty and now < self._next_poll:
                return self._state
            self._dirty = False
            try:
                changed, failed = self._reader.update(), False
                error = "; ".join(self._reader.errors) or None
                self._watch()
            except Exception as exc:  # never out of refresh(): keep the previous data
                if not isinstance(exc, RemoteUnavailable):
                    _log.exception("refreshing %s failed", self._reader.directory)
                elif not self._failures:  # expected, and it says why: once per failure streak
                    _log.warning("%s (retrying with backoff)", exc)
                changed, failed, error = False, True, f"{type(exc).__name__}: {exc}"
            # Back off only while the directory itself cannot be read (store down, no access).
            self._failures = self._failures + 1 if failed and self.remote else 0
            self._next_poll = now + self.poll_delay_s
            if error != self._error:
                self._error = error
                changed = True
            if changed:
                self._version += 1
                try:
                    self._state = self._reader.state(self._version, self._error)
                except Exception as exc:
                    _log.exception("snapshot of %s failed", self.checkpoint_dir)
                    self._error = f"{type(exc).__name__}: {exc}"
            return self._state

    @property
    def poll_delay_s(self) -> float:
        """Seconds until the next poll: ``poll_interval_s``, doubled for each remote read that
        failed in a row (up to ``MAX_BACKOFF_S``, never below ``poll_interval_s``)."""
        if not self._failures:
            return self.poll_interval_s
        backoff = max(self.poll_interval_s, 1.0) * 2 ** min(self._failures, 16)
        return max(self.poll_interval_s, min(backoff, MAX_BACKOFF_S))

    def release_memory(self) -> None:
        """Give back the pages of old rows that readers of this state faulted in (a page
        calls it after drawing; the next commit does it too): long runs' history lives in
        spill files, only the recent rows stay resident (:mod:`dashboard.reading.spill`)."""
        with self._lock:
            self._reader.release()

    def read_log_tail(self) -> str | None:
        """The tail of the run's ``console.log`` through this watcher's file system (remote
        too), re-read only when the file changed since the last call (one stat, from the
        listing a remote poll just made); None when there is none."""
        path = os.path.join(self._reader.directory, CONSOLE_LOG_NAME)
        try:
            st = self._fs.stat(path)
            key: tuple[int, float] | None = (st.st_size, st.st_mtime_ns)
        except OSError:
            key = None  # absent or refused: read_log_tail says which
        if key is None or key != self._tail[0]:
            self._tail = (key, read_log_tail(path, fs=self._fs))
        return self._tail[1]

    def close(self) -> None:
        """Stop and join the observer thread (idempotent)."""
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=10)

    def __enter__(self) -> RunWatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def load_training_state(
    checkpoint_dir: str | os.PathLike[str],
    *,
    fs: FileSystem | None = None,
    storage_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> RunState:
    """Read a checkpoint directory (a path or an fsspec URL such as ``s3://bucket/run``) once
    (no observer thread) and return its state.

    All disk access goes through ``fs`` (by default the one :func:`filesystem_for` picks, with
    ``storage_options``); ``kwargs`` go to :class:`RunWatcher` (e.g. ``max_line_bytes``). Never
    raises for bad input: a missing directory gives ``RunState(exists=False)``, an unreachable
    remote one ``state.error``; only a URL whose backend is not installed raises
    :class:`~dashboard.errors.RemoteUnavailable`.
    """
    with RunWatcher(
        checkpoint_dir, use_watchdog=False, fs=fs, storage_options=storage_options, **kwargs
    ) as watcher:
        return watcher.refresh()
