"""Giving back the pages that a one-off read of a long spilled column faulted in.

A reader of a whole spilled column (a chart's pyramid built on the first render, a scan of every
row) faults each page of it into the process's RSS, where it stays until the table's next release
(:meth:`~dashboard.reading.spill.Buffers.release`, after the page has drawn): on the first render
of a 30M-row run, every column read at once. :func:`forget` gives back the pages under one view of
a spill file, and :func:`parts` splits a long read so that each part is given back once read: a
first render then holds a part of each column at a time, not the history.

Only mappings that :mod:`dashboard.reading.spill` made and :func:`register`\\ ed are touched:
shared mappings of files, whose rows stay in the file and the page cache (``MADV_DONTNEED``);
any other array (anonymous memory, a copy) is left alone.

The same registry knows which file each mapping shows, and up to where (a fork,
:mod:`dashboard.reading.fork`, gives a mapping its own copy of the bytes after a point), so
:func:`known_equal` tells how many leading rows of two views of one column are the same bytes
without reading them: a memo that compares the column it saw with the new one (after the table
grew into a new mapping, or took a late line) then reads only the rows after that.
"""

from __future__ import annotations

import mmap
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = [
    "PART_ROWS",
    "address",
    "forget",
    "known_equal",
    "parts",
    "register",
    "set_shows_file",
    "shows_file",
]

#: Rows read before their pages are given back, in a long read (8 MiB of a float64 column).
PART_ROWS = 1 << 20

# mapping -> [where it starts, its file's token, the bytes from its start that still show the file]
_MAPPINGS: weakref.WeakKeyDictionary[mmap.mmap, list[Any]] = weakref.WeakKeyDictionary()


def register(mapping: mmap.mmap, file: object) -> None:
    """Let :func:`forget` give back pages of ``mapping`` (a shared mapping of a file), and
    :func:`known_equal` compare it with other mappings of ``file`` (a token: the same object
    for every mapping of one file, never reused)."""
    start = int(np.frombuffer(mapping, dtype=np.uint8, count=1).__array_interface__["data"][0])
    _MAPPINGS[mapping] = [start, file, -(-len(mapping) // mmap.PAGESIZE) * mmap.PAGESIZE]


def address(mapping: mmap.mmap) -> int:
    """Where a registered ``mapping`` starts in memory."""
    return int(_MAPPINGS[mapping][0])


def shows_file(mapping: mmap.mmap) -> int:
    """The bytes from the start of ``mapping`` that show its file (0 when not registered)."""
    known = _MAPPINGS.get(mapping)
    return 0 if known is None else int(known[2])


def set_shows_file(mapping: mmap.mmap, nbytes: int) -> None:
    """Record that ``mapping`` shows its file's bytes up to ``nbytes`` only (after a fork)."""
    known = _MAPPINGS[mapping]
    known[2] = min(known[2], nbytes)


def known_equal(old: np.ndarray, new: np.ndarray) -> int:
    """How many leading items of ``old`` are known to equal ``new``'s without reading them:
    both contiguous views of one dtype, at the same offset of mappings of one file, up to where
    either stops showing the file. 0 when that cannot be told (any other arrays)."""
    if old.dtype != new.dtype or not (old.flags.c_contiguous and new.flags.c_contiguous):
        return 0
    a, b = _record(old), _record(new)
    if a is None or b is None or a[1] is not b[1]:
        return 0
    offset = int(old.__array_interface__["data"][0]) - a[0]
    if offset != int(new.__array_interface__["data"][0]) - b[0]:
        return 0
    same = (min(a[2], b[2]) - offset) // old.dtype.itemsize
    return max(0, min(same, old.size, new.size))


def _record(values: np.ndarray) -> list[Any] | None:
    mapping = _mapping(values)
    return None if mapping is None else _MAPPINGS.get(mapping)


def _mapping(values: np.ndarray) -> mmap.mmap | None:
    base: object = values
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    mapping = base.obj if isinstance(base, memoryview) else base
    return mapping if isinstance(mapping, mmap.mmap) and not mapping.closed else None


def forget(values: np.ndarray) -> None:
    """Give back the resident pages wholly under ``values`` when it is a contiguous view of a
    registered mapping; a no-op for any other array."""
    mapping, known = _mapping(values), _record(values)
    if mapping is None or known is None or not values.size or not values.flags.c_contiguous:
        return
    low = int(values.__array_interface__["data"][0]) - known[0]
    first = -(-low // mmap.PAGESIZE) * mmap.PAGESIZE
    last = (low + values.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
    if 0 <= first < last <= len(mapping):
        mapping.madvise(mmap.MADV_DONTNEED, first, last - first)


def parts(start: int, stop: int, *arrays: np.ndarray, size: int | None = None) -> Iterator[int]:
    """The ends of the parts of a read of rows ``start..stop`` of ``arrays``, ``size`` rows each
    (the last one ends at ``stop``). When the read is longer than one part, the pages under each
    part of every array are given back once the caller has read it (the caller reads the part
    before asking for the next end); a short read (a live tick's new rows) keeps its pages.
    ``size`` defaults to :data:`PART_ROWS`."""
    size = PART_ROWS if size is None else size
    if stop - start <= size:
        yield stop
        return
    begin = start
    while begin < stop:
        end = min(begin + size, stop)
        yield end
        for array in arrays:
            forget(array[begin:end])
        begin = end
