"""Validation checks: the rules of :mod:`dashboard.analysis.diagnosis` that compare training with
validation, or validation with its own best. Pure functions, no I/O, no Streamlit.

Both have the signature of a health rule and are registered through
:data:`dashboard.analysis.diagnosis.TRAINING_RULES` (the table of triggers is there):

- :func:`train_val_gap` — overfitting: latest train performance − validation performance above
  ``gap_points`` percentage points (pairs: :data:`GAP_PAIRS`, the first both logged)
- :func:`no_improvement` — ``val_loss`` has not beaten its best of the segment for
  ``patience_evals`` evaluations (or the run's logged ``patience``)
"""

from __future__ import annotations

import numpy as np

from dashboard.analysis.rule_helpers import fmt, last_finite_row, latest, segment_rows, since, warn
from dashboard.analysis.thresholds import Columns, HealthThresholds
from dashboard.run_state import HealthWarning, RunState

__all__ = ["GAP_PAIRS", "no_improvement", "train_val_gap"]

GAP_PAIRS = (
    ("performance", "val_performance"),
    ("accuracy", "val_accuracy"),
    ("performance", "val_accuracy"),
)


def train_val_gap(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    for train_name, val_name in GAP_PAIRS:
        train, val = m.column(train_name), m.column(val_name)
        if train is None or val is None:
            continue
        row = last_finite_row(val)
        if row is None or int(m.steps[row]) < m.start:
            return []
        train_row = last_finite_row(train, row + 1)
        if train_row is None:
            return []
        tr, va = float(train[train_row]), float(val[row])
        scale = 1.0 if max(abs(tr), abs(va)) > 1.0 else 100.0
        gap = (tr - va) * scale
        if gap <= t.gap_points:
            return []
        return [
            warn(
                "warning",
                f"Overfitting (train–val gap): {train_name} {fmt(tr)} vs "
                f"{val_name} {fmt(va)} at step {int(m.steps[row]):,}, a gap of "
                f"{gap:.1f} pp (above {t.gap_points:g} pp){since(m, parenthesised=True)}. "
                "→ try more regularisation (weight decay 1e-3, dropout), more data, or early "
                "stopping.",
            )
        ]
    return []


def _evals_since_best(val: np.ndarray, min_gain: float) -> tuple[int, int]:
    """(index of the last evaluation that beat the best before it by ``min_gain`` (relative),
    evaluations since then)."""
    best_before = np.minimum.accumulate(val)[:-1]
    better = np.flatnonzero(val[1:] < best_before - np.abs(best_before) * min_gain) + 1
    last = int(better[-1]) if better.size else 0
    return last, val.size - 1 - last


def no_improvement(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    steps, val = segment_rows(m, "val_loss")
    if val.size < 2:
        return []
    best_at, waited = _evals_since_best(val, t.patience_min_gain)
    logged = latest(m, "patience")
    patience = int(logged[1]) if logged is not None and logged[1] >= 1 else None
    best = (
        f"best val_loss {fmt(float(val[best_at]))} at step {int(steps[best_at]):,}, "
        f"last evaluation at step {int(steps[-1]):,}"
    )
    evals = "evaluation" if waited == 1 else "evaluations"
    if patience is not None and 0 < waited < patience:
        return [
            warn(
                "info",
                f"No better val_loss for {waited} {evals}: {patience - waited} of "
                f"{patience} patience left ({best}){since(m, parenthesised=True)}.",
            )
        ]
    limit = patience if patience is not None else t.patience_evals
    if waited < max(limit, 1):
        return []
    stop = (
        f"early-stopping patience ({patience}) is used up"
        if patience is not None
        else f"patience {limit} would stop the run here"
    )
    return [
        warn(
            "warning",
            f"No improvement: val_loss has not beaten its best for {waited} "
            f"{evals} ({best}){since(m, parenthesised=True)}; {stop}. → try lowering lr 2–5× "
            "(or a schedule), or stop and keep the best checkpoint.",
        )
    ]
