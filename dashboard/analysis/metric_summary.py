"""Per-metric summary of a run: last, min, max and the best value with its step, in the metric's good direction (loss down, performance and accuracy up, neutral otherwise; val_X follows X). Pure: the report, its JSON, the terminal view and a runs overview read the same numbers."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from dashboard.analysis.pyramid import same_prefix
from dashboard.analysis.series import extra_metric_columns, float_column
from dashboard.reading.forget import parts
from dashboard.run_state import RunState
from thalia_logging.contract import CORE_METRICS

__all__ = [
    "CORE_METRICS",
    "Direction",
    "MetricSummary",
    "SummaryTracker",
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


def metric_summaries(
    state: RunState,
    metrics: pd.DataFrame,
    rank: int = 0,
    trackers: dict[Hashable, SummaryTracker] | None = None,
) -> list[MetricSummary]:
    """A :class:`MetricSummary` per metric column of ``metrics`` (one rank's rows). With
    ``trackers`` (a dict the caller keeps across refreshes of one run and rank), each column's
    summary is extended from the rows appended since the last call instead of read again."""
    if metrics.empty:
        return []
    steps = metrics["step"].to_numpy(dtype=np.int64)
    out = []
    for column in metric_columns(state, metrics, rank):
        if column not in metrics.columns:
            out.append(_summary(column, steps, np.full(len(metrics), np.nan)))
            continue
        values = float_column(metrics, column)  # the frame's own buffer: trackers compare views
        if trackers is None:
            out.append(_summary(column, steps, values))
        else:
            out.append(trackers.setdefault(column, SummaryTracker()).update(column, steps, values))
    return out


def _joined(old: MetricSummary, new: MetricSummary) -> MetricSummary:
    """The summary of rows A + B from the summaries of A (``old``) and of B (``new``)."""
    if new.count == 0:
        return old
    if old.count == 0:
        return new
    best, best_step = old.best, old.best_step
    if best is not None and new.best is not None:
        better = new.best < best if old.direction == "down" else new.best > best
        if better:  # ties keep the earlier step, as argmin / argmax do
            best, best_step = new.best, new.best_step
    return MetricSummary(
        old.name,
        old.direction,
        old.count + new.count,
        new.last,
        new.last_step,
        new.previous if new.count >= 2 else old.last,
        min(old.min, new.min),  # type: ignore[type-var]
        max(old.max, new.max),  # type: ignore[type-var]
        best,
        best_step,
    )


class SummaryTracker:
    """One column's :class:`MetricSummary` kept across refreshes of a live run.

    :meth:`update` extends the summary from the appended rows when the new steps and values start
    with the ones seen last time, bit for bit (:func:`~dashboard.analysis.pyramid.same_prefix`:
    frames are views of the reader's buffers, so that check is O(1) for a run that only grew);
    otherwise (a cut, a late line, another column's rows) it summarises the whole column again,
    in parts whose pages it gives back (:func:`~dashboard.reading.forget.parts`).
    The result always equals the summary of the whole column. Not thread-safe: one per caller."""

    def __init__(self) -> None:
        self._steps = np.empty(0, dtype=np.int64)
        self._values = np.empty(0, dtype=np.float64)
        self._summary: MetricSummary | None = None

    def update(self, name: str, steps: np.ndarray, values: np.ndarray) -> MetricSummary:
        n = self._values.size
        grew = (
            self._summary is not None
            and self._summary.name == name
            and same_prefix(self._values, values)
            and same_prefix(self._steps.view(np.float64), steps.view(np.float64))
        )
        summary = self._summary if grew else None
        start = n if grew else 0
        for end in parts(start, values.size, values, steps):  # a long read: pages given back
            part = _summary(name, steps[start:end], values[start:end])
            summary = part if summary is None else _joined(summary, part)
            start = end
        assert summary is not None
        self._steps, self._values, self._summary = steps, values, summary
        return summary
