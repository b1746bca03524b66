"""The health checks on the realistic scenario library: every fault found by its check, every
healthy run (curriculum stage jumps, noisy batches, a finished run) quiet above info."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenarios import SCENARIOS, Result, evaluate, table

from dashboard.analysis.health import check_health
from dashboard.reading.watcher import load_training_state


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[Result]:
    return evaluate(tmp_path_factory.mktemp("scenarios"))


@pytest.mark.parametrize("index", range(len(SCENARIOS)), ids=[s.name for s in SCENARIOS])
def test_scenario(results: list[Result], index: int) -> None:
    result = results[index]
    if result.scenario.expected is None:
        assert result.fired == (), result.fired  # no false alarm
    else:
        assert result.detected, (result.scenario.expected, result.fired)


def test_recall_and_false_alarms_table(results: list[Result]) -> None:
    text = table(results)
    faults = sum(s.expected is not None for s in SCENARIOS)
    healthy = len(SCENARIOS) - faults
    assert f"recall: {faults}/{faults} faults found (100%)" in text
    assert f"false alarms: 0/{healthy} healthy runs" in text


def test_a_recovered_nan_is_history_not_a_critical_alarm(tmp_path: Path) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "NaN then recovery")
    now = scenario.write(tmp_path)
    found = check_health(load_training_state(tmp_path), now=now)
    assert [w.severity for w in found] == ["warning"]
    assert "recovered since step 4,100" in found[0].message


def test_late_divergence_is_critical_though_under_10x_the_first_losses(tmp_path: Path) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "late divergence")
    now = scenario.write(tmp_path)
    found = check_health(load_training_state(tmp_path), now=now)
    assert [w.severity for w in found] == ["critical"]
    assert "its best level" in found[0].message and "under 10× the first losses" in found[0].message
