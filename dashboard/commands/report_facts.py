"""The facts of one run that the offline report, its JSON summary and the terminal view show.

Everything here comes from :mod:`dashboard.analysis` (health checks, run status, speed) and
:mod:`dashboard.page.views` (header facts, milestones) over one :class:`RunState`, so a number or
an alert means the same thing on the page, in the report and in the terminal (status, speed and
alerts come from :func:`dashboard.analysis.run_facts.run_facts`, as on the page). No Streamlit,
no I/O.

Metric direction: a name holding ``loss`` (or ``error``/``perplexity``) is better when lower;
``performance`` or a name holding ``accuracy``/``acc`` is better when higher; any other metric
is neutral (no best). ``val_X`` follows ``X``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dashboard.analysis.metric_summary import (
    CORE_METRICS,
    Direction,
    MetricSummary,
    direction,
    metric_columns,
    metric_summaries,
)
from dashboard.analysis.run_facts import run_facts as page_facts
from dashboard.analysis.series import rank_frame
from dashboard.analysis.status import RunStatus, SpeedInfo
from dashboard.analysis.units import format_value
from dashboard.page.views import Header, header_facts, milestone_summary
from dashboard.run_state import HealthWarning, RunState

__all__ = [
    "CHECKS",
    "CORE_METRICS",
    "Direction",
    "MetricSummary",
    "RunFacts",
    "diagnosis_lines",
    "direction",
    "exit_code",
    "metric_columns",
    "metric_summaries",
    "run_configs",
    "run_facts",
    "summary_json",
]


def run_configs(state: RunState) -> list[dict[str, Any]]:
    """The newest ``run_start`` config as the reader kept it (``RunState.config``), with that
    line's ``run_id``, ``step`` and ``resumed_from_step``; empty when the log has none."""
    if state.config is None:
        return []
    starts = state.run_starts
    newest = starts.sort_values(["wall_time", "step"]).iloc[-1] if not starts.empty else None
    resumed = None if newest is None else newest["resumed_from_step"]
    return [
        {
            "file": ", ".join(state.log_files),
            "step": None if newest is None else int(newest["step"]),
            "run_id": None if newest is None else newest["run_id"],
            "resumed_from_step": None if resumed is None or resumed != resumed else int(resumed),
            "config": state.config,
        }
    ]


@dataclass(frozen=True)
class RunFacts:
    """What every headless surface shows of one run at one moment (``now``)."""

    state: RunState
    now: float
    metrics: pd.DataFrame
    header: Header
    status: RunStatus
    speed: SpeedInfo
    alerts: list[HealthWarning]
    alert_history: list[Any]
    summaries: list[MetricSummary]
    milestones: tuple[int, int, list[tuple[str, bool]]]
    configs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, MetricSummary]:
        return {s.name: s for s in self.summaries}


def run_facts(
    state: RunState, *, now: float | None = None, rank: int = 0, with_configs: bool = True
) -> RunFacts:
    """Gather :class:`RunFacts` for ``state`` (metric rows of ``rank``)."""
    now = time.time() if now is None else now
    full = state.metrics_history
    metrics = rank_frame(full, rank) if "step" in full.columns and not full.empty else full
    header = header_facts(state, metrics)
    # status, speed and alerts exactly as the run page computes them (analysis.run_facts)
    page = page_facts(state, metrics, now=now, rank=rank)
    status, speed, alerts = page.status, page.speed, list(page.alerts)
    history = getattr(state, "alert_history", None)
    return RunFacts(
        state=state,
        now=now,
        metrics=metrics,
        header=header,
        status=status,
        speed=speed,
        alerts=alerts,
        alert_history=list(history) if history else [],
        summaries=metric_summaries(state, metrics, rank),
        milestones=milestone_summary(state.metadata),
        configs=run_configs(state) if with_configs else [],
    )


def exit_code(alerts: list[HealthWarning]) -> int:
    """2 with any critical alert, 1 with any warning, 0 otherwise (info alone is healthy)."""
    severities = {a.severity for a in alerts}
    return 2 if "critical" in severities else 1 if "warning" in severities else 0


