"""Min/max bucket pyramids of growing columns, so a chart of a long run costs O(points shown).

:func:`dashboard.analysis.downsample.downsample` reads the whole series on every call. A live run
only appends rows, so :class:`MinMaxPyramid` keeps, per level ``k``, the position of the minimum
and of the maximum of every aligned block of ``2**k`` rows, and extends the levels from the rows
appended since the last call (each level from the one below: O(new rows) in all).
:meth:`MinMaxPyramid.picks` then reads one level: the finest whose blocks number at most
``buckets``, so between ``buckets / 2`` and ``buckets`` blocks. Levels below blocks of
``2**BASE_LEVEL`` rows are not kept (a series short enough to need them is read directly).

What the picks keep is what ``downsample`` promises, over row positions instead of finite
positions (the documented equivalent): the first and the last finite value, each block's finite
minimum and maximum (first occurrence on ties, as ``argmin``), so the global extremes and every
spike; non-finite rows are skipped inside their block and never picked. At most
``2 * buckets + 2`` positions; every finite row when ``buckets`` covers the series.

:class:`SeriesPyramid` keeps one chart series (a column, optionally its debiased EMA) with a
pyramid each, updated from a new snapshot of the column: when the new column starts with the old
one bit for bit (the rows were only appended) it is extended, otherwise (a cut, a late line before
the last step, another rank's rows) rebuilt. Results equal a fresh build on the same column.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from dashboard.analysis.smoothing import EmaState, ema_extend
from dashboard.reading.growing import GrowingArray

__all__ = ["BASE_LEVEL", "MinMaxPyramid", "SeriesPyramid", "same_prefix"]

_F64 = npt.NDArray[np.float64]
_IntArray = npt.NDArray[np.intp]


#: the finest level kept (blocks of 2**BASE_LEVEL rows): finer ones are only read for short
#: series, computed from the rows then, so a pyramid holds ~n/16 positions, not 2n
BASE_LEVEL = 6


class MinMaxPyramid:
    """Block extremes of one column, for appended rows only (see the module docstring).

    Assumes every :meth:`extend` gets the previous column plus rows at its end."""

    def __init__(self) -> None:
        self.values: _F64 = np.empty(0)
        self.mins: list[GrowingArray] = []  # [i]: argmin of each aligned block of 2**(BASE_LEVEL+i)
        self.maxs: list[GrowingArray] = []

    def extend(self, values: _F64) -> None:
        """Take ``values`` (the previous column plus new rows) and extend every level."""
        old_n, n = self.values.size, values.size
        self.values = values
        level = BASE_LEVEL
        while n >> level:
            size, i = 1 << level, level - BASE_LEVEL
            done, count = old_n // size, n // size
            if i == len(self.mins):
                self.mins.append(GrowingArray(np.intp))
                self.maxs.append(GrowingArray(np.intp))
            if i == 0:
                new_min, new_max = _block_extremes(values, done * size, count * size, size)
            else:
                new_min = _pairs(values, self.mins[i - 1].array, done, count, _low, np.less)
                new_max = _pairs(values, self.maxs[i - 1].array, done, count, _high, np.greater)
            self.mins[i].keep(done, new_min)
            self.maxs[i].keep(done, new_max)
            level += 1

    def picks(self, buckets: int) -> _IntArray:
        """Positions to draw with at most ``buckets`` (>= 2) blocks (see the module docstring)."""
        if buckets < 2:
            raise ValueError(f"buckets={buckets}: pass at least 2")
        y = self.values
        n = y.size
        if n <= 2 * buckets + 2:
            return np.flatnonzero(np.isfinite(y))
        level = max(1, int(np.ceil(np.log2(n / buckets))) - 1)
        while -(-n // (1 << level)) > buckets:
            level += 1
        size = 1 << level
        count = n // size
        if level < BASE_LEVEL:  # a short series: its blocks from the rows
            parts = list(_block_extremes(y, 0, count * size, size))
        else:
            i = level - BASE_LEVEL
            parts = [self.mins[i].array[:count], self.maxs[i].array[:count]]
        tail = y[count * size :]
        ok = np.flatnonzero(np.isfinite(tail))
        if ok.size:
            parts.append(count * size + ok[[np.argmin(tail[ok]), np.argmax(tail[ok])]])
        picked = np.concatenate(parts)
        picked = picked[np.isfinite(y[picked])]
        return np.unique(np.concatenate([picked, _first_last_finite(y)]))


def _block_extremes(values: _F64, start: int, end: int, size: int) -> tuple[_IntArray, _IntArray]:
    """Positions of the finite minimum and maximum of each block of ``size`` rows in
    [``start``, ``end``) (first occurrence on ties; a block without one gives any of its rows)."""
    block = values[start:end].reshape(-1, size)
    finite = np.isfinite(block)
    base = start + np.arange(block.shape[0], dtype=np.intp) * size
    lows = np.argmin(np.where(finite, block, np.inf), axis=1)
    highs = np.argmax(np.where(finite, block, -np.inf), axis=1)
    return base + lows, base + highs


def _pairs(
    values: _F64, below: _IntArray, done: int, count: int, value: Any, better: Any
) -> _IntArray:
    """Blocks ``done..count`` of a level from the pairs of blocks of the level below: the right
    one's extreme where strictly ``better`` than the left one's (so the first occurrence wins)."""
    left, right = below[2 * done : 2 * count : 2], below[2 * done + 1 : 2 * count : 2]
    return np.where(better(value(values, right), value(values, left)), right, left)


def _low(values: _F64, at: _IntArray) -> _F64:
    v = values[at]
    return np.where(np.isfinite(v), v, np.inf)


def _high(values: _F64, at: _IntArray) -> _F64:
    v = values[at]
    return np.where(np.isfinite(v), v, -np.inf)


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


def same_prefix(old: _F64, new: _F64) -> bool:
    """Whether ``new`` starts with ``old``, bit for bit (NaN payloads included)."""
    if new.size < old.size:
        return False
    if old.size == 0:
        return True
    if (
        old.__array_interface__["data"][0] == new.__array_interface__["data"][0]
        and old.strides == new.strides
    ):
        return True  # the same memory: a frame view that is only ever extended
    return bool(np.array_equal(old.view(np.int64), new[: old.size].view(np.int64)))


class SeriesPyramid:
    """One chart series kept up to date: the values (non-finite rows skipped) with their pyramid,
    and with ``weight`` > 0 their debiased EMA (``smoothing.ema``) with its own pyramid.

    Not thread-safe by itself: callers that share one hold :attr:`lock` around an update and the
    reads that follow it."""

    def __init__(self, weight: float = 0.0) -> None:
        self.weight = weight
        self.lock = threading.Lock()
        self.raw = MinMaxPyramid()
        self.smooth = MinMaxPyramid()
        self._smoothed = GrowingArray(np.float64)
        self._ema = EmaState()
        self.rebuilds = 0

    def update(self, values: _F64) -> None:
        """Bring the series to ``values`` (extend when only rows were appended, else rebuild)."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        if not same_prefix(self.raw.values, values):
            self.raw, self.smooth, self._ema = MinMaxPyramid(), MinMaxPyramid(), EmaState()
            self._smoothed = GrowingArray(np.float64)
            self.rebuilds += 1
        old = self.raw.values.size
        if values.size == old and old:
            self.raw.values = values
            return
        self.raw.extend(values)
        if self.weight > 0:
            added = ema_extend(self._ema, values[old:], self.weight)
            self._smoothed.keep(old, added)
            self.smooth.extend(self._smoothed.array)

    @property
    def smoothed(self) -> _F64:
        """The EMA of every row so far (non-finite rows unchanged); empty without smoothing."""
        return self._smoothed.array

    def picks(self, budget: int) -> _IntArray:
        """Row positions to draw within ``budget`` points (at least 6; 12 when smoothed), half
        of them for each line when smoothed."""
        if self.weight <= 0:
            return self.raw.picks(max((budget - 2) // 2, 2))
        buckets = max((budget - 4) // 4, 2)
        return np.union1d(self.raw.picks(buckets), self.smooth.picks(buckets))
