"""Spill: a table's big numeric buffers as shared mappings of unnamed files, old rows out of RSS.

A :class:`Buffers` holds the numeric columns of one
:class:`~dashboard.reading.sorted_table.SortedTable`: numpy buffers of ``cap`` rows. A buffer of
at least ``min_bytes`` is a ``MAP_SHARED`` mapping of its own file in the spill directory (outside
any checkpoint directory): the file is created unnamed (``O_TMPFILE``; where that is missing,
created and unlinked at once), so nothing is ever left behind, even after a crash. The file is
sparse: capacity is address space, and growing it is a ``ftruncate`` and a new mapping of the
same file (no copy; older mappings keep showing their rows). Disk space is reserved
(``posix_fallocate``) before rows are written, so a full disk is an ``OSError`` here, never a
``SIGBUS`` on a write.

:meth:`Buffers.release` gives the pages of rows older than the last ``recent_rows`` back
(``MADV_DONTNEED``: for a shared file mapping the data stays in the file and page cache, out of
the process's RSS) and faults them back in when someone reads old rows. Frames stay numpy views
of the same mappings, so nothing above this module sees a difference.

Settings (read when a table is made): ``THALIA_DASHBOARD_SPILL_DIR`` = a directory, or ``off``
(everything in anonymous memory); by default ``$XDG_CACHE_HOME`` (else ``~/.cache``)
``/thalia-dashboard/spill``. ``THALIA_DASHBOARD_SPILL_MIN_BYTES`` and
``THALIA_DASHBOARD_SPILL_RECENT_ROWS`` tune the threshold and the resident window (tests force
spilling with tiny ones). A spill directory that cannot be used, or a disk that fills up, moves
the buffer to anonymous memory and says so in :attr:`Buffers.notes`; reading goes on. Where
disk space cannot be reserved (no ``posix_fallocate``: macOS, Windows), nothing spills.
"""

from __future__ import annotations

import logging
import mmap
import os
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dashboard.reading.forget import address, register, set_shows_file, shows_file
from dashboard.reading.fork import patch, unnamed

__all__ = [
    "MIN_BYTES_ENV",
    "RECENT_ROWS",
    "RECENT_ROWS_ENV",
    "SPILL_DIR_ENV",
    "SPILL_MIN_BYTES",
    "Buffers",
    "SpillFile",
    "SpillPolicy",
    "anonymous",
]

SPILL_DIR_ENV = "THALIA_DASHBOARD_SPILL_DIR"
MIN_BYTES_ENV = "THALIA_DASHBOARD_SPILL_MIN_BYTES"
RECENT_ROWS_ENV = "THALIA_DASHBOARD_SPILL_RECENT_ROWS"
#: Buffers smaller than this stay in anonymous memory.
SPILL_MIN_BYTES = 4 << 20
#: Rows at the end of a table whose pages stay resident (live appends and recent charts).
RECENT_ROWS = 1 << 18
_ALLOCATE_STEP = 8 << 20  # disk reserved ahead of the rows written, per file
_OFF = frozenset({"off", "0", "no", "none", "false"})
_MAPPED_BYTES = 1 << 20
_log = logging.getLogger(__name__)
# Without a way to reserve disk space (macOS, Windows), a full disk would be a SIGBUS: no spill.
_CAN_SPILL = hasattr(os, "posix_fallocate") and hasattr(mmap, "MADV_DONTNEED")


def _fallocate(fd: int, offset: int, length: int) -> None:
    os.posix_fallocate(fd, offset, length)


def anonymous(n: int, dtype: np.dtype) -> np.ndarray:
    """An uninitialised buffer in anonymous memory; a big one in its own mapping, so that its
    memory goes back to the system when the last view of it goes and untouched room costs
    nothing."""
    nbytes = n * dtype.itemsize
    if nbytes < _MAPPED_BYTES:
        return np.empty(n, dtype=dtype)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype, count=n)


