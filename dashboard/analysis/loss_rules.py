"""Curriculum-aware loss checks: pure functions over the loss of the current segment.

A curriculum makes each stage harder, so the loss jumps at every stage change by design, and a run
resumed from a checkpoint starts a new stretch of the same curve. Comparing the latest loss with the
first losses of the whole run would call every stage change a divergence, and comparing the best
loss of the last window with the best of an easier stage would call every new stage a plateau. So
the loss rules of :mod:`dashboard.analysis.health` look only at the *segment*: the metric rows since the
latest stage change (``stage_events``) or the latest restart (``restarts``), whichever came last.

When a segment is too short to judge (fewer losses than the rule needs) the functions return
None: no verdict. Saying nothing is better than a false alarm a researcher learns to ignore.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dashboard.analysis.loss_segment import LossSegment

__all__ = ["divergence", "overfitting", "plateau", "plateau_of", "segment_start"]


def segment_start(stage_steps: Iterable[int], restart_steps: Iterable[int | None]) -> int:
    """The first step of the current segment: the latest stage change or restart (0 if none).

    Rows at that step belong to the segment (a stage logged at step ``s`` is in force at ``s``).
    Restarts whose step is unknown (``None``: a truncated file before its first new line) count
    from their first line, which comes with a step; until then they are ignored.
    """
    starts = [int(s) for s in stage_steps]
    starts += [int(s) for s in restart_steps if s is not None]
    return max(starts, default=0)


def divergence(
    losses: np.ndarray,
    *,
    factor: float,
    early_points: int,
    min_points: int,
    recent_points: int = 1,
) -> tuple[float, float] | None:
    """``(recent level, early level)`` when the segment's recent level exceeds ``factor`` × its
    early level, else None.

    ``losses`` are the finite losses of the segment, in step order. The early level is the median
    of the first ``early_points`` of them, the recent level the median of the last
    ``recent_points`` (so one noisy batch is no divergence; a loss that stays up is). Fewer than
    ``min_points`` losses (or an early level that is not positive, where a ratio means nothing)
    gives no verdict.
    """
    if losses.size < max(min_points, 2):
        return None
    early = float(np.median(losses[:early_points]))
    recent = float(np.median(losses[-max(recent_points, 1) :]))
    if early <= 0 or recent <= factor * early:
        return None
    return recent, early


def plateau(
    losses: np.ndarray,
    *,
    window: int,
    min_gain: float,
    smoothing: int = 1,
) -> float | None:
    """The best smoothed loss before the last ``window`` points when those points did not improve
    on it by more than ``min_gain`` (relative), else None.

    ``losses`` are the finite losses of the segment, in step order. "Best" is the lowest running
    mean over ``smoothing`` consecutive points (one lucky batch is not a level the run reached).
    Fewer than ``2 × window`` losses (a segment too young to have a "before") gives no verdict.
    """
    k = max(smoothing, 1)
    if window < 1 or losses.size < 2 * window or losses.size < window + k:
        return None
    sums = np.cumsum(np.r_[0.0, losses])
    level = (sums[k:] - sums[:-k]) / k  # level[i] = mean(losses[i:i + k])
    split = losses.size - window  # windows starting at or after it lie in the last ``window``
    before, recent = level[:split], level[split:]
    if before.size == 0 or recent.size == 0:
        return None
    best_before = float(before.min())
    if float(recent.min()) < best_before - abs(best_before) * min_gain:
        return None
    return best_before


def plateau_of(
    segment: LossSegment, *, window: int, min_gain: float, smoothing: int = 1
) -> float | None:
    """:func:`plateau` of ``segment.losses``, from the kept sums and running best: it reads the
    last ``window`` levels only."""
    k, n = max(smoothing, 1), segment.losses.size
    if window < 1 or n < 2 * window or n < window + k:
        return None
    count, split = n - k + 1, n - window
    kept = segment.best_level(k, min(split, count))
    if kept is None or count <= split:
        return None
    best_before = kept[0]
    if float(segment.levels(k, split, count).min()) < best_before - abs(best_before) * min_gain:
        return None
    return best_before


def overfitting(val: np.ndarray, loss: np.ndarray, *, points: int) -> float | None:
    """The latest validation loss when ``val`` rose over each of its last ``points`` logged
    values while ``loss`` (same rows) fell from the first to the last of them, else None.

    ``val`` and ``loss`` are the segment's rows of both columns (NaN where not logged); fewer than
    ``points + 1`` finite validation losses gives no verdict.
    """
    rows = np.flatnonzero(np.isfinite(val))
    if points < 1 or rows.size < points + 1:
        return None
    tail = rows[-(points + 1) :]
    rising = bool(np.all(np.diff(val[tail]) > 0))
    train = loss[tail]
    falling = bool(np.isfinite(train[[0, -1]]).all() and train[-1] < train[0])
    return float(val[tail[-1]]) if rising and falling else None
