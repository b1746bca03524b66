"""Min/max bucket pyramids of growing columns, so a chart of a long run costs O(points shown).

:func:`dashboard.analysis.downsample.downsample` reads the whole series on every call. A live run
only appends rows, so :class:`MinMaxPyramid` keeps, per level ``k``, the position of the minimum
and of the maximum of every aligned block of ``2**k`` rows, and extends the levels from the rows
appended since the last call (each level from the one below: O(new rows) in all).
:meth:`MinMaxPyramid.points` then reads one level: the finest whose blocks number at most
``buckets``, so between ``buckets / 2`` and ``buckets`` blocks. Levels below blocks of
``2**BASE_LEVEL`` rows are not kept (a series short enough to need them is read directly).

What the picks keep is what ``downsample`` promises, over row positions instead of finite
positions (the documented equivalent): the first and the last finite value, each block's finite
minimum and maximum (first occurrence on ties, as ``argmin``), so the global extremes and every
spike; non-finite rows are skipped inside their block and never picked. At most
``2 * buckets + 2`` positions; every finite row when ``buckets`` covers the series. Each extreme
keeps its value and the carried columns' values at its row (a chart's step, the other line), so
drawing reads the levels and the last rows only: never the old rows of a column, which for a long
run are pages of a spill file (:mod:`dashboard.reading.spill`) that each scattered read faults in.

:class:`~dashboard.analysis.series_pyramid.SeriesPyramid` keeps one chart series with a
pyramid (two when smoothed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from dashboard.reading.forget import known_equal, parts
from dashboard.reading.growing import GrowingArray

__all__ = [
    "BASE_LEVEL",
    "MinMaxPyramid",
    "common_prefix",
    "prefix_root",
    "same_prefix",
    "sorted_unique",
]

_F64 = npt.NDArray[np.float64]
_IntArray = npt.NDArray[np.intp]


#: the finest level kept: shorter series (under ~2**BASE_LEVEL x buckets rows, all resident) are
#: read directly, so a pyramid holds ~n/64 records of 3-4 numbers, not 2n
BASE_LEVEL = 8


class MinMaxPyramid:
    """Block extremes of one column, for appended rows only (see the module docstring).

    Each extreme keeps its row position (``at``), its value (under the name ``key``) and the
    ``carried`` columns' values at its row, so :meth:`points` reads the levels and the last rows,
    never the columns' old rows (scattered reads of a spilled column would fault pages in).
    Assumes every :meth:`extend` gets the previous columns plus rows at their end."""

    def __init__(self, key: str = "value", carried: dict[str, Any] | None = None) -> None:
        self.key = key
        self.dtypes = {"at": np.dtype(np.intp), key: np.dtype(np.float64)}
        self.dtypes |= {name: np.dtype(dtype) for name, dtype in (carried or {}).items()}
        self.values: _F64 = np.empty(0)
        self.columns: dict[str, np.ndarray] = {}
        # [i]: the minimum (maximum) of each aligned block of 2**(BASE_LEVEL+i) rows
        self.mins: list[_Extremes] = []
        self.maxs: list[_Extremes] = []

    def extend(self, values: _F64, columns: dict[str, np.ndarray] | None = None) -> None:
        """Take ``values`` and the carried ``columns`` (the previous ones plus new rows) and
        extend every level."""
        old_n, n = self.values.size, values.size
        self.values = values
        self.columns = {name: (columns or {})[name] for name in list(self.dtypes)[2:]}
        level = BASE_LEVEL
        while n >> level:
            size, i = 1 << level, level - BASE_LEVEL
            done, count = old_n // size, n // size
            if i == len(self.mins):
                self.mins.append(_Extremes(self.dtypes, self.key))
                self.maxs.append(_Extremes(self.dtypes, self.key))
            if count == done:  # no block of this level completed since (nor of the ones above)
                break
            if i == 0:
                lows, highs = _block_extremes(values, done * size, count * size, size)
                new_min, new_max = self._rows(lows), self._rows(highs)
            else:
                new_min = self.mins[i - 1].pairs(done, count, np.less, np.inf)
                new_max = self.maxs[i - 1].pairs(done, count, np.greater, -np.inf)
            self.mins[i].keep(done, new_min)
            self.maxs[i].keep(done, new_max)
            level += 1

    def _rows(self, at: _IntArray) -> dict[str, np.ndarray]:
        """The record of the rows ``at``, read from the columns."""
        out = {name: column[at] for name, column in self.columns.items()}
        out["at"], out[self.key] = at, self.values[at]
        return out

    def points(self, buckets: int) -> dict[str, np.ndarray]:
        """The rows to draw with at most ``buckets`` (>= 2) blocks (see the module docstring),
        as a record: ``at`` (sorted positions), the key and the carried columns at them."""
        if buckets < 2:
            raise ValueError(f"buckets={buckets}: pass at least 2")
        y = self.values
        n = y.size
        if n <= 2 * buckets + 2:
            return self._rows(np.flatnonzero(np.isfinite(y)))
        level = max(1, int(np.ceil(np.log2(n / buckets))) - 1)
        while -(-n // (1 << level)) > buckets:
            level += 1
        size = 1 << level
        count = n // size
        if level < BASE_LEVEL:  # a short series: its blocks from the rows
            parts = [self._rows(at) for at in _block_extremes(y, 0, count * size, size)]
        else:
            parts = [self.mins[level - BASE_LEVEL].first(count)]
            parts.append(self.maxs[level - BASE_LEVEL].first(count))
        tail = y[count * size :]
        ok = np.flatnonzero(np.isfinite(tail))
        if ok.size:
            parts.append(self._rows(count * size + ok[[np.argmin(tail[ok]), np.argmax(tail[ok])]]))
        parts.append(self._rows(_first_last_finite(y)))
        return sorted_unique(parts, keep=self.key)

    def picks(self, buckets: int) -> _IntArray:
        """The positions of :meth:`points`."""
        return self.points(buckets)["at"]

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows only (each level's blocks that end by then); the next
        :meth:`extend` goes on from there."""
        self.values = self.values[:n]
        self.columns = {name: column[:n] for name, column in self.columns.items()}
        for i, (low, high) in enumerate(zip(self.mins, self.maxs, strict=True)):
            low.cut(n >> (BASE_LEVEL + i))
            high.cut(n >> (BASE_LEVEL + i))


