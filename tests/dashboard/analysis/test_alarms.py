"""The alarm state machine: table-driven transitions, projection per channel, history."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.analysis.alarms import AlarmLog, advance, project
from dashboard.analysis.threshold_files import (
    PRESETS,
    ThresholdsError,
    load_thresholds,
    thresholds_from_env,
)
from dashboard.analysis.thresholds import DEFAULT_THRESHOLDS
from dashboard.run_state import HealthWarning


def W(sev: str, check: str = "c", msg: str = "m") -> HealthWarning:
    return HealthWarning(sev, msg, "health", check)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("before", "now", "events"),
    [
        ([], [], []),
        ([], [W("warning")], [("started", "warning", None)]),
        ([W("warning")], [W("warning", msg="numbers changed")], []),  # same alarm: no news
        ([W("warning")], [W("critical")], [("escalated", "critical", "warning")]),
        ([W("critical")], [W("warning")], [("deescalated", "warning", "critical")]),
        ([W("critical")], [], [("resolved", "critical", "critical")]),
        ([], [W("warning"), W("critical")], [("started", "critical", None)]),  # one key, worst wins
        (
            [],
            [W("info", "a"), W("critical", "b")],
            [("started", "info", None), ("started", "critical", None)],
        ),
    ],
)
def test_transitions(
    before: list[HealthWarning], now: list[HealthWarning], events: list[tuple[str, str, str | None]]
) -> None:
    active, _ = advance({}, before, step=1, now=1.0)
    _, got = advance(active, now, step=2, now=2.0)
    assert [(e.kind, e.severity, e.previous) for e in got] == events


@pytest.mark.parametrize(
    ("kind", "sev", "prev", "floor", "seen"),
    [
        ("started", "warning", None, "critical", None),
        ("started", "critical", None, "critical", "started"),
        ("escalated", "critical", "warning", "critical", "started"),
        ("escalated", "critical", "warning", "warning", "escalated"),
        ("deescalated", "warning", "critical", "critical", "resolved"),
        ("deescalated", "warning", "critical", "info", "deescalated"),
        ("deescalated", "info", "warning", "critical", None),
        ("resolved", "warning", "warning", "critical", None),
        ("resolved", "critical", "critical", "warning", "resolved"),
    ],
)
def test_projection_onto_a_channel_minimum(
    kind: str, sev: str, prev: str | None, floor: str, seen: str | None
) -> None:
    from dashboard.analysis.alarms import AlarmEvent

    event = AlarmEvent(kind, "k", sev, prev, "m", 1, 1.0)  # type: ignore[arg-type]
    got = project(event, floor)  # type: ignore[arg-type]
    assert (got.kind if got else None) == seen


def test_history_keeps_past_alarms_and_round_trips() -> None:
    log = AlarmLog()
    log.update([W("critical", "loss")], step=5, now=50.0)
    log.update([W("warning", "loss")], step=6, now=60.0)
    log.update([], step=7, now=70.0)
    log.update([W("warning", "fr")], step=8, now=80.0)
    (first, second) = log.history
    assert (first.key, first.severity, first.started_step, first.resolved_step) == (
        "loss",
        "critical",
        5,
        7,
    )
    assert second.resolved_at is None and list(log.active) == ["fr"]
    again = AlarmLog.from_json(log.to_json())
    assert again.history == log.history and again.active == log.active
    with pytest.raises(ValueError, match="unknown severity"):
        AlarmLog.from_json({"active": [{**log.to_json()["active"][0], "severity": "loud"}]})


def test_thresholds_file_presets_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "t.toml"
    good.write_text('preset = "aggressive"\nstall_minutes = 30\n[thresholds]\nearly_points = 7\n')
    t = load_thresholds(good)
    assert t.stall_minutes == 30.0 and t.early_points == 7
    assert t.divergence_factor == PRESETS["aggressive"].divergence_factor
    assert load_thresholds("conservative") == PRESETS["conservative"]
    assert thresholds_from_env({}) == DEFAULT_THRESHOLDS
    cases = {
        "nope = 1\n": "unknown key 'nope'",
        'stall_minutes = "5"\n': "stall_minutes must be a number",
        "early_points = 2.5\n": "early_points must be an integer",
        "capacity_max = -1\n": "capacity_max must be > 0",
        'preset = "wild"\n': "unknown preset 'wild'",
        "firing_rate_low = 0.9\n": "firing_rate_low (0.9) must be below",
        "x = [\n": "is not valid TOML",
    }
    for text, message in cases.items():
        good.write_text(text)
        with pytest.raises(ThresholdsError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_thresholds(good)
