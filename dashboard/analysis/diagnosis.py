"""Training-diagnosis checks: the rules of the train-dl and training-monitor references that the
core rules of :mod:`dashboard.analysis.health` do not cover. Pure functions, no I/O, no Streamlit.

Every rule has the signature of a health rule (``(state, columns, now, thresholds) → warnings``)
and is registered in :data:`dashboard.analysis.health.RULES` through :data:`TRAINING_RULES`, so
every surface (page, report, terminal view) shows the same verdicts. Every warning names the step
it is about and a suggested fix (``→ try …``), as ``train-dl-visualization.md`` does.

========================  ==========  ====================================================
rule                      severity    trigger (thresholds: fields of ``HealthThresholds``)
========================  ==========  ====================================================
divergence from best      critical    recent loss level > ``divergence_best_factor`` × the
                                      segment's best level, that best ≤
                                      ``divergence_best_drop`` × the segment's early level
                                      (the run had learned), and the plain divergence rule
                                      (× the early level) not already firing
dead units                warning     latest ``dead_unit_fraction`` or
                                      ``dead_unit_fraction.<region>`` > ``dead_unit_fraction``
underfitting              warning     the segment's last ``underfit_points`` losses all above
                                      ``underfit_loss`` and flat (the mean of their last third
                                      not ``underfit_min_gain`` (relative) below the mean of
                                      their first third), with the latest performance below
                                      ``underfit_performance``
instability               warning     robust rolling std of the segment's last
                                      ``instability_points`` losses (from the interquartile
                                      range of the step-to-step changes, so one spike is
                                      not instability nor a steady fall noise) above
                                      ``instability_rel_std`` × their median and above
                                      ``instability_min_std`` (a converged loss near 0 has
                                      a large relative noise and is fine)
overfitting (train–val    warning     latest train performance − validation performance
gap)                                  > ``gap_points`` percentage points (pairs:
                                      ``performance``/``val_performance``,
                                      ``accuracy``/``val_accuracy``, else
                                      ``performance``/``val_accuracy``)
no improvement            warning     ``val_loss`` has not beaten its best of the segment
                                      (by ``patience_min_gain``, relative) for
                                      ``patience_evals`` evaluations; when the run logs
                                      ``patience``, that value instead, and an ``info``
                                      with the remaining patience while some is left
========================  ==========  ====================================================

The curriculum rule of the core checks holds here too: every loss and validation comparison
looks only at the current segment (since the latest stage change or restart, see
:func:`dashboard.analysis.loss_rules.segment_start`), so a stage jump never fires anything.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

from dashboard.analysis.loss_rules import divergence
from dashboard.analysis.thresholds import Columns, HealthThresholds
from dashboard.run_state import HealthWarning, RunState, Severity

__all__ = [
    "DEAD_PREFIX",
    "GAP_PAIRS",
    "TRAINING_RULES",
    "Rule",
    "dead_units",
    "divergence_from_best",
    "instability",
    "no_improvement",
    "robust_std",
    "train_val_gap",
    "underfitting",
]

Rule = Callable[[RunState, Columns, float, HealthThresholds], list[HealthWarning]]
DEAD_PREFIX = "dead_unit_fraction"
GAP_PAIRS = (
    ("performance", "val_performance"),
    ("accuracy", "val_accuracy"),
    ("performance", "val_accuracy"),
)
_IQR_TO_STD = 1.349 * float(np.sqrt(2.0))


def _warn(severity: Severity, message: str) -> HealthWarning:
    return HealthWarning(severity=severity, message=message, source="health")


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _since(m: Columns) -> str:
    return f" (since the {m.start_kind} at step {m.start:,})" if m.start > 0 else ""


#: (steps, values) per Columns (one check_health call) and column: three rules read the loss
_SEGMENTS: weakref.WeakKeyDictionary[Columns, dict[str, tuple[np.ndarray, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def _segment_rows(m: Columns, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of the finite values of ``name`` in the current segment."""
    cached = _SEGMENTS.setdefault(m, {})
    if name not in cached:
        values = m.column(name)
        if values is None:
            cached[name] = np.empty(0, dtype=np.int64), np.empty(0)
        else:
            steps = m.steps
            first = int(np.searchsorted(steps, m.start, side="left"))
            values, steps = values[first:], steps[first:]
            ok = np.isfinite(values)
            cached[name] = (steps, values) if ok.all() else (steps[ok], values[ok])
    return cached[name]


