"""Forking a spill file: its bytes from one offset on may be rewritten, while every mapping made
before keeps showing what it showed.

A table that takes a late line rewrites its rows from where the line lands
(:meth:`~dashboard.reading.sorted_table.SortedTable.insert`): usually a few rows from the end of a
history of millions. Views handed out before (older snapshots' frames, and the memos that hold
them to tell what changed) must keep their rows, so rows are never written under a view. Copying
the whole column into a new file would cost the history on every late line. Instead,
:func:`patch` gives a mapping a private copy of its bytes from an offset on: a small new unnamed
file holding those bytes, mapped over the same addresses (``MAP_FIXED``), so views keep their
addresses and their bytes. The table then maps the file again (a new address, which also tells
the memos comparing addresses that rows changed) and writes the new rows in place. The cost
follows the rows rewritten, not the history.

Linux only (``mmap`` with an address, through libc): :func:`can_fork` says whether it is here;
where it is not, the table rebuilds into new buffers as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["can_fork", "patch", "unnamed"]

_MAP_FIXED = 0x10  # Linux
_MAP_FAILED = ctypes.c_void_p(-1).value
_COPY_STEP = 64 << 20


def _libc_mmap() -> Callable[..., int | None] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        call = libc.mmap
    except (OSError, AttributeError):
        return None
    call.restype = ctypes.c_void_p
    call.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int)
    call.argtypes += (ctypes.c_long,)
    return call


_MMAP = _libc_mmap()


def unnamed(directory: Path) -> int:
    """A new file in ``directory`` with no name (``O_TMPFILE``, else created and unlinked)."""
    try:
        return os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except (AttributeError, OSError):  # no O_TMPFILE here (or on this file system)
        import tempfile

        fd, name = tempfile.mkstemp(prefix="table-", dir=directory)
        os.unlink(name)
        return fd


def can_fork() -> bool:
    """Whether :func:`patch` works here."""
    return _MMAP is not None


def patch(
    mapping: mmap.mmap, address: int, span: tuple[int, int], used: int, source: int, new_file: int
) -> None:
    """Give ``mapping`` (a shared mapping of the file ``source``, at ``address``) a private copy
    of its bytes in ``span`` = (start, stop): page boundaries, stop at most the mapping's end
    (rounded up to a page); the bytes after ``stop`` are already a copy. The file's bytes
    ``[start, min(used, stop))`` are copied into ``new_file`` (an empty file, closed here),
    which is then mapped over those addresses. ``OSError`` (the mapping unchanged) when the
    copy or the mapping fails."""
    start, stop = span
    try:
        if _MMAP is None:
            raise OSError("mapping at an address is not available here")
        end = -(-len(mapping) // mmap.PAGESIZE) * mmap.PAGESIZE
        if start % mmap.PAGESIZE or stop % mmap.PAGESIZE or not 0 <= start < stop <= end:
            raise ValueError(f"span={span}: page boundaries inside the mapping")
        os.ftruncate(new_file, stop - start)
        _copy(source, new_file, start, max(0, min(used, stop) - start))
        flags = mmap.MAP_SHARED | _MAP_FIXED
        prot = mmap.PROT_READ | mmap.PROT_WRITE
        got = _MMAP(address + start, stop - start, prot, flags, new_file, 0)
        if got is None or got == _MAP_FAILED or got != address + start:
            err = ctypes.get_errno()
            raise OSError(err, f"mmap over a spill mapping failed: {os.strerror(err)}")
    finally:
        os.close(new_file)


def _copy(source: int, target: int, offset: int, count: int) -> None:
    """Copy ``count`` bytes of ``source`` from ``offset`` to the start of ``target``."""
    done = 0
    while done < count:
        step = min(_COPY_STEP, count - done)
        data = os.pread(source, step, offset + done)
        if not data:
            raise OSError(f"the spill file ended at {offset + done} bytes")
        os.pwrite(target, data, done)
        done += len(data)