@dataclass(frozen=True)
class SpillPolicy:
    """Where buffers spill (None: nowhere), from which size, how many rows stay resident, and
    how disk space is reserved (``os.posix_fallocate``; a test hands in a full disk)."""

    directory: Path | None
    min_bytes: int = SPILL_MIN_BYTES
    recent_rows: int = RECENT_ROWS
    reserve: Callable[[int, int, int], None] = field(default=_fallocate, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SpillPolicy:
        raw = environ.get(SPILL_DIR_ENV, "").strip()
        if raw.lower() in _OFF or not _CAN_SPILL:
            directory = None
        elif raw:
            directory = Path(raw).expanduser()
        else:
            cache = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
            directory = Path(cache) / "thalia-dashboard" / "spill"
        return cls(
            directory,
            _int(environ, MIN_BYTES_ENV, SPILL_MIN_BYTES),
            _int(environ, RECENT_ROWS_ENV, RECENT_ROWS),
        )


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    try:
        return max(0, int(environ.get(name, default)))
    except ValueError:
        _log.warning("%s=%r is not a whole number; using %d", name, environ.get(name), default)
        return default


class SpillFile:
    """One unnamed file in ``directory`` and the mappings made of it (the newest is
    :attr:`current`). Raises ``OSError`` when the file cannot be made."""

    def __init__(
        self, directory: Path, reserve: Callable[[int, int, int], None] = _fallocate
    ) -> None:
        self._reserve = reserve
        self._directory = directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._fd = unnamed(directory)
        self._finalizer = weakref.finalize(self, os.close, self._fd)
        self._token = object()  # names the file to the mapping registry (not self: no cycle)
        self.size = 0  # bytes mapped
        self.allocated = 0  # bytes with disk space reserved
        self.current: mmap.mmap | None = None
        self._old: list[weakref.ref[mmap.mmap]] = []

    def map(self, nbytes: int) -> mmap.mmap:
        """A mapping of the first ``nbytes`` (the file grows sparse to that size)."""
        if nbytes > self.size:
            os.ftruncate(self._fd, nbytes)
            self.size = nbytes
        if self.current is not None:
            self._old = [r for r in self._old if r() is not None]
            self._old.append(weakref.ref(self.current))
        self.current = mmap.mmap(self._fd, nbytes, mmap.MAP_SHARED)
        register(self.current, self._token)  # readers may give pages back; memos compare
        return self.current

    def fork(self, keep: int, used: int) -> None:
        """Let the bytes from ``keep`` on be rewritten (``used``: the bytes holding rows): each
        mapping made so far gets a private copy of its bytes from the page holding ``keep``
        (:func:`~dashboard.reading.fork.patch`), so its views keep their rows; map the file
        again to write. ``OSError`` when that fails (the mappings patched before stay right)."""
        start = keep // mmap.PAGESIZE * mmap.PAGESIZE
        alive = [m for m in (*(r() for r in self._old), self.current) if m is not None]
        for mapping in alive:
            shared = shows_file(mapping)  # the bytes after it: a copy already
            if shared > start and not mapping.closed:
                fd = unnamed(self._directory)
                patch(mapping, address(mapping), (start, shared), used, self._fd, fd)
                set_shows_file(mapping, start)

    def allocate(self, nbytes: int) -> None:
        """Reserve disk space for the first ``nbytes`` (a step ahead); ``OSError`` if the disk
        is full."""
        if nbytes <= self.allocated:
            return
        end = min(self.size, max(nbytes, self.allocated + _ALLOCATE_STEP))
        self._reserve(self._fd, self.allocated, end - self.allocated)
        self.allocated = end

    def release(self, nbytes: int) -> None:
        """Give back the resident pages of the first ``nbytes`` of the current mapping and
        every page of the older mappings still alive (views of them fault pages back in)."""
        for ref in self._old:
            old = ref()
            if old is not None and not old.closed:
                old.madvise(mmap.MADV_DONTNEED)
        end = min(nbytes, self.size) // mmap.PAGESIZE * mmap.PAGESIZE
        if end > 0 and self.current is not None:
            self.current.madvise(mmap.MADV_DONTNEED, 0, end)


class Buffers:
    """The numeric columns of one table (``arrays``: column -> buffer of ``cap`` rows), big ones
    spilled (see the module docstring). Not thread-safe (the table's caller holds a lock)."""

    def __init__(self, policy: SpillPolicy | None = None) -> None:
        self.policy = policy if policy is not None else SpillPolicy.from_env()
        self.arrays: dict[str, np.ndarray] = {}
        self.cap = 0
        self.notes: list[str] = []  # why buffers stayed in anonymous memory
        self._files: dict[str, SpillFile] = {}

    @property
    def spilled(self) -> tuple[str, ...]:
        """The columns whose buffer is a spill file."""
        return tuple(self._files)

    def grow(self, cap: int, n: int, *, fresh: bool = False) -> None:
        """Buffers of ``cap`` rows holding the first ``n`` rows; ``fresh``: all new buffers
        (views handed out keep the old ones). A spilled buffer grows in its own file."""
        old, files = self.arrays, {} if fresh else self._files
        self.arrays, self._files, self.cap = {}, {}, cap
        for col in list(old):
            buf = old.pop(col)  # dropped one by one: at most one column is held twice
            file = files.get(col)
            if file is not None:
                try:
                    self.arrays[col] = self._view(file, cap, buf.dtype)
                    self._files[col] = file
                    continue
                except OSError as exc:  # then copied into memory below
                    self._fall_back(f"the spill file cannot grow ({exc})")
            new = self.add(col, buf.dtype, n)
            new[:n] = buf[:n]

    def fork(self, row: int, n: int) -> None:
        """Let rows from ``row`` on (of ``n``) be rewritten, every view handed out keeping its
        rows: a spilled buffer's file forks (:meth:`SpillFile.fork`) and is mapped again, one
        in memory is copied (its first ``row`` rows) into a new one. ``OSError``: a file could
        not fork (then rebuild into new buffers)."""
        for col, buf in list(self.arrays.items()):
            file = self._files.get(col)
            if file is None:
                new = anonymous(self.cap, buf.dtype)
                new[:row] = buf[:row]
                self.arrays[col] = new
                continue
            file.fork(row * buf.dtype.itemsize, n * buf.dtype.itemsize)
            self.arrays[col] = self._view(file, self.cap, buf.dtype)

    def add(self, col: str, dtype: np.dtype, rows: int) -> np.ndarray:
        """A new buffer of ``cap`` rows for ``col`` (uninitialised), ready for its first
        ``rows`` rows to be written."""
        buf = self._spilled(col, dtype, rows)
        if buf is None:
            buf = anonymous(self.cap, dtype)
        self.arrays[col] = buf
        return buf

    def ensure(self, rows: int, valid: int) -> None:
        """Disk space for the first ``rows`` rows of every spilled buffer before they are
        written; where there is none, the buffer moves (its first ``valid`` rows copied) to
        anonymous memory and spilling stops for this table."""
        for col, file in list(self._files.items()):
            buf = self.arrays[col]
            try:
                file.allocate(rows * buf.dtype.itemsize)
            except OSError as exc:
                self._fall_back(f"no disk space for the spill file ({exc})")
                new = anonymous(self.cap, buf.dtype)
                new[:valid] = buf[:valid]
                self.arrays[col] = new
                del self._files[col]

    def release(self, n: int) -> None:
        """Give back the pages of rows before the last ``recent_rows`` of ``n``."""
        old = n - self.policy.recent_rows
        if old <= 0:
            return
        for col, file in self._files.items():
            file.release(old * self.arrays[col].dtype.itemsize)

    def _view(self, file: SpillFile, cap: int, dtype: np.dtype) -> np.ndarray:
        return np.frombuffer(file.map(max(cap * dtype.itemsize, 1)), dtype=dtype, count=cap)

    def _spilled(self, col: str, dtype: np.dtype, rows: int) -> np.ndarray | None:
        """A spilled buffer for ``col`` with disk space for ``rows`` rows, or None (too small,
        spilling off, or it failed: said once)."""
        directory = self.policy.directory
        if directory is None or self.cap * dtype.itemsize < max(self.policy.min_bytes, 1):
            return None
        try:
            file = SpillFile(directory, self.policy.reserve)
        except OSError as exc:
            self._fall_back(f"cannot use the spill directory {directory} ({exc})")
            return None
        try:
            buf = self._view(file, self.cap, dtype)
            file.allocate(rows * dtype.itemsize)
        except OSError as exc:
            self._fall_back(f"no disk space for the spill file ({exc})")
            return None
        self._files[col] = file
        return buf

    def _fall_back(self, why: str) -> None:
        if not self.notes:
            note = (
                f"{why}: the run's history is kept in memory instead (set "
                f"{SPILL_DIR_ENV} to a writable directory with free space)"
            )
            _log.warning("%s", note)
            self.notes.append(note)
        self.policy = SpillPolicy(None, self.policy.min_bytes, self.policy.recent_rows)
