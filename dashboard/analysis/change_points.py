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
    """The change points of one column, extended from appended rows (see the module docstring).

    Not thread-safe by itself: callers that share one hold :attr:`lock`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: _F64 = np.empty(0)
        self.steps: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._changes: list[_IntArray] = []
        self._at: list[tuple[npt.NDArray[np.int64], _F64]] = []  # (steps, values) at changes
        self._first = -1
        self._last_value = math.nan
        self.rebuilds = 0
        self.drawn = SeriesPyramid()  # a chart's picks among the changes (its caller's to use)

    def series(
        self, values: _F64, steps: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], _F64]:
        """(steps, values) at the change points of ``values`` (``steps``: the rows' steps),
        kept with the points: a refresh reads the columns at the new rows and the last one
        only, never at every change point of the history."""
        kept = sum(a.size for a, _ in self._at) == sum(c.size for c in self._changes)
        if not kept:
            self._reset()  # points kept without steps: start over
        elif not same_prefix(self.steps, steps):
            self._cut_back(common_prefix(self.steps, steps))  # rows moved from some row on
        pos = self.update(values, steps)
        if not pos.size:
            return np.empty(0, dtype=np.int64), np.empty(0)
        if len(self._at) > 1:
            self._at = [tuple(np.concatenate(parts) for parts in zip(*self._at, strict=True))]  # type: ignore[list-item]
        at_steps, at_values = self._at[0] if self._at else (np.empty(0, np.int64), np.empty(0))
        ends = [pos[0]] + ([pos[-1]] if pos.size > at_steps.size + 1 else [])
        head, tail = steps[ends[:1]], steps[ends[1:]]
        return (
            np.concatenate([head, at_steps, tail]).astype(np.int64),
            np.concatenate([values[ends[:1]], at_values, values[ends[1:]]]),
        )

    def _reset(self) -> None:
        self._changes, self._at, self._first, self._last_value = [], [], -1, math.nan
        self.values = np.empty(0)
        self.rebuilds += 1

    def _cut_back(self, same: int) -> None:
        """Keep what the first ``same`` rows gave (start over when no finite row is among them)."""
        if self._first < 0 or same <= self._first:
            self._reset()
            return
        changes = np.concatenate(self._changes) if self._changes else np.empty(0, np.intp)
        keep = changes < same
        self._changes = [changes[keep]]
        if self._at:
            at_steps, at_values = (np.concatenate(p) for p in zip(*self._at, strict=True))
            self._at = [(at_steps[keep], at_values[keep])]
        self.values, self.steps = self.values[:same], self.steps[:same]
        self._last_value = float(self.values[_last_finite_position(self.values)])

    def update(self, values: _F64, steps: npt.NDArray[np.int64] | None = None) -> _IntArray:
        """The change points of ``values`` (equal to :func:`change_points`); with ``steps``,
        the steps and values at new change points are kept for :meth:`series`."""
        values = np.asarray(values, dtype=np.float64)
        if not same_prefix(self.values, values):
            self._cut_back(common_prefix(self.values, values))
        read = (values,) if steps is None else (values, steps)
        for end in parts(self.values.size, values.size, *read):  # a long read: pages given back
            self._extend(values[:end], steps)
        if self._first < 0:
            return np.empty(0, dtype=np.intp)
        return self._positions(_last_finite_position(values))

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
                    self._at.append((steps[changed].astype(np.int64), values[changed]))
            self._last_value = float(v[-1])
        self.values = values
        if steps is not None:
            self.steps = steps

    def _positions(self, last: int) -> _IntArray:
        """First, changes, last: already in increasing order (every change lies after the first
        finite row, the last finite row at or after every change), so no sort is needed."""
        if len(self._changes) > 1:
            self._changes = [np.concatenate(self._changes)]
        changes = self._changes[0] if self._changes else np.empty(0, dtype=np.intp)
        tail = [] if (changes.size and changes[-1] == last) or last == self._first else [last]
        return np.concatenate([[self._first], changes, tail]).astype(np.intp)


def _last_finite_position(values: _F64) -> int:
    n, window = values.size, 64
    while True:
        part = values[max(0, n - window) :]
        ok = np.flatnonzero(np.isfinite(part))
        if ok.size:
            return n - part.size + int(ok[-1])
        window *= 16