#: The families of checks the diagnosis names, with the words that mark an alert as theirs and
#: the fix to suggest (shown under an alert whose text does not already suggest one).
CHECKS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "Loss is finite",
        ("non-finite loss", "loss became"),
        "lower the learning rate 2–5×, add gradient clipping, check the data for NaN",
    ),
    (
        "No divergence",
        ("diverg",),
        "lower the learning rate 2–5× or resume from the last good checkpoint",
    ),
    ("No plateau", ("plateau",), "reduce the learning rate by 2–5× or add a schedule"),
    (
        "No overfitting",
        ("overfit", "train–val", "train-val", "generalisation gap"),
        "add regularisation (dropout, weight decay) or stop early",
    ),
    (
        "Firing rate in its healthy band",
        ("firing rate", "dead unit"),
        "check initialisation and inhibition; lower the learning rate",
    ),
    (
        "Capacity below saturation",
        ("saturated", "capacity is"),
        "let the saturated region grow (growth threshold) or add neurons",
    ),
    ("Gradients healthy", ("gradient",), "add gradient clipping or lower the learning rate"),
    (
        "Training is stable",
        ("instab", "unstable", "rolling std"),
        "lower the learning rate or increase the batch size",
    ),
    (
        "Trainer is writing",
        ("no new data", "stalled"),
        "check the trainer process (crashed, paused or waiting)",
    ),
    ("Every log line read", ("bad line",), "see the bad lines (file, offset) and fix the writer"),
    ("GPU memory headroom", ("gpu memory",), "reduce the batch size or use gradient checkpointing"),
)

_MARK = {"critical": "✗", "warning": "⚠️ ", "info": "ℹ"}


def _family(message: str) -> str | None:
    low = message.lower()
    for label, words, _fix in CHECKS:
        if any(w in low for w in words):
            return label
    return None


def diagnosis_lines(facts: RunFacts) -> list[str]:
    """The diagnosis in ``train-dl-visualization.md``'s style: a ✓ line per check family with
    no alert, a ✗ (critical) / ⚠️ (warning) / ℹ (info) line per alert, with ``→ Try:`` and a fix
    when the alert's text suggests none. Plain text (run text included, never interpreted)."""
    h = facts.header
    step = "—" if h.step is None else f"{h.step:,}"
    stage = h.stage + (f" ({h.stage_name})" if h.stage_name else "")
    lines = [
        "📊 Training diagnostics",
        f"Run: {facts.state.where}",
        f"Status: {facts.status.text} · step {step} · stage {stage} · week {h.week} · "
        f"ETA {facts.speed.eta}",
    ]
    for s in facts.summaries:
        if s.name in ("loss", "performance") and s.last is not None:
            best = "" if s.best is None else f" (best {s.best:.4g} at step {s.best_step:,})"
            bad = facts.state.logged_nonfinite(s.name, 0)
            if bad is not None and s.last_step is not None and bad.last_step > s.last_step:
                lines.append(
                    f"{s.name}: {format_value(s.name, bad.last_value)} at step {bad.last_step:,}, last finite "
                    f"{s.last:.4g} at step {s.last_step:,}{best}"
                )
            else:
                lines.append(f"{s.name}: {s.last:.4g}{best}")
    fired = {_family(a.message) for a in facts.alerts}
    lines.append("")
    for label, _words, _fix in CHECKS:
        if label not in fired:
            lines.append(f"✓ {label}")
    for a in facts.alerts:
        lines.append(f"{_MARK.get(a.severity, '⚠️ ')} {a.severity.upper()}: {a.message}")
        family = _family(a.message)
        low = a.message.lower()
        if family is not None and "→" not in a.message and "consider" not in low:
            fix = next(f for lab, _w, f in CHECKS if lab == family)
            lines.append(f"   → Try: {fix}")
    code = exit_code(facts.alerts)
    lines.append("")
    lines.append(["Healthy (exit 0)", "Warnings (exit 1)", "Critical (exit 2)"][code])
    return lines


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def summary_json(facts: RunFacts) -> dict[str, Any]:
    """A ``training_metrics.json``-like summary: per-metric last/min/max/best/step, milestones,
    alarms and status. Only JSON values (non-finite floats as strings)."""
    total, passed, items = facts.milestones
    meta = facts.state.metadata or {}
    return {
        "checkpoint_dir": facts.state.where,
        "generated_at": facts.now,
        "status": facts.status.kind,
        "status_text": facts.status.text,
        "exit_code": exit_code(facts.alerts),
        "step": facts.header.step,
        "stage": facts.header.stage,
        "stage_name": facts.header.stage_name,
        "week": facts.header.week,
        "total_steps": _finite(meta.get("total_steps")),
        "duration": facts.speed.duration,
        "steps_per_s": facts.speed.steps_per_s,
        "eta": facts.speed.eta,
        "metrics": {
            s.name: {k: _finite(v) for k, v in s.as_json().items()} for s in facts.summaries
        },
        "milestones": {"total": total, "passed": passed, "items": {name: ok for name, ok in items}},
        "alarms": [
            {"severity": a.severity, "message": a.message, "source": a.source} for a in facts.alerts
        ],
        "alarm_history": [str(a) for a in facts.alert_history],
        "counts": {
            "metric_rows": len(facts.metrics),
            "growth_events": len(facts.state.growth_events),
            "consolidation_events": len(facts.state.consolidation_events),
            "bad_lines": facts.state.bad_line_count,
            "restarts": len(facts.state.restarts),
        },
    }
