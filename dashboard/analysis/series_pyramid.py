"""One chart series kept up to date: a column (optionally its debiased EMA) with a min/max
pyramid each (:mod:`dashboard.analysis.pyramid`).

:class:`SeriesPyramid` is updated from a new snapshot of the column and its steps. When both
start with the old ones bit for bit (the rows were only appended), it is extended from the new
rows. When they differ from some row on (a late line that added a row before the last step, a
resume that cut the rows after its step, another rank's rows), it is cut back to before that
row and extended again: the pyramids cut at once, and the EMA from the last state it kept at or
before that row (one every ``CHECK_ROWS`` rows; a debiased EMA cannot be undone). Only a change
within the first ``CHECK_ROWS`` rows rebuilds it. Results equal a fresh build on the same
column, up to the EMA's rounding (as for any extension).
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import numpy.typing as npt

from dashboard.analysis.pyramid import MinMaxPyramid, common_prefix, same_prefix, sorted_unique
from dashboard.analysis.smoothing import EmaState, ema_extend
from dashboard.reading.forget import parts
from dashboard.reading.growing import GrowingArray

__all__ = ["CHECK_ROWS", "SeriesPyramid"]

_F64 = npt.NDArray[np.float64]
_IntArray = npt.NDArray[np.intp]

#: rows between two kept EMA states (a cut goes back to the last one before it)
CHECK_ROWS = 1 << 16


class SeriesPyramid:
    """One chart series kept up to date: the values (non-finite rows skipped) with their pyramid,
    and with ``weight`` > 0 their debiased EMA (``smoothing.ema``) with its own pyramid.

    Not thread-safe by itself: callers that share one hold :attr:`lock` around an update and the
    reads that follow it."""

    def __init__(self, weight: float = 0.0) -> None:
        self.weight = weight
        self.lock = threading.Lock()
        self.rebuilds = 0
        self._start()

    def _start(self) -> None:
        smoothed = {"smoothed": np.float64} if self.weight > 0 else {}
        self.raw = MinMaxPyramid("value", {"step": np.int64, **smoothed})
        self.smooth = MinMaxPyramid("smoothed", {"step": np.int64, "value": np.float64})
        self._smoothed = GrowingArray(np.float64)
        self._ema = EmaState()
        self._kept = [(0, EmaState())]  # (rows, the EMA's state after them), every CHECK_ROWS
        self._steps: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)

    def update(self, values: _F64, steps: npt.ArrayLike | None = None) -> None:
        """Bring the series to ``values`` at ``steps`` (default: the row positions): extend
        when only rows were appended, else cut back first (see the module docstring). A long
        extension (the first build) reads the columns in parts whose pages it gives back
        (:func:`~dashboard.reading.forget.parts`)."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        steps = np.arange(values.size) if steps is None else steps
        steps = np.asarray(steps, dtype=np.int64)
        if not (same_prefix(self.raw.values, values) and same_prefix(self._steps, steps)):
            same = min(common_prefix(self.raw.values, values), common_prefix(self._steps, steps))
            self._cut_back(same)
        self._steps = steps
        for end in parts(self.raw.values.size, values.size, values, steps):
            while True:  # stop at each multiple of CHECK_ROWS: an EMA state is kept there
                stop = min(end, (self.raw.values.size // CHECK_ROWS + 1) * CHECK_ROWS)
                self._extend(values[:stop], steps[:stop])
                if stop >= end:
                    break

    def _cut_back(self, same: int) -> None:
        """Keep the first rows the new column shares (``same``), back to the last EMA state
        kept at or before them when smoothed; start again when that is none."""
        if self.weight > 0:
            same, state = next(kept for kept in reversed(self._kept) if kept[0] <= same)
            self._kept = [kept for kept in self._kept if kept[0] <= same]
            self._ema = dataclasses.replace(state)
            self._smoothed.keep(same, np.empty(0))
            self.smooth.truncate(same)
        if same == 0:
            self._start()
            self.rebuilds += 1
            return
        self.raw.truncate(same)

    def _extend(self, values: _F64, steps: npt.NDArray[np.int64]) -> None:
        old = self.raw.values.size
        columns = {"step": steps}
        if self.weight > 0:
            self._smoothed.keep(old, ema_extend(self._ema, values[old:], self.weight))
            columns["smoothed"] = self._smoothed.array
            self.smooth.extend(self._smoothed.array, {"step": steps, "value": values})
            if values.size % CHECK_ROWS == 0 and values.size > self._kept[-1][0]:
                self._kept.append((values.size, dataclasses.replace(self._ema)))
        self.raw.extend(values, columns)

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows only (an unsmoothed series: a smoothed one can go back only
        to a kept EMA state, which :meth:`update` finds)."""
        if self.weight > 0:
            raise ValueError("a smoothed series cannot be cut back: update it instead")
        self.raw.truncate(n)
        self._steps = self._steps[:n]

    @property
    def smoothed(self) -> _F64:
        """The EMA of every row so far (non-finite rows unchanged); empty without smoothing."""
        return self._smoothed.array

    def points(self, budget: int) -> dict[str, np.ndarray]:
        """The rows to draw within ``budget`` points (at least 6; 12 when smoothed), half of
        them for each line when smoothed: ``at`` (sorted positions), ``step``, ``value`` and,
        smoothed, ``smoothed``, all from the pyramids (no old row of the columns is read)."""
        if self.weight <= 0:
            return self.raw.points(max((budget - 2) // 2, 2))
        buckets = max((budget - 4) // 4, 2)
        return sorted_unique([self.raw.points(buckets), self.smooth.points(buckets)], "at")

    def picks(self, budget: int) -> _IntArray:
        """The positions of :meth:`points`."""
        return self.points(budget)["at"]
