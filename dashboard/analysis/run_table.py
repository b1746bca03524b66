"""One row per run for the runs overview, from the cheap summaries of
:mod:`dashboard.reading.overview` (pure: no I/O, no Streamlit).

Status, alerts and the latest values come from the same functions as the run page
(:func:`~dashboard.analysis.run_facts.run_facts` over the summary's :class:`RunState`), so a word
means the same on both pages; but the summary's frames hold the logs' tail only, so rules that
need the history see the recent window. ``best_performance`` is the best of the tail's rows and
every checkpoint's ``metrics.performance``; the run page computes it over every row.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard.analysis.downsample import last_finite
from dashboard.analysis.run_facts import run_facts
from dashboard.analysis.series import rank_frame, whole_number
from dashboard.analysis.thresholds import DEFAULT_THRESHOLDS, HealthThresholds
from dashboard.reading.overview import RunSummary

__all__ = [
    "OverviewRow",
    "RowCache",
    "best_performance",
    "overview_row",
    "overview_rows",
    "stage_text",
]


@dataclass(frozen=True)
class OverviewRow:
    """What the overview shows of one run (None where the run does not say)."""

    name: str
    status: str
    status_text: str
    stage: str
    week: str
    step: int | None
    last_update: float | None
    loss: float | None
    performance: float | None
    best_performance: float | None
    best_step: int | None
    critical: int
    warnings: int
    growth: int | None
    consolidation: int | None
    problems: str


def stage_text(summary: RunSummary) -> str:
    """``"2 · phonology"``: the newer of the metadata's stage and the tail's last stage event."""
    state = summary.state
    meta = state.metadata or {}
    stage = whole_number(meta.get("current_stage"))
    name = meta.get("stage_name")
    meta_step = whole_number(meta.get("step")) or -1
    events = state.stage_events
    if not events.empty and int(events["step"].iloc[-1]) > meta_step:
        stage, name = int(events["stage"].iloc[-1]), str(events["name"].iloc[-1])
    elif not (isinstance(name, str) and name) and not events.empty:
        named = events[events["stage"] == stage]  # the metadata says no name: the event does
        name = str(named["name"].iloc[-1]) if len(named) else ""
    if stage is None:
        return ""
    return f"{stage} · {name}" if isinstance(name, str) and name else str(stage)


def _week(meta: dict[str, Any]) -> str:
    week, total = whole_number(meta.get("current_week")), whole_number(meta.get("total_weeks"))
    if week is None:
        return ""
    return f"{week} / {total}" if total is not None else str(week)


def best_performance(summary: RunSummary) -> tuple[float | None, int | None]:
    """The highest finite ``performance`` of the tail and the checkpoints, and its step."""
    best: tuple[float, int] | None = None
    metrics = summary.state.metrics_history
    if "performance" in metrics.columns and not metrics.empty:
        values = metrics["performance"].to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.flatnonzero(np.isfinite(values))
        if finite.size:
            i = int(finite[np.argmax(values[finite])])
            best = (float(values[i]), int(metrics["step"].iloc[i]))
    for checkpoint in summary.checkpoints:
        value = checkpoint.metrics.get("performance")
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if math.isfinite(value) and (best is None or value > best[0]):
            best = (float(value), checkpoint.step)
    return best if best is not None else (None, None)


def _last(metrics: Any, column: str) -> float | None:
    if column not in metrics.columns or metrics.empty:
        return None
    return last_finite(metrics[column].to_numpy(dtype=np.float64, na_value=np.nan))


def overview_row(
    summary: RunSummary, *, now: float, thresholds: HealthThresholds = DEFAULT_THRESHOLDS
) -> OverviewRow:
    """The :class:`OverviewRow` of one run at ``now``."""
    state = summary.state
    metrics = rank_frame(state.metrics_history, 0)
    facts = run_facts(state, metrics, now=now, thresholds=thresholds)
    severities = [a.severity for a in facts.alerts]
    best, best_step = best_performance(summary)
    return OverviewRow(
        name=summary.name,
        status=facts.status.kind,
        status_text=facts.status.text,
        stage=stage_text(summary),
        week=_week(state.metadata or {}),
        step=facts.step,
        last_update=state.last_update,
        loss=_last(metrics, "loss"),
        performance=_last(metrics, "performance"),
        best_performance=best,
        best_step=best_step,
        critical=severities.count("critical"),
        warnings=severities.count("warning"),
        growth=summary.growth,
        consolidation=summary.consolidation,
        problems="; ".join(summary.errors),
    )


def overview_rows(
    summaries: Iterable[RunSummary],
    *,
    now: float,
    thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
) -> list[OverviewRow]:
    """:func:`overview_row` of each summary, in order."""
    return [overview_row(s, now=now, thresholds=thresholds) for s in summaries]


class RowCache:
    """Overview rows kept between refreshes: a run's row is computed again when its summary
    changed (a new :class:`RunSummary` object), and otherwise when it is older than
    ``max_age_s`` (status and alerts follow the clock: running turns stalled without a byte
    written), at most ``max_stale`` such rows per call, oldest first, so an idle refresh of a
    hundred runs stays cheap. Thread-safe."""

    def __init__(self, *, max_age_s: float = 10.0, max_stale: int = 10) -> None:
        self.max_age_s = max_age_s
        self.max_stale = max_stale
        self._rows: dict[str, tuple[RunSummary, float, OverviewRow]] = {}
        self._lock = threading.Lock()

    def rows(
        self,
        summaries: Iterable[RunSummary],
        *,
        now: float,
        thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
    ) -> list[OverviewRow]:
        """The rows of ``summaries`` (in order) at ``now``."""
        summaries = list(summaries)
        with self._lock:
            kept = self._rows
            stale = sorted(
                (kept[s.name][1], s.name)
                for s in summaries
                if s.name in kept
                and kept[s.name][0] is s
                and now - kept[s.name][1] > self.max_age_s
            )
            redo = {name for _, name in stale[: self.max_stale]}
            fresh: dict[str, tuple[RunSummary, float, OverviewRow]] = {}
            for s in summaries:
                hit = kept.get(s.name)
                if hit is not None and hit[0] is s and s.name not in redo:
                    fresh[s.name] = hit
                else:
                    fresh[s.name] = (s, now, overview_row(s, now=now, thresholds=thresholds))
            self._rows = fresh
            return [fresh[s.name][2] for s in summaries]
