"""Min/max-per-bucket down-sampling of a metric series for charts (pure, vectorised numpy).

A browser chart with a million points is slow and shows no more than one with a few thousand, but
naive thinning (every k-th point) hides exactly what a monitor must show: a spike, a divergence, a
NaN. This module picks at most ``max_points`` positions of a series so that:

* the first and the last point are always kept;
* the finite points are cut into equal buckets and each bucket keeps its minimum and its maximum,
  so the global minimum and maximum (and every bucket's extremes) are always drawn;
* every non-finite point (NaN, +Inf, -Inf) is returned separately, as a marker position, because
  a chart cannot draw NaN on a line. When there are more of them than half the budget, they are
  thinned evenly, always keeping the first one (where the divergence started) and the last one.

Positions refer to the order of the input (frames are sorted by step), so the caller selects the
rows with ``frame.iloc[positions]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_MAX_POINTS",
    "Downsampled",
    "IntArray",
    "downsample",
    "last_finite",
    "thin_evenly",
]

DEFAULT_MAX_POINTS = 5_000
_MIN_POINTS = 6

IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Downsampled:
    """The positions to draw: ``finite`` for the line, ``nonfinite`` for the NaN/Inf markers.

    Both are sorted, unique, and together hold at most ``max_points`` positions.
    """

    finite: IntArray
    nonfinite: IntArray

    @property
    def size(self) -> int:
        return int(self.finite.size + self.nonfinite.size)


def thin_evenly(positions: IntArray, budget: int) -> IntArray:
    """Keep ``budget`` of ``positions`` evenly spread, always the first and the last."""
    if positions.size <= budget:
        return positions
    picks = np.unique(np.linspace(0, positions.size - 1, budget).round().astype(np.intp))
    return positions[picks]


def _bucket_extremes(values: npt.NDArray[np.float64], buckets: int) -> IntArray:
    """Positions (into ``values``) of each bucket's minimum and maximum, ``buckets`` at most."""
    n = values.size
    size = -(-n // buckets)  # ceil
    rows = -(-n // size)
    pad = rows * size - n
    low = np.concatenate([values, np.full(pad, np.inf)]).reshape(rows, size)
    high = np.concatenate([values, np.full(pad, -np.inf)]).reshape(rows, size)
    base = np.arange(rows, dtype=np.intp) * size
    mins = base + np.argmin(low, axis=1)
    maxs = base + np.argmax(high, axis=1)
    return np.concatenate([mins, maxs])


def downsample(values: npt.ArrayLike, max_points: int = DEFAULT_MAX_POINTS) -> Downsampled:
    """Choose at most ``max_points`` positions of ``values`` to draw (see the module docstring).

    Raises ``ValueError`` when ``max_points`` is below 6 (two markers, a first, a last and one
    bucket's minimum and maximum are the least that keeps the promises above).
    """
    if max_points < _MIN_POINTS:
        raise ValueError(
            f"max_points={max_points} is too small: pass at least {_MIN_POINTS} "
            f"(the page uses {DEFAULT_MAX_POINTS})"
        )
    y = np.asarray(values, dtype=np.float64).ravel()
    finite_mask = np.isfinite(y)
    nonfinite = np.flatnonzero(~finite_mask)
    nonfinite = thin_evenly(nonfinite, max_points // 2 - 1)
    finite = np.flatnonzero(finite_mask)
    budget = max_points - nonfinite.size
    if finite.size <= budget:
        return Downsampled(finite=finite, nonfinite=nonfinite)
    inner = finite[1:-1]
    buckets = (budget - 2) // 2
    picks = _bucket_extremes(y[inner], buckets)
    kept = np.unique(np.concatenate([finite[:1], inner[picks], finite[-1:]]))
    return Downsampled(finite=kept, nonfinite=nonfinite)


def last_finite(values: np.ndarray) -> float | None:
    """The last finite value of ``values`` (looking back from the end, not over the whole array)."""
    n = values.size
    window = 64
    while True:
        tail = values[max(0, n - window) : n]
        ok = np.flatnonzero(np.isfinite(tail))
        if ok.size:
            return float(tail[ok[-1]])
        if window >= n:
            return None
        window *= 16
