"""The finite losses of the current segment, kept across snapshots of a growing run.

The loss rules (:mod:`dashboard.analysis.loss_checks`, :mod:`dashboard.analysis.diagnosis`) read
the finite losses of the current segment (since the latest stage change or restart) and two of
them the best k-point running mean before a cut-off (plateau, divergence from best). Read afresh,
that is a scan, a copy and a cumulative sum of the whole segment on every snapshot.
:class:`LossSegment` keeps them instead, for one run and rank:

- the segment's finite losses and their steps, and the cumulative sum ``sums`` (``sums[0] = 0``,
  ``sums[i + 1] = sums[i] + losses[i]``, added in order as ``np.cumsum`` does, so every level
  ``(sums[i + k] - sums[i]) / k`` is bit for bit the one a fresh ``np.cumsum`` gives);
- per width ``k``, the running minimum of those levels over a prefix that only grows
  (:meth:`best_level`), as ``np.min`` / ``np.argmin`` give it (first occurrence; a NaN level,
  from sums that overflowed, wins as it does there).

:meth:`update` takes the snapshot's loss column, steps and segment start: when the same segment
goes on and the new columns start with the old ones bit for bit, only the appended rows are read;
otherwise (a new stage or restart, a cut, a late line before the end) everything is rebuilt. The
results equal a fresh computation on the snapshot (the tests check it over append sequences).
Holds 24 bytes per finite loss of the segment, in
:class:`~dashboard.reading.growing.GrowingArray` s (a long segment spills: only its recent rows
stay resident). Not thread-safe by itself: hold :attr:`lock`.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

from dashboard.analysis.pyramid import same_prefix
from dashboard.reading.forget import parts
from dashboard.reading.growing import GrowingArray

__all__ = ["LossSegment", "kept_segment"]

_F64 = npt.NDArray[np.float64]


class LossSegment:
    """The current segment's finite losses of one run and rank (see the module docstring)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rebuilds = 0
        self._reset(-1)

    def _reset(self, start: int) -> None:
        self.start = start
        self._column: _F64 = np.empty(0)
        self._steps: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._losses = GrowingArray(np.float64)
        self._loss_steps = GrowingArray(np.int64)
        self._sums = GrowingArray(np.float64)
        self._sums.append(np.zeros(1))
        self._best: dict[int, tuple[int, float, int]] = {}  # k -> (levels seen, min, argmin)

    def update(self, column: _F64, steps: npt.NDArray[np.int64], start: int) -> None:
        """Bring the segment to this snapshot: ``column`` the loss of every row of the rank (NaN
        where not logged), ``steps`` their steps, ``start`` the segment's first step."""
        if (
            start != self.start
            or not same_prefix(self._column, column)
            or not same_prefix(self._steps.view(np.float64), steps.view(np.float64))
        ):
            self.rebuilds += self._column.size > 0  # starting the first segment is no rebuild
            self._reset(start)
        old = self._column.size
        lo = max(old, int(np.searchsorted(steps, start, side="left")))
        for hi in parts(lo, column.size, column, steps):  # a long read: pages given back
            self._append(column[lo:hi], steps[lo:hi])
            lo = hi
        self._column, self._steps = column, steps

    def _append(self, new: _F64, new_steps: npt.NDArray[np.int64]) -> None:
        ok = np.isfinite(new)
        if not ok.all():
            new, new_steps = new[ok], new_steps[ok]
        if new.size:
            self._losses.append(new)
            self._loss_steps.append(new_steps)
            last = self._sums.array[-1:]
            self._sums.append(np.cumsum(np.concatenate([last, new]))[1:])

    @property
    def losses(self) -> _F64:
        """The segment's finite losses, in step order (a view: do not modify)."""
        return self._losses.array

    @property
    def steps(self) -> npt.NDArray[np.int64]:
        """The steps of :attr:`losses` (a view: do not modify)."""
        return self._loss_steps.array

    def levels(self, k: int, lo: int, hi: int) -> _F64:
        """``levels[lo:hi]`` of width ``k``: ``levels[i] = mean(losses[i:i + k])`` from the sums."""
        sums = self._sums.array
        return (sums[lo + k : hi + k] - sums[lo:hi]) / k

    def best_level(self, k: int, count: int) -> tuple[float, int] | None:
        """(min, first position of it) of ``levels[:count]`` of width ``k`` (``count`` at most
        ``len(losses) - k + 1``), as ``np.min`` / ``np.argmin`` of a fresh computation; None when
        ``count`` < 1. Kept per ``k`` and extended while ``count`` grows."""
        if count < 1:
            return None
        seen, best, at = self._best.get(k, (0, np.inf, -1))
        if count < seen:  # a smaller prefix than kept (other thresholds): computed afresh
            seen, best, at = 0, np.inf, -1
        if count > seen:
            part = self.levels(k, seen, count)
            i = int(np.argmin(part))
            low = float(part[i])
            if at < 0 or (not np.isnan(best) and (np.isnan(low) or low < best)):
                best, at = low, seen + i
            seen = count
            self._best[k] = (seen, best, at)
        return best, at


_KEPT: dict[tuple[str, int], LossSegment] = {}
_KEPT_LOCK = threading.Lock()


def kept_segment(directory: str, rank: int) -> LossSegment:
    """The :class:`LossSegment` kept for one run directory and rank (page-wide, at most 16)."""
    with _KEPT_LOCK:
        found = _KEPT.get((directory, rank))
        if found is None:
            while len(_KEPT) >= 16:
                _KEPT.pop(next(iter(_KEPT)))
            found = _KEPT[(directory, rank)] = LossSegment()
        return found