def _last_finite_row(values: np.ndarray, end: int | None = None) -> int | None:
    """The last row before ``end`` with a finite value, looking back from ``end`` in growing
    windows (the latest value of a long column is found without scanning all of it)."""
    n = values.size if end is None else end
    window = 64
    while True:
        ok = np.flatnonzero(np.isfinite(values[max(0, n - window) : n]))
        if ok.size:
            return max(0, n - window) + int(ok[-1])
        if window >= n:
            return None
        window *= 16


def _latest(m: Columns, name: str) -> tuple[int, float] | None:
    """(step, value) of the last finite value of ``name`` (None: none)."""
    values = m.column(name)
    row = None if values is None else _last_finite_row(values)
    if values is None or row is None:
        return None
    return int(m.steps[row]), float(values[row])


def _as_fraction(value: float) -> float:
    """A performance as a fraction: values above 1 are read as percent."""
    return value / 100.0 if value > 1.0 else value


def robust_std(values: np.ndarray) -> float:
    """The noise level of ``values`` (≥ 3 finite points): the interquartile range of the
    step-to-step changes / (1.349 √2), the standard deviation of the noise for Gaussian noise.
    Robust to a single spike (two outlying changes) and blind to a steady trend (equal changes);
    swings up and down (a bimodal set of changes) keep their full width."""
    diffs = np.diff(values)
    if diffs.size < 2:
        return 0.0
    q1, q3 = np.percentile(diffs, [25, 75])
    return float(q3 - q1) / _IQR_TO_STD


