"""Each health rule, table-driven: a state that triggers it and one that must not."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from page_helpers import logged_nonfinite, make_metrics, make_state

from dashboard.analysis.health import check_health
from dashboard.analysis.loss_rules import segment_start
from dashboard.analysis.thresholds import DEFAULT_THRESHOLDS, HealthThresholds
from dashboard.run_state import BadLine, Restart, RunState

NOW = 1_700_000_100.0


@dataclass
class Case:
    id: str
    state: RunState
    severity: str | None  # None: no health warning at all
    contains: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


nan_loss = np.linspace(2.0, 1.0, 10)
nan_loss[6:] = math.nan
inf_loss = np.linspace(2.0, 1.0, 10)
inf_loss[8] = math.inf
one_nan = np.r_[np.full(10, 1.0), [math.nan], np.linspace(1.0, 0.5, 2989)]
nans_then_finite = np.r_[np.full(3, 1.0), [math.nan, math.inf, 1.0, math.nan], np.full(3, 0.9)]
nan_again = np.r_[np.full(3, 1.0), [math.nan], np.full(5, 0.9), [math.nan]]
diverged = np.r_[np.full(20, 1.0), np.full(5, 50.0)]
one_spike = np.r_[np.full(20, 1.0), [50.0]]  # one noisy batch: the recent level is still 1
rng = np.random.default_rng(7)
noisy_falling = np.linspace(1.0, 0.5, 400) + rng.uniform(-0.1, 0.1, 400)
noisy_falling[5] = 0.1  # one lucky batch early on: not a level the run reached
plateau = np.r_[np.linspace(3, 1, 200), np.full(200, 1.2)]
improving = np.linspace(3, 1, 400)
val_up = np.r_[np.full(6, np.nan), [0.5, 0.6, 0.7, 0.8]]
val_sparse_nan = np.r_[[1e-3], np.full(9, np.nan)]
grad_nan = np.r_[np.full(9, 1.0), [math.nan]]
grad_recovered = np.r_[np.full(5, 1.0), [math.inf], np.full(4, 1.0)]
val_nan = np.r_[np.full(7, 0.5), [math.nan, 0.4, math.nan]]


def logged(metrics: pd.DataFrame, *columns: str, **kwargs: Any) -> RunState:
    """A state whose NaN/±Inf in ``columns`` were explicitly logged (the rest: not logged)."""
    return make_state(metrics, nonfinite=logged_nonfinite(metrics, *columns), **kwargs)


def stages(*steps: int) -> pd.DataFrame:
    """A stage_events frame with a stage change at each of ``steps``."""
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


# Curriculum runs: steps 0, 100, ... (make_metrics); a stage change at row 40 = step 4,000.
easy_then_hard = np.r_[np.linspace(0.05, 0.04, 40), np.linspace(1.0, 0.6, 40)]  # 25× jump, falls
rise_in_stage = np.r_[
    np.linspace(0.05, 0.04, 40), np.full(30, 1.0), np.full(5, 12.0)
]  # 12× in stage 1
plateau_across = np.r_[np.linspace(3, 0.1, 400), np.linspace(2.0, 1.0, 300)]  # best was stage 0
plateau_in_stage = np.r_[np.linspace(3, 0.1, 100), np.linspace(2.0, 1.0, 200), np.full(200, 1.2)]
short_stage = np.r_[np.full(40, 1.0), [1.0, 1.0, 30.0]]  # 3 points into the new stage: no verdict

CASES = [
    Case("healthy", make_state(make_metrics(10)), None),
    Case(
        "nan-loss",
        logged(make_metrics(10, loss=nan_loss), "loss"),
        "critical",
        ("NaN", "step 600", "4 non-finite"),
    ),
    Case(
        "inf-loss-then-finite-recovers",
        logged(make_metrics(10, loss=inf_loss), "loss"),
        "warning",
        ("Non-finite loss at step 800 (1 point) — recovered since step 900",),
    ),
    Case(
        "inf-loss-latest",
        logged(make_metrics(9, loss=inf_loss[:9]), "loss"),
        "critical",
        ("infinite", "step 800", "training has diverged"),
    ),
    Case(
        "one-nan-then-thousands-healthy",
        logged(make_metrics(3000, loss=one_nan), "loss"),
        "warning",
        ("Non-finite loss at step 1,000 (1 point) — recovered since step 1,100",),
    ),
    Case(
        "nans-then-recovered",
        logged(make_metrics(10, loss=nans_then_finite), "loss"),
        "warning",
        ("at step 300 (3 points, last at step 600) — recovered since step 700",),
    ),
    Case(
        "recovered-then-nan-again",
        logged(make_metrics(10, loss=nan_again), "loss"),
        "critical",
        ("NaN at step 300", "2 non-finite", "training has diverged"),
    ),
    Case(
        "nan-on-other-rank-only-then-finite-here",
        logged(
            pd.concat(
                [
                    make_metrics(5, loss=[1.0, 1.0, 1.0, math.nan, math.nan]),
                    make_metrics(5).assign(rank=1),
                ]
            ).sort_values("step", kind="stable"),
            "loss",
        ),
        "critical",
        ("NaN at step 300",),
    ),
    Case("loss-not-logged-is-no-nan", make_state(make_metrics(10, loss=nan_loss)), None),
    Case(
        "divergence", make_state(make_metrics(25, loss=diverged)), "critical", ("diverging", "50")
    ),
    Case(
        "no-divergence-at-9x",
        make_state(make_metrics(25, loss=np.r_[np.full(20, 1.0), np.full(5, 9.0)])),
        None,
    ),
    Case("one-spike-is-no-divergence", make_state(make_metrics(21, loss=one_spike)), None),
    Case("lucky-batch-is-no-best", make_state(make_metrics(400, loss=noisy_falling)), None),
    Case("plateau", make_state(make_metrics(400, loss=plateau)), "warning", ("plateau", "200")),
    Case("improving", make_state(make_metrics(400, loss=improving)), None),
    Case("dead", make_state(make_metrics(10, firing_rate=0.001)), "warning", ("0.10%", "dead")),
    Case(
        "epileptic",
        make_state(make_metrics(10, firing_rate=0.8)),
        "warning",
        ("80.00%", "epileptic"),
    ),
    Case(
        "capacity", make_state(make_metrics(10, capacity=0.97)), "warning", ("97.0%", "saturated")
    ),
    Case(
        "region-capacity",
        make_state(
            make_metrics(
                10, **{"capacity_by_region.cortex": 0.5, "capacity_by_region.<img src=x>": 0.99}
            )
        ),
        "warning",
        ("Region <img src=x>", "99.0%"),
    ),
    Case("stalled", make_state(make_metrics(), last_update=NOW - 11 * 60), "warning", ("11 min",)),
    Case("fresh", make_state(make_metrics(), last_update=NOW - 30), None),
    Case(
        "finished-not-stalled",
        make_state(
            make_metrics(), last_update=NOW - 60 * 60, metadata={"step": 900, "total_steps": 900}
        ),
        None,
    ),
    Case(
        "stalled-before-the-end",
        make_state(
            make_metrics(), last_update=NOW - 60 * 60, metadata={"step": 900, "total_steps": 5000}
        ),
        "warning",
        ("1 h 0 min",),
    ),
    Case(
        "restarts",
        make_state(
            make_metrics(), restarts=(Restart("training_log.jsonl", "resumed", 4000, NOW - 5),)
        ),
        "info",
        ("once", "4,000"),
    ),
    Case(
        "bad-lines",
        make_state(
            make_metrics(),
            bad_line_count=1234,
            bad_lines=(BadLine("training_log.jsonl", 10, "{oops", "not JSON"),),
        ),
        "warning",
        ("1,234 bad lines",),
    ),
    Case("overfitting", make_state(make_metrics(10, val_loss=val_up)), "warning", ("Overfitting",)),
    Case("val-falling", make_state(make_metrics(10, val_loss=np.linspace(1, 0.5, 10))), None),
    Case("vanishing", make_state(make_metrics(10, grad_norm=1e-9)), "warning", ("Vanishing",)),
    Case(
        "exploding", make_state(make_metrics(10, grad_norm=5e3)), "critical", ("Exploding", "5000")
    ),
    Case(
        "grad-nan",
        logged(make_metrics(10, grad_norm=grad_nan), "grad_norm"),
        "critical",
        ("Exploding", "NaN", "step 900"),
    ),
    Case("grad-missing-on-last-line", make_state(make_metrics(10, grad_norm=grad_nan)), None),
    Case(
        "grad-inf-then-finite",
        logged(make_metrics(10, grad_norm=grad_recovered), "grad_norm"),
        None,
    ),
    Case("grad-sparse", make_state(make_metrics(10, grad_norm=val_sparse_nan)), None),
    Case(
        "val-loss-logged-nan",
        logged(make_metrics(10, val_loss=val_nan), "val_loss"),
        "warning",
        ("Non-finite values logged", "val_loss (2×, last NaN at step 900)"),
    ),
    Case("val-loss-missing", make_state(make_metrics(10, val_loss=val_nan)), None),
    Case(
        "gpu",
        make_state(make_metrics(10, gpu_mem_bytes=7.9e9, gpu_mem_total_bytes=8e9)),
        "warning",
        ("99%", "GPU memory"),
    ),
    Case("gpu-ok", make_state(make_metrics(10, gpu_mem_bytes=4e9, gpu_mem_total_bytes=8e9)), None),
    Case(
        "stage-jump-then-falling",
        make_state(make_metrics(80, loss=easy_then_hard), stage_events=stages(0, 4000)),
        None,
    ),
    Case(
        "stage-jump-without-stage-events",
        make_state(make_metrics(80, loss=easy_then_hard)),
        "critical",
        ("diverging",),
    ),
    Case(
        "rise-within-a-stage",
        make_state(make_metrics(75, loss=rise_in_stage), stage_events=stages(0, 4000)),
        "critical",
        ("diverging", "12 is 12.0×", "since the stage change at step 4,000"),
    ),
    Case(
        "short-stage-no-verdict",
        make_state(make_metrics(43, loss=short_stage), stage_events=stages(0, 4000)),
        None,
    ),
    Case(
        "plateau-across-stage-boundary",
        make_state(make_metrics(700, loss=plateau_across), stage_events=stages(0, 40_000)),
        None,
    ),
    Case(
        "plateau-within-stage",
        make_state(make_metrics(500, loss=plateau_in_stage), stage_events=stages(0, 10_000)),
        "warning",
        ("plateau", "200 points", "since the stage change at step 10,000"),
    ),
    Case(
        "custom-band",
        make_state(make_metrics(10, firing_rate=0.1)),
        "warning",
        ("above",),
        {"thresholds": HealthThresholds(firing_rate_high=0.05)},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(case: Case) -> None:
    found = check_health(case.state, now=NOW, **case.kwargs)
    assert all(w.source == "health" for w in found)
    if case.severity is None:
        assert found == []
        return
    assert len(found) == 1, found
    warning = found[0]
    assert warning.severity == case.severity
    for text in case.contains:
        assert text in warning.message


def test_segment_starts_at_the_latest_restart() -> None:
    restart = Restart("training_log.jsonl", "resumed", 4000, NOW - 5)
    found = check_health(
        make_state(make_metrics(75, loss=rise_in_stage), restarts=(restart,)), now=NOW
    )
    assert [w.severity for w in found] == ["critical", "info"]
    assert "since the restart at step 4,000" in found[0].message
    easy = make_state(make_metrics(80, loss=easy_then_hard), restarts=(restart,))
    assert [w.severity for w in check_health(easy, now=NOW)] == ["info"]


def test_critical_first_and_rank_filter() -> None:
    metrics = make_metrics(10, firing_rate=0.001, loss=nan_loss)
    other = make_metrics(10).assign(rank=1)
    both = logged(pd.concat([metrics, other], ignore_index=True).sort_values("step"), "loss")
    severities = [w.severity for w in check_health(both, now=NOW)]
    assert severities == ["critical", "warning"]
    assert check_health(both, now=NOW, rank=1) == []


def test_empty_state_has_no_warnings() -> None:
    assert check_health(RunState("/nowhere"), now=NOW) == []


def test_thresholds_are_one_frozen_dataclass() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_THRESHOLDS.capacity_max = 0.5  # type: ignore[misc]
    assert DEFAULT_THRESHOLDS.divergence_factor == 10.0


@pytest.mark.parametrize(
    ("stage_steps", "restart_steps", "start"),
    [
        ([], [], 0),
        ([0, 4000], [], 4000),
        ([0, 4000], [6000], 6000),
        ([0, 4000], [None, 2000], 4000),  # a restart without a step yet does not move the segment
    ],
)
def test_segment_start(stage_steps: list[int], restart_steps: list[int | None], start: int) -> None:
    assert segment_start(stage_steps, restart_steps) == start