class _Extremes:
    """The minima (or maxima) of one level: per block, the record of its extreme row (the
    pyramid's ``dtypes``: ``at``, the key, the carried columns), each a :class:`GrowingArray`
    so a long level spills like the columns do."""

    def __init__(self, dtypes: dict[str, np.dtype], key: str) -> None:
        self.key = key
        self.parts = {name: GrowingArray(dtype) for name, dtype in dtypes.items()}

    def keep(self, done: int, new: dict[str, np.ndarray]) -> None:
        for name, part in self.parts.items():
            part.keep(done, new[name])

    def cut(self, count: int) -> None:
        for part in self.parts.values():
            part.keep(min(count, part.size), np.empty(0, dtype=part.dtype))

    def first(self, count: int) -> dict[str, np.ndarray]:
        return {name: part.array[:count] for name, part in self.parts.items()}

    def pairs(self, done: int, count: int, better: Any, missing: float) -> dict[str, np.ndarray]:
        """Blocks ``done..count`` of the level above, from the pairs of blocks here: the right
        one's extreme where its key is strictly ``better`` than the left one's (so the first
        occurrence wins ties; a non-finite key counts as ``missing``)."""
        left = {name: p.array[2 * done : 2 * count : 2] for name, p in self.parts.items()}
        right = {name: p.array[2 * done + 1 : 2 * count : 2] for name, p in self.parts.items()}
        take = better(_finite_or(right[self.key], missing), _finite_or(left[self.key], missing))
        return {name: np.where(take, right[name], left[name]) for name in self.parts}


def _finite_or(values: _F64, missing: float) -> _F64:
    return np.where(np.isfinite(values), values, missing)


def sorted_unique(parts: list[dict[str, np.ndarray]], keep: str) -> dict[str, np.ndarray]:
    """The records in ``parts`` with a finite ``keep``, once per position, sorted by it."""
    merged = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    finite = np.isfinite(merged[keep])
    _, first = np.unique(merged["at"][finite], return_index=True)
    return {name: column[finite][first] for name, column in merged.items()}


def _block_extremes(values: _F64, start: int, end: int, size: int) -> tuple[_IntArray, _IntArray]:
    """Positions of the finite minimum and maximum of each block of ``size`` rows in
    [``start``, ``end``) (first occurrence on ties; a block without one gives any of its rows)."""
    block = values[start:end].reshape(-1, size)
    finite = np.isfinite(block)
    base = start + np.arange(block.shape[0], dtype=np.intp) * size
    lows = np.argmin(np.where(finite, block, np.inf), axis=1)
    highs = np.argmax(np.where(finite, block, -np.inf), axis=1)
    return base + lows, base + highs


def _first_last_finite(y: _F64) -> _IntArray:
    """The positions of the first and last finite values (scanning windows from each end)."""
    out: list[int] = []
    for forward in (True, False):
        window = 64
        while True:
            part = y[:window] if forward else y[max(0, y.size - window) :]
            ok = np.flatnonzero(np.isfinite(part))
            if ok.size:
                out.append(int(ok[0]) if forward else y.size - part.size + int(ok[-1]))
                break
            if window >= y.size:
                break
            window *= 16
    return np.asarray(out, dtype=np.intp)


def common_prefix(old: np.ndarray, new: np.ndarray) -> int:
    """How many leading items ``old`` and ``new`` share, bit for bit (8-byte items), reading
    only what two views of one spill file are not known to share (two mappings of one file are
    equal up to where either forked), in parts, up to the first that differs."""
    n = min(old.size, new.size)
    start = known_equal(old[:n], new[:n])
    a, b = old[:n].view(np.int64), new[:n].view(np.int64)
    for end in parts(start, n, a, b):  # a long read (a rebuilt table): pages given back
        differ = np.flatnonzero(a[start:end] != b[start:end])
        if differ.size:
            return start + int(differ[0])
        start = end
    return n


def same_prefix(old: np.ndarray, new: np.ndarray) -> bool:
    """Whether ``new`` starts with ``old``, bit for bit (8-byte items: NaN payloads included)."""
    if new.size < old.size:
        return False
    if old.size == 0:
        return True
    if (
        old.__array_interface__["data"][0] == new.__array_interface__["data"][0]
        and old.strides == new.strides
    ):
        return True  # the same memory: a frame view that is only ever extended
    return common_prefix(old, new) == old.size


def prefix_root(values: np.ndarray) -> np.ndarray | None:
    """The buffer ``values`` views from its first item on, contiguously (a reader frame's column:
    rows are only ever appended after it), so a memo may be keyed by it; None for any other
    array (a slice, a strided or copied column)."""
    root = values
    while isinstance(root.base, np.ndarray):
        root = root.base
    if values.strides != (values.itemsize,) or values.ctypes.data != root.ctypes.data:
        return None
    return root