def divergence_from_best(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    steps, loss = _segment_rows(m, "loss")
    k = max(t.recent_points, 1)
    if loss.size < max(t.min_points, 2 * k):
        return []
    if (
        divergence(
            loss,
            factor=t.divergence_factor,
            early_points=t.early_points,
            min_points=t.min_points,
            recent_points=k,
        )
        is not None
    ):
        return []  # the plain divergence rule already says it
    early = float(np.median(loss[: t.early_points]))
    recent = float(np.median(loss[-k:]))
    sums = np.cumsum(np.r_[0.0, loss[:-k]])
    levels = (sums[k:] - sums[:-k]) / k  # levels[i] = mean(loss[i:i + k]), before the recent ones
    if levels.size == 0:
        return []
    at = int(np.argmin(levels))
    best = float(levels[at])
    if best <= 0 or early <= 0 or best > t.divergence_best_drop * early:
        return []
    if recent <= t.divergence_best_factor * best:
        return []
    return [
        _warn(
            "critical",
            f"Loss is diverging: {_fmt(recent)} at step {int(steps[-1]):,} is "
            f"{recent / best:.1f}× its best level {_fmt(best)} (step {int(steps[at]):,})"
            f"{_since(m)}, though under {t.divergence_factor:g}× the first losses. "
            "→ try lowering lr 2–5× and resuming from a checkpoint before the climb.",
        )
    ]


def dead_units(state: RunState, m: Columns, now: float, t: HealthThresholds) -> list[HealthWarning]:
    found: list[tuple[str, int, float]] = []
    for name in m.names:
        if name != DEAD_PREFIX and not name.startswith(DEAD_PREFIX + "."):
            continue
        latest = _latest(m, name)
        if latest is not None and latest[1] > t.dead_unit_fraction:
            found.append((name[len(DEAD_PREFIX) + 1 :], *latest))
    if not found:
        return []
    found.sort(key=lambda f: -f[2])
    parts = [
        f"{region or 'overall'} {value:.0%} (step {step:,})" for region, step, value in found[:3]
    ]
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return [
        _warn(
            "warning",
            f"Dead units: more than {t.dead_unit_fraction:.0%} of units inactive "
            f"— {', '.join(parts)}{more}. → try lowering lr 2–5×, a leaky activation "
            "(LeakyReLU/GELU) or a smaller negative bias at init.",
        )
    ]


def underfitting(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    steps, loss = _segment_rows(m, "loss")
    n = t.underfit_points
    if n < 3 or loss.size < n:
        return []
    tail = loss[-n:]
    if float(tail.min()) <= t.underfit_loss:
        return []
    third = n // 3
    first, last = float(tail[:third].mean()), float(tail[-third:].mean())
    if first <= 0 or (first - last) / first >= t.underfit_min_gain:
        return []
    perf = _latest(m, "performance") or _latest(m, "accuracy")
    if perf is None or _as_fraction(perf[1]) >= t.underfit_performance:
        return []
    return [
        _warn(
            "warning",
            f"Underfitting: the loss stayed above {t.underfit_loss:g} and flat "
            f"(now {_fmt(float(tail[-1]))}) over the last {n} points to step "
            f"{int(steps[-1]):,}, with performance {_as_fraction(perf[1]):.0%} (below "
            f"{t.underfit_performance:.0%}){_since(m)}. → try a larger network (let it "
            "grow), training longer, or raising lr 2×.",
        )
    ]


def instability(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    steps, loss = _segment_rows(m, "loss")
    w = t.instability_points
    if w < 3 or loss.size < w:
        return []
    tail = loss[-w:]
    level = abs(float(np.median(tail)))
    noise = robust_std(tail)
    if level <= 0 or noise <= max(t.instability_rel_std * level, t.instability_min_std):
        return []
    return [
        _warn(
            "warning",
            f"Instability: the loss swings by ±{_fmt(noise)} around "
            f"{_fmt(level)} ({noise / level:.0%} of it, above {t.instability_rel_std:.0%}) "
            f"over the last {w} points to step {int(steps[-1]):,}{_since(m)}. "
            "→ try lowering lr 2–5×, a larger batch, or gradient clipping; "
            "check the data for corrupt samples.",
        )
    ]


def train_val_gap(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    for train_name, val_name in GAP_PAIRS:
        train, val = m.column(train_name), m.column(val_name)
        if train is None or val is None:
            continue
        row = _last_finite_row(val)
        if row is None or int(m.steps[row]) < m.start:
            return []
        train_row = _last_finite_row(train, row + 1)
        if train_row is None:
            return []
        tr, va = float(train[train_row]), float(val[row])
        scale = 1.0 if max(abs(tr), abs(va)) > 1.0 else 100.0
        gap = (tr - va) * scale
        if gap <= t.gap_points:
            return []
        return [
            _warn(
                "warning",
                f"Overfitting (train–val gap): {train_name} {_fmt(tr)} vs "
                f"{val_name} {_fmt(va)} at step {int(m.steps[row]):,}, a gap of "
                f"{gap:.1f} pp (above {t.gap_points:g} pp){_since(m)}. → try more "
                "regularisation (weight decay 1e-3, dropout), more data, or early stopping.",
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
    steps, val = _segment_rows(m, "val_loss")
    if val.size < 2:
        return []
    best_at, waited = _evals_since_best(val, t.patience_min_gain)
    logged = _latest(m, "patience")
    patience = int(logged[1]) if logged is not None and logged[1] >= 1 else None
    best = (
        f"best val_loss {_fmt(float(val[best_at]))} at step {int(steps[best_at]):,}, "
        f"last evaluation at step {int(steps[-1]):,}"
    )
    evals = "evaluation" if waited == 1 else "evaluations"
    if patience is not None and 0 < waited < patience:
        return [
            _warn(
                "info",
                f"No better val_loss for {waited} {evals}: {patience - waited} of "
                f"{patience} patience left ({best}){_since(m)}.",
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
        _warn(
            "warning",
            f"No improvement: val_loss has not beaten its best for {waited} "
            f"{evals} ({best}){_since(m)}; {stop}. → try lowering lr 2–5× (or a "
            "schedule), or stop and keep the best checkpoint.",
        )
    ]


TRAINING_RULES: tuple[Rule, ...] = (
    divergence_from_best,
    dead_units,
    underfitting,
    instability,
    train_val_gap,
    no_improvement,
)
"""The rules of this module, in the order the page lists them (after the core rules)."""
