"""Where a growing step series changes value, kept across refreshes (pure numpy).

A step line (neurons per region) is drawn losslessly by the rows where its value changes, plus its
first and last row. :class:`ChangePoints` finds them over the finite rows of a column (rows without
a value are skipped, as the chart skips them) and, when the next snapshot of the column starts
with the previous one bit for bit, only looks at the appended rows; otherwise (a cut, a late line,
another rank) it keeps what the rows before the first changed one gave and goes on from there. :meth:`ChangePoints.update` returns what a fresh scan returns.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import numpy.typing as npt

from dashboard.analysis.pyramid import common_prefix, same_prefix
from dashboard.analysis.series_pyramid import SeriesPyramid
from dashboard.reading.forget import parts
from dashboard.reading.growing import GrowingArray

__all__ = ["ChangePoints", "change_points"]

_F64 = npt.NDArray[np.float64]
_IntArray = npt.NDArray[np.intp]


def change_points(values: _F64) -> _IntArray:
    """Row positions of the first and last finite value and of every finite value that differs
    from the finite value before it (a fresh scan of the whole column)."""
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size <= 2:
        return finite
    v = values[finite]
    changed = finite[1:][v[1:] != v[:-1]]
    return np.unique(np.concatenate([finite[:1], changed, finite[-1:]]))


class ChangePoints:
    r"""The change points of one column, extended from appended rows (see the module docstring).

    The positions, steps and values at the changes are kept in
    :class:`~dashboard.reading.growing.GrowingArray`\ s: a refresh appends the new ones, a changed
    column cuts them back (the arrays fork, so what was handed out keeps its items), and
    :meth:`points` draws from views of them, so a refresh costs the new rows, not the changes
    of the history. Not thread-safe by itself: callers that share one hold :attr:`lock`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: _F64 = np.empty(0)
        self.steps: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self.rebuilds = 0
        self.drawn = SeriesPyramid()  # :meth:`points`' picks among the changes
        self._start()

    def _start(self) -> None:
        self._changes = GrowingArray(np.intp)
        self._at_steps = GrowingArray(np.int64)  # (steps, values) at the changes
        self._at_values = GrowingArray(np.float64)
        self._first, self._last = -1, -1
        self._last_value = math.nan

    def series(
        self, values: _F64, steps: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], _F64]:
        """(steps, values) at the change points of ``values`` (``steps``: the rows' steps),
        kept with the points: a refresh reads the columns at the new rows and the last one
        only, never at every change point of the history."""
        self.advance(values, steps)
        return self.points()

    def advance(self, values: _F64, steps: npt.NDArray[np.int64]) -> int:
        """Bring the points to ``values`` at ``steps``; return how many :meth:`points` has."""
        if self._at_steps.size != self._changes.size:
            self._reset()  # points kept without steps: start over
        elif not same_prefix(self.steps, steps):
            self._cut_back(common_prefix(self.steps, steps))  # rows moved from some row on
        self._advance(values, steps)
        if self._first < 0:
            return 0
        return 1 + self._changes.size + (self._last != self._end_of_changes())

    def points(self, budget: int | None = None) -> tuple[npt.NDArray[np.int64], _F64]:
        """(steps, values) of the first point, the changes and the last point since
        :meth:`advance`; with a ``budget`` below their number, the first and last and the
        min/max picks of :attr:`drawn` among those between (extended from the new changes)."""
        if self._first < 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        at_steps, at_values = self._at_steps.array, self._at_values.array
        ends = [self._first] + ([self._last] if self._last != self._end_of_changes() else [])
        if budget is not None and len(ends) + at_steps.size > budget:
            if len(ends) == 1:  # the last change is the last point
                ends.append(self._last)
                at_steps, at_values = at_steps[:-1], at_values[:-1]
            self.drawn.update(at_values, at_steps)
            inner = self.drawn.points(max(budget - 2, 6))
            at_steps, at_values = inner["step"], inner["value"]
        head, tail = ends[:1], ends[1:]
        return (
            np.concatenate([self.steps[head], at_steps, self.steps[tail]]).astype(np.int64),
            np.concatenate([self.values[head], at_values, self.values[tail]]),
        )

    def _end_of_changes(self) -> int:
        """The position of the last change, or of the first point when none."""
        changes = self._changes.array
        return int(changes[-1]) if changes.size else self._first

    def _reset(self) -> None:
        self._start()
        self.values = np.empty(0)
        self.rebuilds += 1

    def _cut_back(self, same: int) -> None:
        """Keep what the first ``same`` rows gave (start over when no finite row is among them)."""
        if self._first < 0 or same <= self._first:
            self._reset()
            return
        keep = int(np.searchsorted(self._changes.array, same))  # the changes before ``same``
        for kept in (self._changes, self._at_steps, self._at_values):
            kept.cut(min(keep, kept.size))
        self.values, self.steps = self.values[:same], self.steps[:same]
        self._last_value = float(self.values[_last_finite_position(self.values)])

    def update(self, values: _F64, steps: npt.NDArray[np.int64] | None = None) -> _IntArray:
        """The change points of ``values`` (equal to :func:`change_points`); with ``steps``,
        the steps and values at new change points are kept for :meth:`points`."""
        self._advance(values, steps)
        if self._first < 0:
            return np.empty(0, dtype=np.intp)
        tail = [] if self._last == self._end_of_changes() else [self._last]
        return np.concatenate([[self._first], self._changes.array, tail]).astype(np.intp)

    def _advance(self, values: _F64, steps: npt.NDArray[np.int64] | None) -> None:
        values = np.asarray(values, dtype=np.float64)
        if not same_prefix(self.values, values):
            self._cut_back(common_prefix(self.values, values))
        read = (values,) if steps is None else (values, steps)
        for end in parts(self.values.size, values.size, *read):  # a long read: pages given back
            self._extend(values[:end], steps)
        if self._first >= 0:
            self._last = _last_finite_position(values)

    def _extend(self, values: _F64, steps: npt.NDArray[np.int64] | None) -> None:
        start = self.values.size
        new = values[start:]
        finite = np.flatnonzero(np.isfinite(new)) + start
        if finite.size:
            v = values[finite]
            if self._first < 0:
                self._first = int(finite[0])
                previous = v[:-1]
                changed = finite[1:][v[1:] != previous]
            else:
                previous = np.concatenate([[self._last_value], v[:-1]])
                changed = finite[v != previous]
            if changed.size:
                self._changes.append(changed.astype(np.intp))
                if steps is not None:
                    self._at_steps.append(steps[changed].astype(np.int64))
                    self._at_values.append(values[changed])
            self._last_value = float(v[-1])
        self.values = values
        if steps is not None:
            self.steps = steps


def _last_finite_position(values: _F64) -> int:
    n, window = values.size, 64
    while True:
        part = values[max(0, n - window) :]
        ok = np.flatnonzero(np.isfinite(part))
        if ok.size:
            return n - part.size + int(ok[-1])
        window *= 16
