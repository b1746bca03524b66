"""The facts of one run that the offline report, its JSON summary and the terminal view show.

Everything here comes from :mod:`dashboard.analysis` (health checks, run status, speed) and
:mod:`dashboard.page.views` (header facts, milestones) over one :class:`RunState`, so a number or
an alert means the same thing on the page, in the report and in the terminal. No Streamlit, no
I/O except :func:`run_configs` (a bounded, read-only look for ``run_start`` configs, which the
reader does not keep).

Metric direction: a name holding ``loss`` (or ``error``/``perplexity``) is better when lower;
``performance`` or a name holding ``accuracy``/``acc`` is better when higher; any other metric
is neutral (no best). ``val_X`` follows ``X``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from dashboard.analysis.health import DEFAULT_THRESHOLDS, check_health
from dashboard.analysis.series import CARD_METRICS, extra_metric_columns, rank_frame
from dashboard.analysis.status import RunStatus, SpeedInfo, run_status, speed_info
from dashboard.analysis.units import format_value
from dashboard.page.views import Header, header_facts, milestone_summary
from dashboard.reading.safefile import UnsafeFile, check_file, open_regular
from dashboard.run_state import HealthWarning, RunState

__all__ = [
    "CHECKS",
    "CONFIG_SCAN_BYTES",
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

Direction = Literal["down", "up", "neutral"]

#: The core metric columns, in the page's order (no Altair import: the terminal view uses this).
CORE_METRICS = tuple(name for name, _label in CARD_METRICS)

#: How many bytes of each log file :func:`run_configs` reads looking for ``run_start`` lines.
CONFIG_SCAN_BYTES = 8 * 1024 * 1024
_MAX_CONFIGS = 20


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


def run_configs(state: RunState) -> list[dict[str, Any]]:
    """The ``config`` of each ``run_start`` line (with ``run_id`` and ``step``) in the first
    :data:`CONFIG_SCAN_BYTES` of each log file; read-only, regular files inside the directory
    only. A file that cannot be read or a line that is not JSON is skipped (the reader already
    reports bad lines)."""
    found: list[dict[str, Any]] = []
    for name in state.log_files:
        try:
            path = check_file(str(state.checkpoint_dir), name)
            with open_regular(path) as f:
                head = f.read(CONFIG_SCAN_BYTES)
        except (OSError, UnsafeFile):
            continue
        for raw in head.split(b"\n"):
            if b"run_start" not in raw:
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("event_type") == "run_start":
                found.append(
                    {
                        "file": name,
                        "step": obj.get("step"),
                        "run_id": obj.get("run_id"),
                        "resumed_from_step": obj.get("resumed_from_step"),
                        "config": obj.get("config"),
                    }
                )
                if len(found) >= _MAX_CONFIGS:
                    return found
    return found


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
    status = run_status(state, header.step, now=now, stall_minutes=DEFAULT_THRESHOLDS.stall_minutes)
    speed = speed_info(state, metrics, status=status.kind)
    alerts = [*check_health(state, now=now, rank=rank), *state.warnings]
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
        f"Run: {facts.state.checkpoint_dir}",
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
        "checkpoint_dir": os.fspath(facts.state.checkpoint_dir),
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
