"""The facts of one refresh: one latest step, one run status, shared by the header, the stall
alert and the ETA; computed once per refresh."""

from __future__ import annotations

import numpy as np
import pytest
from page_helpers import make_metrics, make_state

from dashboard.analysis import health, status
from dashboard.analysis.run_facts import RunFacts, run_facts
from dashboard.analysis.series import latest_step, whole_number
from dashboard.analysis.thresholds import HealthThresholds
from dashboard.run_state import HealthWarning

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "whole"),
    [
        (5, 5),
        (5.0, 5),
        (np.int64(7), 7),
        (np.float64(3.0), 3),
        (2.5, None),
        (True, None),
        ("5", None),
        (float("nan"), None),
        (float("inf"), None),
        (2.0**64, None),
        (None, None),
    ],
)
def test_whole_number(value: object, whole: int | None) -> None:
    assert whole_number(value) == whole


def test_latest_step_is_the_higher_of_metrics_and_metadata() -> None:
    metrics = make_metrics(5)  # steps 0..400
    assert latest_step(metrics, None) == 400
    assert latest_step(metrics, {"step": 1000}) == 1000
    assert latest_step(metrics, {"step": 100}) == 400
    assert latest_step(metrics.iloc[:0], {"step": 50}) == 50
    assert latest_step(metrics.iloc[:0], {"step": "many"}) is None
    assert latest_step(metrics, {"step": True}) == 400  # a bool is no step


def test_facts_agree_header_alert_and_eta_share_one_status() -> None:
    state = make_state(
        make_metrics(11),
        last_update=NOW - 47 * 60,
        metadata={"total_steps": 5000},
        warnings=(HealthWarning("info", "from metadata", source="metadata"),),
    )
    facts = run_facts(state, state.metrics_history, now=NOW)
    assert isinstance(facts, RunFacts)
    assert facts.step == 1000
    assert (facts.status.kind, facts.status.text) == ("stalled", "stalled for 47 min")
    assert facts.speed.eta == "—" and facts.speed.steps_per_s == "100.0"
    assert any("No new data for 47 min" in w.message for w in facts.alerts)
    assert facts.alerts[-1].message == "from metadata"  # the metadata's own warnings come last
    # the thresholds given decide the status and the stall alert alike
    calm = run_facts(
        state, state.metrics_history, now=NOW, thresholds=HealthThresholds(stall_minutes=60)
    )
    assert calm.status.kind == "running"
    assert not any("No new data" in w.message for w in calm.alerts)


def test_run_status_runs_once_per_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = status.run_status

    def counted(*args: object, **kwargs: object) -> status.RunStatus:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(status, "run_status", counted)
    monkeypatch.setattr(health, "run_status", counted)
    import dashboard.analysis.run_facts as module

    monkeypatch.setattr(module, "run_status", counted)
    state = make_state(make_metrics(11), last_update=NOW - 47 * 60)
    run_facts(state, state.metrics_history, now=NOW)
    assert len(calls) == 1
    # check_health alone still computes the status it needs
    assert any("No new data" in w.message for w in health.check_health(state, now=NOW))
    assert len(calls) == 2
