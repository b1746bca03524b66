"""Automatic health checks on a run's frames: pure functions, no I/O, no Streamlit.

``check_health(state, now=...)`` looks at one :class:`~dashboard.run_state.RunState` and returns the
problems a researcher would want to see first, as :class:`~dashboard.run_state.HealthWarning` with
``source="health"``. Every threshold lives in :class:`HealthThresholds` (documented there, in
:mod:`dashboard.analysis.thresholds` with the :class:`Columns` the rules share); the page merges these with the metadata's own warnings (``state.warnings``).

Rules (one function each, in the order the page shows them):

========================  ==========  ====================================================
rule                      severity    trigger
========================  ==========  ====================================================
non-finite loss           critical    a logged NaN/±Inf ``loss`` (names the first step) and
                                      no finite loss after the last one; once finite
                                      losses follow: warning "recovered since step M"
loss divergence           critical    recent loss level > ``divergence_factor`` × the early
                                      level of the current segment (see below)
plateau                   warning     best (smoothed) loss of the segment's last
                                      ``plateau_points`` not better than its best before
firing rate band          warning     latest firing rate outside the healthy band
capacity saturation       warning     latest capacity, overall or per region, > max
trainer stalled           warning     no new line for > ``stall_minutes`` and not finished
restarts                  info        the run resumed / a log file was truncated or replaced
bad lines                 warning     the loader skipped lines
overfitting               warning     ``val_loss`` rising over the segment's last k points
                                      while the loss fell
vanishing gradients       warning     latest ``grad_norm`` < ``grad_vanishing``
exploding gradients       critical    latest ``grad_norm`` > ``grad_exploding``, or the
                                      latest logged ``grad_norm`` is NaN/±Inf
other non-finite metrics  warning     any other column logged NaN/±Inf (names up to 3)
GPU memory                warning     ``gpu_mem_bytes / gpu_mem_total_bytes`` > max
training checks           …           :data:`dashboard.analysis.diagnosis.TRAINING_RULES`:
                                      divergence from best, dead units, underfitting,
                                      instability, train–val gap, no improvement
========================  ==========  ====================================================

Missing is not NaN: a metric line that does not log ``grad_norm`` leaves NaN in the frame, and
that never triggers anything. The "turned NaN/Inf" rules read what the trainer explicitly logged
as non-finite (``state.logged_nonfinite``, see :mod:`dashboard.run_state`); value rules read finite
values only.

Curriculum-aware loss rules: each stage is harder, so the loss jumps at every stage change by
design. Divergence and plateau look only at the *segment* since the latest stage change or
restart (:func:`dashboard.analysis.loss_rules.segment_start`), and give no verdict on a segment too short
to judge.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from dashboard.analysis.diagnosis import TRAINING_RULES
from dashboard.analysis.downsample import last_finite
from dashboard.analysis.loss_rules import divergence, overfitting, plateau, segment_start
from dashboard.analysis.rule_helpers import Rule, fmt, since, warn
from dashboard.analysis.series import latest_step, rank_frame
from dashboard.analysis.status import RunStatus, run_status
from dashboard.analysis.thresholds import DEFAULT_THRESHOLDS, Columns, HealthThresholds
from dashboard.analysis.units import format_age
from dashboard.run_state import HealthWarning, RunState
from thalia_logging.contract import SEVERITIES, non_finite_text

__all__ = ["CHECK_IDS", "RULES", "Rule", "check_health"]

_nonfinite_name = non_finite_text


def _nonfinite_loss(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    logged = state.logged_nonfinite("loss", m.rank)
    if logged is None:
        return []
    recovered = _finite_after(m, "loss", logged.last_step)
    if recovered is None:  # the latest losses are non-finite: the run is diverging now
        kind = "NaN" if math.isnan(logged.first_value) else "infinite"
        return [
            warn(
                "critical",
                f"Loss became {kind} at step {logged.first_step:,} "
                f"({logged.count:,} non-finite points so far): training has diverged. "
                "Consider a lower learning rate.",
            )
        ]
    last = f", last at step {logged.last_step:,}" if logged.last_step != logged.first_step else ""
    points = "point" if logged.count == 1 else "points"
    return [
        warn(
            "warning",
            f"Non-finite loss at step {logged.first_step:,} ({logged.count:,} "
            f"{points}{last}) — recovered since step {recovered:,}: the losses logged "
            "since then are finite.",
        )
    ]


def _finite_after(m: Columns, name: str, step: int) -> int | None:
    """The first step after ``step`` with a finite value of ``name`` (None: none yet)."""
    values = m.column(name)
    if values is None:
        return None
    steps = m.steps
    start = int(np.searchsorted(steps, step, side="right"))
    later = np.flatnonzero(np.isfinite(values[start:]))
    return int(steps[start + later[0]]) if later.size else None


def _divergence(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    found = divergence(
        m.segment("loss"),
        factor=t.divergence_factor,
        early_points=t.early_points,
        min_points=t.min_points,
        recent_points=t.recent_points,
    )
    if found is None:
        return []
    latest, early = found
    return [
        warn(
            "critical",
            f"Loss is diverging: {fmt(latest)} is {latest / early:.1f}× its "
            f"early level {fmt(early)}{since(m)} (latest at step {int(m.steps[-1]):,}). "
            "→ try lowering lr 2–5× and resuming from a checkpoint before the climb.",
        )
    ]


def _plateau(state: RunState, m: Columns, now: float, t: HealthThresholds) -> list[HealthWarning]:
    w = t.plateau_points
    best = plateau(
        m.segment("loss"), window=w, min_gain=t.plateau_min_gain, smoothing=t.plateau_smoothing
    )
    if best is None:
        return []
    return [
        warn(
            "warning",
            f"Loss has plateaued: no improvement on its best {fmt(best)} "
            f"over the last {w:,} points{since(m)} (to step {int(m.steps[-1]):,}). "
            "→ try lowering lr 2–5× (or a schedule); it may also have converged.",
        )
    ]


def _firing_rate(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    rate = m.column("firing_rate")
    if rate is None:
        return []
    latest = last_finite(rate)
    if latest is None:
        return []
    at = f" at step {int(m.steps[np.flatnonzero(np.isfinite(rate))[-1]]):,}"
    band = f"{t.firing_rate_low:.0%}–{t.firing_rate_high:.0%}"
    if latest < t.firing_rate_low:
        return [
            warn(
                "warning",
                f"Firing rate {latest:.2%}{at} is below the healthy band {band}: "
                "neurons may be dead. → try lowering lr 2–5× or weaker inhibition.",
            )
        ]
    if latest > t.firing_rate_high:
        return [
            warn(
                "warning",
                f"Firing rate {latest:.2%}{at} is above the healthy band {band}: "
                "activity looks epileptic. → try stronger inhibition or lowering lr 2×.",
            )
        ]
    return []


def _capacity(state: RunState, m: Columns, now: float, t: HealthThresholds) -> list[HealthWarning]:
    out: list[HealthWarning] = []
    overall = m.column("capacity")
    latest = last_finite(overall) if overall is not None else None
    if latest is not None and latest > t.capacity_max:
        out.append(
            warn(
                "warning",
                f"Capacity is saturated: {latest:.1%} (above "
                f"{t.capacity_max:.0%}) at step {int(m.steps[-1]):,}. The network needs to grow. "
                "→ try raising the growth budget or letting growth trigger earlier.",
            )
        )
    prefix = "capacity_by_region."
    for name in m.names:
        if not str(name).startswith(prefix):
            continue
        values = m.column(name)
        region_latest = last_finite(values) if values is not None else None
        if region_latest is not None and region_latest > t.capacity_max:
            region = str(name)[len(prefix) :]
            out.append(
                replace(
                    warn(
                        "warning",
                        f"Region {region} is saturated: capacity "
                        f"{region_latest:.1%} (above {t.capacity_max:.0%}) at step "
                        f"{int(m.steps[-1]):,}. → try letting this region grow.",
                    ),
                    check=f"capacity:{region}",
                )
            )
    return out


def _stalled(state: RunState, m: Columns, now: float, t: HealthThresholds) -> list[HealthWarning]:
    status = m.status or run_status(
        state, latest_step(m.frame, state.metadata), now=now, stall_minutes=t.stall_minutes
    )
    if status.kind != "stalled":  # a finished run stops writing: that is no stall
        return []
    idle = now - (state.last_update or now)
    return [
        warn(
            "warning",
            f"No new data for {format_age(idle).removesuffix(' ago')}: the trainer may have "
            "stalled or stopped. The page keeps watching and updates when it writes again.",
        )
    ]


def _restarts(state: RunState, m: Columns, now: float, t: HealthThresholds) -> list[HealthWarning]:
    if not state.restarts:
        return []
    last = state.restarts[-1]
    where = f" to step {last.step:,}" if last.step is not None else ""
    times = "once" if len(state.restarts) == 1 else f"{len(state.restarts)} times"
    return [
        warn(
            "info",
            f"The run restarted {times} (last: {last.kind}{where}, {last.file}). "
            "Restarts are marked on the charts.",
        )
    ]


def _bad_lines(state: RunState, m: Columns, now: float, t: HealthThresholds) -> list[HealthWarning]:
    n = state.bad_line_count
    if n <= 0:
        return []
    lines = "line" if n == 1 else "lines"
    return [warn("warning", f"{n:,} bad {lines} skipped; see Training information for details.")]


def _overfitting(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    val, loss = m.column("val_loss"), m.column("loss")
    latest = (
        None
        if val is None or loss is None
        else overfitting(m.in_segment(val), m.in_segment(loss), points=t.overfit_points)
    )
    if latest is None or val is None:
        return []
    step = int(m.steps[np.flatnonzero(np.isfinite(val))[-1]])
    return [
        warn(
            "warning",
            f"Overfitting (val loss rising): validation loss rose over the last "
            f"{t.overfit_points} points (to {fmt(latest)} at step {step:,}) "
            f"while the training loss fell{since(m)}. → try more regularisation (weight "
            "decay, dropout), more data, or early stopping.",
        )
    ]


def _gradients(state: RunState, m: Columns, now: float, t: HealthThresholds) -> list[HealthWarning]:
    logged = state.logged_nonfinite("grad_norm", m.rank)
    grad = m.column("grad_norm")
    finite_rows = np.empty(0, dtype=np.intp) if grad is None else np.flatnonzero(np.isfinite(grad))
    if logged is not None and (
        finite_rows.size == 0 or logged.last_step > int(m.steps[finite_rows[-1]])
    ):
        return [
            warn(
                "critical",
                f"Exploding gradients: grad_norm is "
                f"{_nonfinite_name(logged.last_value)} at step {logged.last_step:,}. "
                "→ try gradient clipping (max norm 1.0) or lowering lr 2–5×.",
            )
        ]
    if finite_rows.size == 0 or grad is None:
        return []
    latest = float(grad[finite_rows[-1]])
    at = f" at step {int(m.steps[finite_rows[-1]]):,}"
    if latest > t.grad_exploding:
        return [
            warn(
                "critical",
                f"Exploding gradients: grad_norm {fmt(latest)} (above "
                f"{t.grad_exploding:g}){at}. → try gradient clipping (max norm 1.0) or "
                "lowering lr 2–5×.",
            )
        ]
    if latest < t.grad_vanishing:
        return [
            warn(
                "warning",
                f"Vanishing gradients: grad_norm {latest:.2g} (below "
                f"{t.grad_vanishing:g}){at}. → try another activation, normalisation "
                "(batch/layer norm) or residual connections.",
            )
        ]
    return []


def _other_nonfinite(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    nf = state.nonfinite
    logged_cols = nf["column"].to_numpy()[nf["rank"].to_numpy() == m.rank].tolist()
    names = [n for n in dict.fromkeys(logged_cols) if n not in ("loss", "grad_norm")]
    if not names:
        return []
    parts = []
    for name in names[:3]:
        logged = state.logged_nonfinite(name, m.rank)
        assert logged is not None
        parts.append(
            f"{name} ({logged.count:,}×, last {_nonfinite_name(logged.last_value)} at "
            f"step {logged.last_step:,})"
        )
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return [warn("warning", f"Non-finite values logged: {', '.join(parts)}{more}.")]


def _gpu_memory(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    used = m.column("gpu_mem_bytes")
    total = m.column("gpu_mem_total_bytes")
    if used is None or total is None:
        return []
    both = np.flatnonzero(np.isfinite(used) & np.isfinite(total) & (total > 0))
    if both.size == 0:
        return []
    i = both[-1]
    fraction = float(used[i] / total[i])
    if fraction <= t.gpu_mem_fraction:
        return []
    gib = 1024**3
    return [
        warn(
            "warning",
            f"GPU memory at {fraction:.0%} ({used[i] / gib:.1f} of "
            f"{total[i] / gib:.1f} GiB) at step {int(m.steps[i]):,}: training may run out of "
            "memory. → try a smaller batch size or gradient checkpointing.",
        )
    ]


RULES: tuple[Rule, ...] = (
    _nonfinite_loss,
    _divergence,
    _plateau,
    _firing_rate,
    _capacity,
    _stalled,
    _restarts,
    _bad_lines,
    _overfitting,
    _gradients,
    _other_nonfinite,
    _gpu_memory,
    *TRAINING_RULES,
)
#: rule -> the stable check id of its warnings (``HealthWarning.check``; alarms key by it)
CHECK_IDS: dict[Rule, str] = {rule: rule.__name__.lstrip("_") for rule in RULES}


def check_health(
    state: RunState,
    *,
    now: float,
    thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
    rank: int = 0,
    status: RunStatus | None = None,
) -> list[HealthWarning]:
    """Run every rule on ``state`` (metric rows of ``rank``) and return the warnings, critical first.

    ``now`` is the current Unix time (the stall rule compares it with ``state.last_update``);
    ``status`` is the run status already computed for this ``now`` (see
    :mod:`dashboard.analysis.run_facts`), else the stall rule computes it.
    """
    metrics = state.metrics_history
    frame = rank_frame(metrics, rank) if "step" in metrics.columns else pd.DataFrame({"step": []})
    stage_steps = state.stage_events["step"].tolist()
    start = segment_start(stage_steps, (r.step for r in state.restarts))
    m = Columns(
        frame,
        rank=rank,
        start=start,
        start_kind="stage change" if start in stage_steps else "restart",
        status=status,
    )
    found: list[HealthWarning] = []
    for rule in RULES:
        for w in rule(state, m, now, thresholds):
            found.append(w if w.check else replace(w, check=CHECK_IDS[rule]))
    return sorted(found, key=lambda w: -SEVERITIES.index(w.severity))
