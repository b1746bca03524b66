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
"""

from __future__ import annotations

import mmap
import weakref
from collections.abc import Iterator

import numpy as np

__all__ = ["PART_ROWS", "address", "forget", "parts", "register"]

#: Rows read before their pages are given back, in a long read (8 MiB of a float64 column).
PART_ROWS = 1 << 20

_MAPPINGS: weakref.WeakKeyDictionary[mmap.mmap, int] = weakref.WeakKeyDictionary()


def register(mapping: mmap.mmap) -> None:
    """Let :func:`forget` give back pages of ``mapping`` (a shared mapping of a file)."""
    _MAPPINGS[mapping] = address(mapping)


def address(mapping: mmap.mmap) -> int:
    """Where ``mapping`` starts in memory."""
    known = _MAPPINGS.get(mapping)
    if known is not None:
        return known
    probe = np.frombuffer(mapping, dtype=np.uint8, count=1)
    return int(probe.__array_interface__["data"][0])


def forget(values: np.ndarray) -> None:
    """Give back the resident pages wholly under ``values`` when it is a contiguous view of a
    registered mapping; a no-op for any other array."""
    base: object = values
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    mapping = base.obj if isinstance(base, memoryview) else base
    if not isinstance(mapping, mmap.mmap) or not values.size or not values.flags.c_contiguous:
        return
    start = _MAPPINGS.get(mapping)
    if start is None or mapping.closed:
        return
    low = int(values.__array_interface__["data"][0]) - start
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
