"""Each health rule, table-driven: a state that triggers it and one that must not."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from page_helpers import make_metrics, make_state

from dashboard.health import DEFAULT_THRESHOLDS, HealthThresholds, check_health
from dashboard.state import BadLine, Restart, RunState

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
diverged = np.r_[np.full(20, 1.0), [50.0]]
plateau = np.r_[np.linspace(3, 1, 200), np.full(200, 1.2)]
improving = np.linspace(3, 1, 400)
val_up = np.r_[np.full(6, np.nan), [0.5, 0.6, 0.7, 0.8]]
val_sparse_nan = np.r_[[1e-3], np.full(9, np.nan)]
grad_nan = np.r_[np.full(9, 1.0), [math.nan]]

CASES = [
    Case("healthy", make_state(make_metrics(10)), None),
    Case("nan-loss", make_state(make_metrics(10, loss=nan_loss)), "critical",
         ("NaN", "step 600", "4 non-finite")),
    Case("inf-loss", make_state(make_metrics(10, loss=inf_loss)), "critical", ("infinite", "step 800")),
    Case("divergence", make_state(make_metrics(21, loss=diverged)), "critical", ("diverging", "50")),
    Case("no-divergence-at-9x", make_state(make_metrics(21, loss=np.r_[np.full(20, 1.0), [9.0]])), None),
    Case("plateau", make_state(make_metrics(400, loss=plateau)), "warning", ("plateau", "200")),
    Case("improving", make_state(make_metrics(400, loss=improving)), None),
    Case("dead", make_state(make_metrics(10, firing_rate=0.001)), "warning", ("0.10%", "dead")),
    Case("epileptic", make_state(make_metrics(10, firing_rate=0.8)), "warning", ("80.00%", "epileptic")),
    Case("capacity", make_state(make_metrics(10, capacity=0.97)), "warning", ("97.0%", "saturated")),
    Case("region-capacity", make_state(make_metrics(
        10, **{"capacity_by_region.cortex": 0.5, "capacity_by_region.<img src=x>": 0.99})),
        "warning", ("Region <img src=x>", "99.0%")),
    Case("stalled", make_state(make_metrics(), last_update=NOW - 11 * 60), "warning", ("11 min",)),
    Case("fresh", make_state(make_metrics(), last_update=NOW - 30), None),
    Case("finished-not-stalled", make_state(make_metrics(), last_update=NOW - 60 * 60,
                                            metadata={"step": 900, "total_steps": 900}), None),
    Case("stalled-before-the-end", make_state(make_metrics(), last_update=NOW - 60 * 60,
                                              metadata={"step": 900, "total_steps": 5000}),
         "warning", ("60 min",)),
    Case("restarts", make_state(make_metrics(), restarts=(
        Restart("training_log.jsonl", "resumed", 4000, NOW - 5),)), "info", ("once", "4,000")),
    Case("bad-lines", make_state(make_metrics(), bad_line_count=1234, bad_lines=(
        BadLine("training_log.jsonl", 10, "{oops", "not JSON"),)), "warning", ("1,234 bad lines",)),
    Case("overfitting", make_state(make_metrics(10, val_loss=val_up)), "warning", ("Overfitting",)),
    Case("val-falling", make_state(make_metrics(10, val_loss=np.linspace(1, 0.5, 10))), None),
    Case("vanishing", make_state(make_metrics(10, grad_norm=1e-9)), "warning", ("Vanishing",)),
    Case("exploding", make_state(make_metrics(10, grad_norm=5e3)), "critical", ("Exploding", "5000")),
    Case("grad-nan", make_state(make_metrics(10, grad_norm=grad_nan)), "critical", ("nan", "step 900")),
    Case("grad-sparse", make_state(make_metrics(10, grad_norm=val_sparse_nan)), None),
    Case("gpu", make_state(make_metrics(10, gpu_mem_bytes=7.9e9, gpu_mem_total_bytes=8e9)),
         "warning", ("99%", "GPU memory")),
    Case("gpu-ok", make_state(make_metrics(10, gpu_mem_bytes=4e9, gpu_mem_total_bytes=8e9)), None),
    Case("custom-band", make_state(make_metrics(10, firing_rate=0.1)), "warning", ("above",),
         {"thresholds": HealthThresholds(firing_rate_high=0.05)}),
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


def test_critical_first_and_rank_filter() -> None:
    metrics = make_metrics(10, firing_rate=0.001, loss=nan_loss)
    other = make_metrics(10).assign(rank=1)
    both = make_state(pd.concat([metrics, other], ignore_index=True).sort_values("step"))
    severities = [w.severity for w in check_health(both, now=NOW)]
    assert severities == ["critical", "warning"]
    assert check_health(both, now=NOW, rank=1) == []


def test_empty_state_has_no_warnings() -> None:
    assert check_health(RunState("/nowhere"), now=NOW) == []


def test_thresholds_are_one_frozen_dataclass() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_THRESHOLDS.capacity_max = 0.5  # type: ignore[misc]
    assert DEFAULT_THRESHOLDS.divergence_factor == 10.0
