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

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from dashboard.analysis.diagnosis import TRAINING_RULES
from dashboard.analysis.downsample import last_finite
from dashboard.analysis.loss_checks import (
    _divergence,
    _gradients,
    _nonfinite_loss,
    _other_nonfinite,
    _overfitting,
    _plateau,
)
from dashboard.analysis.loss_rules import segment_start
from dashboard.analysis.loss_segment import kept_segment
from dashboard.analysis.memo import SnapshotMemo
from dashboard.analysis.rule_helpers import Rule, last_finite_row, warn
from dashboard.analysis.series import latest_step, rank_frame
from dashboard.analysis.status import RunStatus, run_status
from dashboard.analysis.thresholds import DEFAULT_THRESHOLDS, Columns, HealthThresholds
from dashboard.analysis.units import format_age
from dashboard.run_state import HealthWarning, RunState
from thalia_logging.contract import SEVERITIES

__all__ = ["CHECK_IDS", "NOW_RULES", "RULES", "Rule", "check_health"]


def _firing_rate(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    rate = m.column("firing_rate")
    if rate is None:
        return []
    latest = last_finite(rate)
    if latest is None:
        return []
    at = f" at step {int(m.steps[last_finite_row(rate) or 0]):,}"
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


#: the rules whose verdict depends on ``now`` (or the status computed for it); every other rule
#: depends only on the snapshot, the rank and the thresholds, so its verdict can be kept per snapshot
NOW_RULES: frozenset[Rule] = frozenset({_stalled})

_Verdicts = tuple[tuple[HealthWarning, ...], ...]


def _kept_verdicts(
    state: RunState, m: Columns, verdicts: Callable[[tuple[Rule, ...]], _Verdicts]
) -> _Verdicts:
    """The snapshot rules' verdicts with ``m.loss`` the run's kept segment, brought up to date."""
    segment = kept_segment(str(state.checkpoint_dir), m.rank)
    with segment.lock:
        loss = m.column("loss")
        if loss is not None:
            segment.update(loss, m.steps, m.start)
        m.loss = segment if loss is not None else None
        try:
            return verdicts(tuple(r for r in RULES if r not in NOW_RULES))
        finally:
            m.loss = None


def check_health(
    state: RunState,
    *,
    now: float,
    thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
    rank: int = 0,
    status: RunStatus | None = None,
    memo: SnapshotMemo[_Verdicts] | None = None,
) -> list[HealthWarning]:
    """Run every rule on ``state`` (metric rows of ``rank``) and return the warnings, critical first.

    ``now`` is the current Unix time (the stall rule compares it with ``state.last_update``);
    ``status`` is the run status already computed for this ``now`` (see
    :mod:`dashboard.analysis.run_facts`), else the stall rule computes it. With ``memo``, the
    verdicts of the rules outside :data:`NOW_RULES` are kept per (snapshot, rank, thresholds) and
    reused while the snapshot is the same, and the segment's losses are kept across snapshots
    (:func:`~dashboard.analysis.loss_segment.kept_segment`): the same warnings, in the same
    order, as without.
    """
    metrics = state.metrics_history
    frame = rank_frame(metrics, rank) if "step" in metrics.columns else pd.DataFrame({"step": []})
    stage_steps = state.stage_events["step"].tolist()
    start = segment_start(stage_steps, (r.step for r in state.restarts))
    kind = "stage change" if start in stage_steps else "restart"
    m = Columns(frame, rank=rank, start=start, start_kind=kind, status=status)

    def verdicts(rules: tuple[Rule, ...]) -> _Verdicts:
        return tuple(
            tuple(
                w if w.check else replace(w, check=CHECK_IDS[rule])
                for w in rule(state, m, now, thresholds)
            )
            for rule in rules
        )

    snapshot_rules = tuple(r for r in RULES if r not in NOW_RULES)
    if memo is None:
        kept = verdicts(snapshot_rules)
    else:
        kept = memo.get(state, (rank, thresholds), lambda: _kept_verdicts(state, m, verdicts))
    by_rule = dict(zip(snapshot_rules, kept, strict=True))
    fresh = dict(zip(NOW_RULES, verdicts(tuple(NOW_RULES)), strict=True))
    found = [w for rule in RULES for w in (fresh[rule] if rule in fresh else by_rule[rule])]
    return sorted(found, key=lambda w: -SEVERITIES.index(w.severity))
