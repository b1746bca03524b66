"""The health rules over logged values: non-finite loss (critical while the latest losses are non-finite, then 'recovered since'), divergence, plateau, overfitting (val loss rising), gradients and other non-finite metrics. Registered in :data:`dashboard.analysis.health.RULES`, which gives each its check id."""

from __future__ import annotations

import math

import numpy as np

from dashboard.analysis.loss_rules import divergence, overfitting, plateau, plateau_of
from dashboard.analysis.rule_helpers import fmt, last_finite_row, since, warn
from dashboard.analysis.thresholds import Columns, HealthThresholds
from dashboard.run_state import HealthWarning, RunState
from thalia_logging.contract import non_finite_text

__all__ = []


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
    w, gain, k = t.plateau_points, t.plateau_min_gain, t.plateau_smoothing
    best = (
        plateau(m.segment("loss"), window=w, min_gain=gain, smoothing=k)
        if m.loss is None
        else plateau_of(m.loss, window=w, min_gain=gain, smoothing=k)
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
    row = None if grad is None else last_finite_row(grad)
    if logged is not None and (row is None or logged.last_step > int(m.steps[row])):
        return [
            warn(
                "critical",
                f"Exploding gradients: grad_norm is "
                f"{non_finite_text(logged.last_value)} at step {logged.last_step:,}. "
                "→ try gradient clipping (max norm 1.0) or lowering lr 2–5×.",
            )
        ]
    if row is None or grad is None:
        return []
    latest = float(grad[row])
    at = f" at step {int(m.steps[row]):,}"
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
            f"{name} ({logged.count:,}×, last {non_finite_text(logged.last_value)} at "
            f"step {logged.last_step:,})"
        )
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return [warn("warning", f"Non-finite values logged: {', '.join(parts)}{more}.")]
