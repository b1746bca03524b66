"""The training checks of dashboard.analysis.diagnosis, table-driven: each fires past its
threshold, stays quiet at the boundary, and a curriculum stage jump fires nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from page_helpers import make_metrics, make_state

from dashboard.analysis.diagnosis import robust_std
from dashboard.analysis.health import HealthThresholds, check_health
from dashboard.run_state import RunState

NOW = 1_700_000_100.0


@dataclass
class Case:
    id: str
    state: RunState
    severity: str | None  # None: no health warning at all
    contains: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def stages(*steps: int) -> pd.DataFrame:
    n = len(steps)
    return pd.DataFrame(
        {
            "step": np.asarray(steps, dtype=np.int64),
            "wall_time": np.zeros(n),
            "rank": np.zeros(n, dtype=np.int64),
            "stage": np.arange(n, dtype=np.int64),
            "name": pd.Series([f"s{i}" for i in range(n)], dtype="str"),
        }
    )


def sparse(n: int, every: int, values: Any) -> np.ndarray:
    """A column logged every ``every`` rows (NaN elsewhere: not logged) with ``values`` in order."""
    out = np.full(n, np.nan)
    out[every - 1 :: every] = values
    return out


rng = np.random.default_rng(3)
# divergence from the best: falls 2 → 0.1, then climbs to 0.8 (8× the best, 0.4× the first)
late_climb = np.r_[np.linspace(2.0, 0.1, 60), np.full(10, 0.1), np.full(5, 0.8)]
late_climb_4x = np.r_[np.linspace(2.0, 0.1, 60), np.full(10, 0.1), np.full(5, 0.5)]  # 5× exactly
never_learned = np.r_[np.full(60, 1.0), np.full(5, 6.0)]  # 6× a best that is the first level
# underfitting: flat at 1.2 for 60 points, performance 0.4
flat_high = np.full(60, 1.2) + rng.uniform(-0.01, 0.01, 60)
flat_low = np.full(60, 0.45) + rng.uniform(-0.01, 0.01, 60)
still_falling = np.linspace(2.0, 1.5, 60)
# instability: swings of ±50 % around 1.0; quiet: ±10 %
swinging = 1.0 + 0.5 * np.where(np.arange(40) % 2 == 0, 1, -1) * rng.uniform(0.6, 1.0, 40)
calm = 1.0 + rng.normal(0, 0.05, 40)
steep_fall = np.geomspace(3.0, 0.03, 40)  # a fast, smooth fall is no noise
one_spike = np.r_[np.full(39, 1.0), [30.0]]
# a stage jump: easy stage ends near 0.05, the next starts at 1.0 and falls, val too
jump_loss = np.r_[np.linspace(0.3, 0.05, 60), np.linspace(1.0, 0.6, 60)]
jump_val = sparse(120, 10, np.r_[np.linspace(0.35, 0.08, 6), np.linspace(1.1, 0.7, 6)])
# no improvement: val_loss every 10 rows, best at the 3rd evaluation, then 5 (or 4) worse ones
stuck = [1.0, 0.8, 0.6, 0.65, 0.62, 0.61, 0.64, 0.63]
improving_val = np.linspace(1.0, 0.5, 8)

CASES = [
    Case(
        "divergence-from-best",
        make_state(make_metrics(75, loss=late_climb)),
        "critical",
        ("diverging", "8.0× its best level 0.1", "step 7,400", "→ try lowering lr"),
    ),
    Case("divergence-from-best-boundary", make_state(make_metrics(75, loss=late_climb_4x)), None),
    Case("divergence-best-is-first-level", make_state(make_metrics(65, loss=never_learned)), None),
    Case(
        "divergence-from-best-custom",
        make_state(make_metrics(75, loss=late_climb_4x)),
        "critical",
        ("diverging",),
        {"thresholds": HealthThresholds(divergence_best_factor=4)},
    ),
    Case(
        "dead-units",
        make_state(make_metrics(10, dead_unit_fraction=0.6)),
        "warning",
        ("Dead units", "overall 60% (step 900)", "→ try"),
    ),
    Case("dead-units-boundary", make_state(make_metrics(10, dead_unit_fraction=0.5)), None),
    Case(
        "dead-units-region",
        make_state(
            make_metrics(
                10, **{"dead_unit_fraction.cortex": 0.2, "dead_unit_fraction.<b>v1</b>": 0.9}
            )
        ),
        "warning",
        ("<b>v1</b> 90% (step 900)",),
    ),
    Case(
        "dead-units-recovered",
        make_state(make_metrics(10, dead_unit_fraction=np.r_[np.full(9, 0.9), [0.1]])),
        None,
    ),
    Case(
        "underfitting",
        make_state(make_metrics(60, loss=flat_high, performance=0.4)),
        "warning",
        ("Underfitting", "step 5,900", "performance 40%", "→ try"),
    ),
    Case(
        "underfitting-percent",
        make_state(make_metrics(60, loss=flat_high, performance=40.0)),
        "warning",
        ("performance 40%",),
    ),
    Case(
        "underfitting-good-performance",
        make_state(make_metrics(60, loss=flat_high, performance=0.7)),
        None,
    ),
    Case(
        "underfitting-low-loss", make_state(make_metrics(60, loss=flat_low, performance=0.4)), None
    ),
    Case(
        "underfitting-still-learning",
        make_state(make_metrics(60, loss=still_falling, performance=0.4)),
        None,
    ),
    Case(
        "underfitting-too-short",
        make_state(make_metrics(49, loss=flat_high[:49], performance=0.4)),
        None,
    ),
    Case(
        "instability",
        make_state(make_metrics(40, loss=swinging)),
        "warning",
        ("Instability", "step 3,900", "→ try lowering lr 2–5×"),
    ),
    Case("stable-noise", make_state(make_metrics(40, loss=calm)), None),
    Case("converged-near-zero-noise", make_state(make_metrics(40, loss=swinging * 0.01)), None),
    Case(
        "instability-absolute-floor",
        make_state(make_metrics(40, loss=swinging * 0.01)),
        "warning",
        ("Instability",),
        {"thresholds": HealthThresholds(instability_min_std=0.001)},
    ),
    Case("steep-smooth-fall", make_state(make_metrics(40, loss=steep_fall)), None),
    Case("one-spike-is-not-instability", make_state(make_metrics(40, loss=one_spike)), None),
    Case(
        "gap",
        make_state(make_metrics(10, performance=0.95, val_performance=0.80)),
        "warning",
        ("Overfitting (train–val gap)", "15.0 pp", "step 900", "→ try"),
    ),
    Case(
        "gap-boundary", make_state(make_metrics(10, performance=0.90, val_performance=0.80)), None
    ),
    Case(
        "gap-accuracy-percent",
        make_state(make_metrics(10, accuracy=97.0, val_accuracy=80.0)),
        "warning",
        ("accuracy 97 vs val_accuracy 80", "17.0 pp"),
    ),
    Case(
        "gap-sparse-val",
        make_state(
            make_metrics(20, performance=0.95, val_performance=sparse(20, 5, [0.9, 0.88, 0.8, 0.8]))
        ),
        "warning",
        ("step 1,900",),
    ),
    Case(
        "no-improvement",
        make_state(make_metrics(80, val_loss=sparse(80, 10, stuck))),
        "warning",
        (
            "No improvement",
            "5 evaluations",
            "best val_loss 0.6 at step 2,900",
            "patience 5",
            "→ try lowering lr 2–5×",
        ),
    ),
    Case(
        "no-improvement-boundary",
        make_state(make_metrics(70, val_loss=sparse(70, 10, stuck[:7]))),
        None,
    ),
    Case(
        "improving-val", make_state(make_metrics(80, val_loss=sparse(80, 10, improving_val))), None
    ),
    Case(
        "patience-left",
        make_state(make_metrics(80, val_loss=sparse(80, 10, stuck), patience=8)),
        "info",
        ("5 evaluations: 3 of 8 patience left",),
    ),
    Case(
        "patience-used-up",
        make_state(make_metrics(80, val_loss=sparse(80, 10, stuck), patience=3)),
        "warning",
        ("early-stopping patience (3) is used up",),
    ),
    Case(
        "stage-jump-fires-nothing",
        make_state(
            make_metrics(
                120, loss=jump_loss, val_loss=jump_val, performance=0.9, val_performance=0.85
            ),
            stage_events=stages(0, 6000),
        ),
        None,
    ),
    Case(
        "stage-jump-resets-the-best",
        make_state(
            make_metrics(
                120, val_loss=sparse(120, 10, np.r_[[0.2, 0.1], np.linspace(1.0, 0.5, 10)])
            ),
            stage_events=stages(0, 2000),
        ),
        None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(case: Case) -> None:
    found = check_health(case.state, now=NOW, **case.kwargs)
    if case.severity is None:
        assert found == []
        return
    assert len(found) == 1, found
    warning = found[0]
    assert warning.severity == case.severity
    assert warning.source == "health"
    for text in case.contains:
        assert text in warning.message, warning.message


def test_robust_std_ignores_one_spike_and_trends() -> None:
    assert robust_std(np.r_[np.full(19, 1.0), [100.0]]) == 0.0
    assert robust_std(np.linspace(0, 10, 50)) == pytest.approx(0.0, abs=1e-12)
    noise = np.random.default_rng(0).normal(0, 1.0, 20_000)
    assert robust_std(noise) == pytest.approx(1.0, rel=0.05)
