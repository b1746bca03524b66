"""What every health rule reads: the thresholds, and the metric columns converted once.

:mod:`dashboard.analysis.health` runs the rules; this module holds their shared inputs so that the rules
module stays about rules. Pure: no I/O, no Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.analysis.loss_segment import LossSegment
from dashboard.analysis.series import float_column
from dashboard.analysis.status import RunStatus

__all__ = ["DEFAULT_THRESHOLDS", "Columns", "HealthThresholds"]


@dataclass(frozen=True)
class HealthThresholds:
    """Every threshold of the health checks, in one place.

    * ``divergence_factor`` — loss divergence when the recent level (median of the last
      ``recent_points`` finite losses) exceeds this many times the early level (median of the
      first ``early_points`` finite losses) of the current segment (since the latest stage
      change or restart); fewer than ``min_points`` finite losses in the segment (or an early
      level that is not positive): no verdict.
    * ``plateau_points`` — plateau when the best (lowest) level of the segment's last
      ``plateau_points`` finite points is not lower than the segment's best level before them by
      more than ``plateau_min_gain`` (relative); a level is the mean of ``plateau_smoothing``
      consecutive losses (a lucky batch is not a level). Needs ``2 × plateau_points`` finite
      points in the segment.
    * ``firing_rate_low`` / ``firing_rate_high`` — the healthy band of the latest firing rate
      (below: dead network, above: epileptic activity).
    * ``capacity_max`` — saturation when the latest overall or per-region capacity exceeds it.
    * ``stall_minutes`` — the trainer counts as stalled after this long without a new line.
    * ``overfit_points`` — overfitting when ``val_loss`` rose over each of its last k points while
      the loss at those rows fell.
    * ``grad_vanishing`` / ``grad_exploding`` — bounds of a healthy latest ``grad_norm``.
    * ``gpu_mem_fraction`` — GPU memory warning above this fraction of the total.

    The training checks of :mod:`dashboard.analysis.diagnosis` (documented there) add:
    ``dead_unit_fraction`` (dead units above it), ``underfit_loss`` / ``underfit_performance`` /
    ``underfit_points`` / ``underfit_min_gain`` (a flat loss above the level with performance
    below its level), ``instability_rel_std`` / ``instability_min_std`` /
    ``instability_points`` (rolling std of the loss over its median, and an absolute floor),
    ``gap_points`` (train − val performance, in percentage points),
    ``patience_evals`` / ``patience_min_gain`` (evaluations without a better validation loss),
    ``divergence_best_factor`` / ``divergence_best_drop`` (a climb from the segment's best).
    """

    divergence_factor: float = 10.0
    early_points: int = 20
    min_points: int = 10
    recent_points: int = 5
    plateau_points: int = 200
    plateau_min_gain: float = 1e-3
    plateau_smoothing: int = 20
    firing_rate_low: float = 0.01
    firing_rate_high: float = 0.5
    capacity_max: float = 0.95
    stall_minutes: float = 10.0
    overfit_points: int = 3
    grad_vanishing: float = 1e-7
    grad_exploding: float = 1e3
    gpu_mem_fraction: float = 0.95
    dead_unit_fraction: float = 0.5
    underfit_loss: float = 0.5
    underfit_performance: float = 0.7
    underfit_points: int = 50
    underfit_min_gain: float = 0.02
    instability_rel_std: float = 0.4
    instability_min_std: float = 0.05
    instability_points: int = 20
    gap_points: float = 10.0
    patience_evals: int = 5
    patience_min_gain: float = 1e-3
    divergence_best_factor: float = 5.0
    divergence_best_drop: float = 0.5


DEFAULT_THRESHOLDS = HealthThresholds()


class Columns:
    """The metric rows of one ``rank`` that the rules look at, as float64 numpy arrays converted
    once and shared by every rule (a 1M-row column is read once per page run, not once per rule).
    ``start`` is the first step of the current segment (see the module docstring); ``status`` the
    run status when the caller computed it already (the stall rule computes it otherwise);
    ``loss`` the segment's losses kept across snapshots, brought up to this frame by the caller
    (:class:`~dashboard.analysis.loss_segment.LossSegment`), else they are read from the frame."""

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        rank: int = 0,
        start: int = 0,
        start_kind: str = "stage change",
        status: RunStatus | None = None,
        loss: LossSegment | None = None,
    ) -> None:
        self.frame = frame
        self.status = status
        self.loss = loss
        self.rank = rank
        self.start, self.start_kind = start, start_kind
        self.names = [str(c) for c in frame.columns]
        self._values: dict[str, np.ndarray | None] = {}

    @property
    def steps(self) -> np.ndarray:
        return self.frame["step"].to_numpy(dtype=np.int64)

    def column(self, name: str) -> np.ndarray | None:
        """The column as float64, or None when absent or without one logged (non-NaN) value."""
        if name not in self._values:
            values = None
            if name in self.frame.columns:
                values = float_column(self.frame, name)
                if not (values.size and (not math.isnan(values[-1]) or (~np.isnan(values)).any())):
                    values = None
            self._values[name] = values
        return self._values[name]

    def in_segment(self, values: np.ndarray) -> np.ndarray:
        """The rows of ``values`` (a column) in the current segment."""
        return values[int(np.searchsorted(self.steps, self.start, side="left")) :]

    def segment(self, name: str) -> np.ndarray:
        """The finite values of the column in the current segment, in order (empty if absent)."""
        if name == "loss" and self.loss is not None:
            return self.loss.losses
        values = self.column(name)
        values = np.empty(0) if values is None else self.in_segment(values)
        return values[np.isfinite(values)]
