"""Per-metric summary of a run: last, min, max and the best value with its step, in the metric's good direction (loss down, performance and accuracy up, neutral otherwise; val_X follows X). Pure: the report, its JSON, the terminal view and a runs overview read the same numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from dashboard.analysis.series import extra_metric_columns
from dashboard.run_state import RunState
from thalia_logging.contract import CORE_METRICS

__all__ = [
    "CORE_METRICS",
    "Direction",
    "MetricSummary",
    "direction",
    "metric_columns",
    "metric_summaries",
]


Direction = Literal["down", "up", "neutral"]


def direction(name: str) -> Direction:
    """Which way ``name`` improves (see the module docstring)."""
    base = name.lower().removeprefix("val_")
    if "loss" in base or "error" in base or "perplexity" in base:
        return "down"
    if base == "performance" or "accuracy" in base or base == "acc" or base.endswith("_acc"):
        return "up"
    return "neutral"


@dataclass(frozen=True)
class MetricSummary:
    """One metric column over the run: the last finite value and its step, min, max, and (for a
    metric with a direction) the best value and the step it was first reached. ``count`` is the
    number of finite points; ``previous`` the finite value before ``last`` (for deltas)."""

    name: str
    direction: Direction
    count: int
    last: float | None
    last_step: int | None
    previous: float | None
    min: float | None
    max: float | None
    best: float | None
    best_step: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "count": self.count,
            "last": self.last,
            "last_step": self.last_step,
            "min": self.min,
            "max": self.max,
            "best": self.best,
            "best_step": self.best_step,
        }


def _summary(name: str, steps: np.ndarray, values: np.ndarray) -> MetricSummary:
    finite = np.isfinite(values)
    d = direction(name)
    if not finite.any():
        return MetricSummary(name, d, 0, None, None, None, None, None, None, None)
    idx = np.flatnonzero(finite)
    vals = values[idx]
    best = best_step = None
    if d != "neutral":
        i = int(np.argmin(vals) if d == "down" else np.argmax(vals))
        best, best_step = float(vals[i]), int(steps[idx[i]])
    return MetricSummary(
        name,
        d,
        int(idx.size),
        float(vals[-1]),
        int(steps[idx[-1]]),
        float(vals[-2]) if vals.size >= 2 else None,
        float(vals.min()),
        float(vals.max()),
        best,
        best_step,
    )


def metric_columns(state: RunState, metrics: pd.DataFrame, rank: int = 0) -> list[str]:
    """Core metric columns, then every extra numeric column with a value (as the page's picker)."""
    nonfinite = state.nonfinite
    logged = set(nonfinite["column"][nonfinite["rank"] == rank].tolist())
    columns = [c for c in CORE_METRICS if c in metrics.columns or c in logged]
    return columns + extra_metric_columns(metrics, logged=logged)


def metric_summaries(state: RunState, metrics: pd.DataFrame, rank: int = 0) -> list[MetricSummary]:
    """A :class:`MetricSummary` per metric column of ``metrics`` (one rank's rows)."""
    if metrics.empty:
        return []
    steps = metrics["step"].to_numpy(dtype=np.int64)
    out = []
    for column in metric_columns(state, metrics, rank):
        if column not in metrics.columns:
            values = np.full(len(metrics), np.nan)
        else:
            values = metrics[column].to_numpy(dtype=np.float64, na_value=np.nan)
        out.append(_summary(column, steps, values))
    return out
