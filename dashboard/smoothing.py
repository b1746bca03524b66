"""TensorBoard-style debiased exponential moving average (EMA) for metric curves.

TensorBoard's scalar dashboard smooths a curve with (``vz_line_chart2/line-chart.ts``)::

    last = 0; num_accum = 0
    for each point y:
        if y is not finite: smoothed = y            # NaN/Inf are shown as they are
        else:
            last = last * w + (1 - w) * y
            num_accum += 1
            smoothed = last / (1 - w ** num_accum)  # debias: no pull towards 0 at the start

``w`` is the smoothing weight in ``[0, 1)``; ``w = 0`` returns the series unchanged. A non-finite
point does not enter the average, so one NaN never poisons the rest of the curve: the points after
it are smoothed from the finite points before and after it.

TensorBoard smooths the (down-sampled) points it draws, not the full history; the chart builders do
the same, so the cost here is bounded by the number of drawn points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_WEIGHT", "InvalidSmoothingWeight", "ema"]

MAX_WEIGHT = 0.999
"""The largest weight the page's slider offers (as in TensorBoard)."""


class InvalidSmoothingWeight(ValueError):
    """The smoothing weight is outside ``[0, MAX_WEIGHT]``."""


def ema(
    values: npt.ArrayLike | Sequence[float], weight: float
) -> npt.NDArray[np.float64]:
    """Return the debiased EMA of ``values`` (same length, float64), TensorBoard's formula.

    Non-finite inputs are returned unchanged at their position and skipped by the average.
    Raises :class:`InvalidSmoothingWeight` when ``weight`` is not within ``[0, 0.999]``.
    """
    if not (0.0 <= weight <= MAX_WEIGHT) or math.isnan(weight):
        raise InvalidSmoothingWeight(
            f"smoothing weight {weight!r} is outside [0, {MAX_WEIGHT}]; "
            "pass 0 for no smoothing or a value such as 0.6 or 0.9"
        )
    y = np.asarray(values, dtype=np.float64)
    if weight == 0.0 or y.size == 0:
        return y.copy()
    out = y.copy()
    finite = np.isfinite(y)
    idx = np.flatnonzero(finite)
    if idx.size == 0:
        return out
    # The recurrence runs over the finite points only; a plain loop over Python floats is the
    # fastest exact form without a compiled filter (about 0.1 µs a point).
    last = 0.0
    w = float(weight)
    one_minus = 1.0 - w
    bias = 1.0
    smoothed = np.empty(idx.size, dtype=np.float64)
    for k, v in enumerate(y[idx].tolist()):
        last = last * w + one_minus * v
        bias *= w
        smoothed[k] = last / (1.0 - bias)
    out[idx] = smoothed
    return out
