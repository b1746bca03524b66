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

The debiased value is a weighted mean of the finite points so far (weights ``w**age``), so it lies
within their running minimum and maximum. Floating-point rounding can step a hair outside (a
constant 0.05 came out as 0.04999999…/0.05000000…, which a chart draws as spikes); :func:`ema`
clamps each value to the running [min, max] of the input so far, so a constant series comes back
bit for bit and smoothing never invents variation.

Unlike TensorBoard, the chart builders smooth the full-resolution series and down-sample the
smoothed line afterwards (an EMA over min/max-picked points draws a band, not a trend).
The recurrence is evaluated in vectorised blocks (a scaled cumulative sum per block, the blocks
joined by the same recurrence one level up), so there is no per-point Python loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dashboard.errors import InvalidSmoothingWeight

__all__ = ["MAX_WEIGHT", "EmaState", "InvalidSmoothingWeight", "ema", "ema_extend"]

MAX_WEIGHT = 0.999
"""The largest weight the page's slider offers (as in TensorBoard)."""

_MAX_LOG_SCALE = 300.0  # blocks keep w**-i below e**300 (inputs are scaled to |x| <= 1 first)
_NEGLIGIBLE = 1e-30  # a carry scaled by less than this is below float64 resolution of the block


def _scan(x: npt.NDArray[np.float64], w: float) -> npt.NDArray[np.float64]:
    """``s[k] = w * s[k-1] + x[k]`` (``s[-1] = 0``), vectorised.

    Within a block of ``L`` points ``s[k] = w**k * cumsum(x[j] * w**-j)`` plus the carry from the
    previous block times ``w**(k+1)``; the carries obey the same recurrence with weight ``w**L``
    over the block ends, solved recursively (or directly once ``w**L`` is negligible).
    """
    n = x.size
    if w == 0.0 or n <= 1:
        return x.copy()
    block = max(1, min(n, int(_MAX_LOG_SCALE / -math.log(w))))
    powers = np.arange(block, dtype=np.float64)
    grow, shrink = np.power(w, -powers), np.power(w, powers)
    rows = -(-n // block)
    padded = np.zeros(rows * block)
    padded[:n] = x
    inner = np.cumsum(padded.reshape(rows, block) * grow, axis=1) * shrink
    if rows > 1:
        ends = inner[:, -1]
        w_block = w**block
        if w_block < _NEGLIGIBLE:
            carries = ends.copy()
            carries[1:] += w_block * ends[:-1]
        else:
            carries = _scan(ends, w_block)
        inner[1:] += carries[:-1, None] * (shrink * w)
    return inner.ravel()[:n]


def ema(values: npt.ArrayLike | Sequence[float], weight: float) -> npt.NDArray[np.float64]:
    """Return the debiased EMA of ``values`` (same length, float64), TensorBoard's formula.

    Non-finite inputs are returned unchanged at their position and skipped by the average. Every
    finite output lies within the [min, max] of the finite inputs up to it (a constant series is
    returned exactly). Raises :class:`InvalidSmoothingWeight` when ``weight`` is not within
    ``[0, 0.999]``.
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
    all_finite = bool(finite.all())
    v = y if all_finite else y[finite]
    if v.size == 0:
        return out
    w = float(weight)
    # weighted mean: sum(w**age * y) / sum(w**age); the denominator in closed form
    scale = float(np.max(np.abs(v)))
    scale = scale if 0.0 < scale < math.inf else 1.0  # |v| <= 1 in the scan: no overflow
    smoothed = _scan(v / scale, w)
    # debias: divide by sum(w**age) = (1 - w**k) / (1 - w), which is 1 / (1 - w) once w**k < 2**-60
    head = min(v.size, int(60 * math.log(2) / -math.log(w)) + 1)
    k = np.arange(1, head + 1, dtype=np.float64)
    smoothed[:head] *= (1.0 - w) * scale / -np.expm1(k * math.log(w))
    smoothed[head:] *= (1.0 - w) * scale
    np.clip(smoothed, np.minimum.accumulate(v), np.maximum.accumulate(v), out=smoothed)
    if all_finite:
        return smoothed
    out[finite] = smoothed
    return out


@dataclass
class EmaState:
    """Where :func:`ema_extend` left a series: the un-debiased average, the finite points seen,
    and their running minimum and maximum."""

    average: float = 0.0
    count: int = 0
    low: float = math.inf
    high: float = -math.inf


def ema_extend(
    state: EmaState, values: npt.NDArray[np.float64], weight: float
) -> npt.NDArray[np.float64]:
    """The debiased EMA of ``values`` continuing the series ``state`` describes (updated in
    place): appending chunk by chunk gives :func:`ema` of the whole series, up to rounding."""
    out = np.array(values, dtype=np.float64)
    finite = np.isfinite(out)
    v = out[finite]
    if v.size == 0 or weight == 0.0:
        return out
    w = float(weight)
    scale = float(np.max(np.abs(v)))
    scale = scale if 0.0 < scale < math.inf else 1.0
    ages = np.arange(1, v.size + 1, dtype=np.float64)
    average = _scan(v / scale, w) * ((1.0 - w) * scale) + state.average * np.power(w, ages)
    counts = state.count + ages
    smoothed = average / -np.expm1(counts * math.log(w))
    low = np.minimum(np.minimum.accumulate(v), state.low)
    high = np.maximum(np.maximum.accumulate(v), state.high)
    np.clip(smoothed, low, high, out=smoothed)
    state.average, state.count = float(average[-1]), int(counts[-1])
    state.low, state.high = float(low[-1]), float(high[-1])
    out[finite] = smoothed
    return out
