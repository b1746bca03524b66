"""Training-diagnosis checks: the rules of the train-dl and training-monitor references that the
core rules of :mod:`dashboard.analysis.health` do not cover. Pure functions, no I/O, no Streamlit.

Every rule has the signature of a health rule (``(state, columns, now, thresholds) → warnings``)
and is registered in :data:`dashboard.analysis.health.RULES` through :data:`TRAINING_RULES`, so
every surface (page, report, terminal view) shows the same verdicts. Every warning names the step
it is about and a suggested fix (``→ try …``), as ``train-dl-visualization.md`` does. The two
validation rules (train–val gap, no improvement) live in
:mod:`dashboard.analysis.validation_rules`; the helpers all rules share in
:mod:`dashboard.analysis.rule_helpers`.

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

import numpy as np

from dashboard.analysis.loss_rules import divergence
from dashboard.analysis.rule_helpers import (
    Rule,
    as_fraction,
    fmt,
    latest,
    segment_rows,
    since,
    warn,
)
from dashboard.analysis.thresholds import Columns, HealthThresholds
from dashboard.analysis.validation_rules import no_improvement, train_val_gap
from dashboard.run_state import HealthWarning, RunState

__all__ = [
    "DEAD_PREFIX",
    "TRAINING_RULES",
    "Rule",
    "dead_units",
    "divergence_from_best",
    "instability",
    "robust_std",
    "underfitting",
]

DEAD_PREFIX = "dead_unit_fraction"
_IQR_TO_STD = 1.349 * float(np.sqrt(2.0))


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


def _best_level(m: Columns, loss: np.ndarray, k: int) -> tuple[float, int] | None:
    """(lowest, its position) of ``levels[i] = mean(loss[i:i + k])`` before the last ``k``
    losses: kept across snapshots when ``m.loss`` holds the segment, else computed here."""
    count = loss.size - 2 * k + 1
    if m.loss is not None:
        return m.loss.best_level(k, count)
    if count < 1:
        return None
    sums = np.cumsum(np.r_[0.0, loss[:-k]])
    levels = (sums[k:] - sums[:-k]) / k
    at = int(np.argmin(levels))
    return float(levels[at]), at


def divergence_from_best(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    steps, loss = segment_rows(m, "loss")
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
    found = _best_level(m, loss, k)
    if found is None:
        return []
    best, at = found
    if best <= 0 or early <= 0 or best > t.divergence_best_drop * early:
        return []
    if recent <= t.divergence_best_factor * best:
        return []
    return [
        warn(
            "critical",
            f"Loss is diverging: {fmt(recent)} at step {int(steps[-1]):,} is "
            f"{recent / best:.1f}× its best level {fmt(best)} (step {int(steps[at]):,})"
            f"{since(m, parenthesised=True)}, though under {t.divergence_factor:g}× the first losses. "
            "→ try lowering lr 2–5× and resuming from a checkpoint before the climb.",
        )
    ]


def dead_units(state: RunState, m: Columns, now: float, t: HealthThresholds) -> list[HealthWarning]:
    found: list[tuple[str, int, float]] = []
    for name in m.names:
        if name != DEAD_PREFIX and not name.startswith(DEAD_PREFIX + "."):
            continue
        found_latest = latest(m, name)
        if found_latest is not None and found_latest[1] > t.dead_unit_fraction:
            found.append((name[len(DEAD_PREFIX) + 1 :], *found_latest))
    if not found:
        return []
    found.sort(key=lambda f: -f[2])
    parts = [
        f"{region or 'overall'} {value:.0%} (step {step:,})" for region, step, value in found[:3]
    ]
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return [
        warn(
            "warning",
            f"Dead units: more than {t.dead_unit_fraction:.0%} of units inactive "
            f"— {', '.join(parts)}{more}. → try lowering lr 2–5×, a leaky activation "
            "(LeakyReLU/GELU) or a smaller negative bias at init.",
        )
    ]


def underfitting(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    steps, loss = segment_rows(m, "loss")
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
    perf = latest(m, "performance") or latest(m, "accuracy")
    if perf is None or as_fraction(perf[1]) >= t.underfit_performance:
        return []
    return [
        warn(
            "warning",
            f"Underfitting: the loss stayed above {t.underfit_loss:g} and flat "
            f"(now {fmt(float(tail[-1]))}) over the last {n} points to step "
            f"{int(steps[-1]):,}, with performance {as_fraction(perf[1]):.0%} (below "
            f"{t.underfit_performance:.0%}){since(m, parenthesised=True)}. → try a larger network (let it "
            "grow), training longer, or raising lr 2×.",
        )
    ]


def instability(
    state: RunState, m: Columns, now: float, t: HealthThresholds
) -> list[HealthWarning]:
    steps, loss = segment_rows(m, "loss")
    w = t.instability_points
    if w < 3 or loss.size < w:
        return []
    tail = loss[-w:]
    level = abs(float(np.median(tail)))
    noise = robust_std(tail)
    if level <= 0 or noise <= max(t.instability_rel_std * level, t.instability_min_std):
        return []
    return [
        warn(
            "warning",
            f"Instability: the loss swings by ±{fmt(noise)} around "
            f"{fmt(level)} ({noise / level:.0%} of it, above {t.instability_rel_std:.0%}) "
            f"over the last {w} points to step {int(steps[-1]):,}{since(m, parenthesised=True)}. "
            "→ try lowering lr 2–5×, a larger batch, or gradient clipping; "
            "check the data for corrupt samples.",
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
