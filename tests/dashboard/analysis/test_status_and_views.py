"""Formats and frame-derived figures the page shows."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from page_helpers import make_metrics, make_state

from dashboard.analysis.status import run_status, speed_info
from dashboard.analysis.units import format_age, format_bytes, format_value
from dashboard.page.text import WORD_JOINER, escape_markdown
from dashboard.page.views import header_facts, metric_cards, milestone_summary
from dashboard.reading.console_tail import read_log_tail
from dashboard.run_state import RunState


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("loss", 0.123456, "0.1235"),
        ("loss", math.nan, "NaN"),
        ("loss", math.inf, "Infinity"),
        ("capacity", 0.756, "75.6%"),
        ("firing_rate", 0.01, "1.0%"),
        ("new_total", 1_234_567.0, "1,234,567"),
        ("loss", None, "—"),
    ],
)
def test_format_value(name: str, value: float | None, shown: str) -> None:
    assert format_value(name, value) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (12, "12 s ago"),
        (185, "3 min ago"),
        (7500, "2 h 5 min ago"),
        (97_200, "1 d 3 h ago"),
        (95_300_000, "1103 d ago"),
        (-4, "0 s ago"),
    ],
)
def test_format_age(seconds: float, shown: str) -> None:
    assert format_age(seconds) == shown


def test_escape_markdown_leaves_no_active_syntax() -> None:
    text = "**bold** [x](javascript:alert(1)) <img src=x> :red[hi] $x$ a\\b"
    escaped = escape_markdown(text)
    assert re.search(r"(?<!\\)[*\[\]()<>:$]", escaped.replace("\\\\", "")) is None
    # unescaping (and dropping the word joiners that break autolinks and icon codes) gives it back
    assert re.sub(r"\\(.)", r"\1", escaped).replace(WORD_JOINER, "") == text


def test_cards_delta_and_direction() -> None:
    cards = {c.label: c for c in metric_cards(make_metrics(3, loss=[1.0, 0.5, 0.25]))}
    assert cards["Loss"].value == "0.25" and cards["Loss"].delta == "-0.25"
    assert cards["Capacity"].value == "50.0%" and cards["Capacity"].delta == "0.00 pp"
    # no change is neutral: grey, no arrow (not a green "↑ +0.00 pp")
    assert (cards["Capacity"].delta_color, cards["Capacity"].delta_arrow) == ("off", "off")
    assert (cards["Loss"].delta_color, cards["Loss"].delta_arrow) == ("inverse", "auto")
    # loss down is good, performance up is good, firing rate and capacity have no good direction
    assert {label: c.delta_color for label, c in cards.items()} == {
        "Firing rate": "off",
        "Capacity": "off",
        "Performance": "normal",
        "Loss": "inverse",
    }
    flat = {
        c.label: c for c in metric_cards(make_metrics(3, performance=0.5, loss=[1.0, 1.0, 1.0]))
    }
    assert (flat["Performance"].delta, flat["Performance"].delta_color) == ("0.00 pp", "off")
    assert (flat["Loss"].delta, flat["Loss"].delta_arrow) == ("0", "off")


@pytest.mark.parametrize(
    ("field", "value", "week", "stage"),
    [
        (
            "current_week",
            "**2** [x](http://127.0.0.1:9/x)",
            "**2** [x](http://127.0.0.1:9/x)/4",
            "1",
        ),
        ("current_week", {"a": [1, True]}, '{"a": [1, true]}/4', "1"),
        ("current_week", True, "true/4", "1"),
        ("current_stage", "![i](http://x/i.png)", "2/4", "![i](http://x/i.png)"),
        ("current_stage", [1, 2], "2/4", "[1, 2]"),
        ("current_stage", 10**40, "2/4", "1.000e+40"),
        ("step", "5000", "2/4", "1"),
    ],
)
def test_header_facts_take_any_metadata_type(
    field: str, value: object, week: str, stage: str
) -> None:
    meta = {"current_stage": 1, "step": 500, "current_week": 2, "total_weeks": 4, field: value}
    facts = header_facts(make_state(metadata=meta), make_metrics(3))
    assert (facts.week, facts.stage) == (week, stage)
    assert facts.odd_fields == (field,)
    assert facts.step == (200 if field == "step" else 500)  # a text step is not a number
    if field == "current_week":
        assert facts.progress is None


def test_header_stage_number_and_name_apart() -> None:
    meta = {
        "current_stage": 0,
        "stage_name": "sensorimotor grounding",
        "current_week": 1,
        "total_weeks": 4,
    }
    facts = header_facts(make_state(metadata=meta), make_metrics(3))
    assert (facts.stage, facts.stage_name, facts.week) == ("0", "sensorimotor grounding", "1/4")
    unknown = header_facts(make_state(), make_metrics(3))
    assert (unknown.stage, unknown.stage_name) == ("—", "")


NOW = 1_800_000_000.0


def _status_state(last_update: float | None, total_steps: object = None) -> RunState:
    meta = None if total_steps is None else {"total_steps": total_steps}
    return make_state(last_update=last_update, metadata=meta)


@pytest.mark.parametrize(
    ("last_update", "step", "total", "kind", "text"),
    [
        (NOW - 12, 500, None, "running", "running"),
        (NOW - 10 * 60, 500, None, "running", "running"),  # exactly the threshold: not yet stalled
        (NOW - 10 * 60 - 1, 500, None, "stalled", "stalled for 10 min"),
        (NOW - 47 * 60, 500, 1000, "stalled", "stalled for 47 min"),
        (NOW - 47 * 60, 999, 1000, "finished", "finished"),  # 0-based: step total-1 is the last
        (NOW - 5, 1000, 1000, "finished", "finished"),
        (NOW - 5, 998, 1000, "running", "running"),
        (NOW - 5, 500, "many", "running", "running"),  # a total_steps that is not a number
        (NOW - 5, 500, True, "running", "running"),
        (None, None, None, "waiting", "waiting for data"),
        (None, None, 1000, "waiting", "waiting for data"),
        (NOW + 30, 5, None, "running", "running"),  # clocks a little apart
    ],
)
def test_run_status(
    last_update: float | None, step: int | None, total: object, kind: str, text: str
) -> None:
    status = run_status(_status_state(last_update, total), step, now=NOW, stall_minutes=10)
    assert (status.kind, status.text) == (kind, text)


def test_milestones_and_speed() -> None:
    assert milestone_summary({"milestones": {"a": True, "b": False}}) == (
        2,
        1,
        [("a", True), ("b", False)],
    )
    assert milestone_summary(None) == (0, 0, [])
    speed = speed_info(make_state(make_metrics(11)), make_metrics(11))
    assert speed.steps_per_s == "100.0" and speed.duration == "10 s"
    total = make_state(make_metrics(11), metadata={"total_steps": 2000})
    assert speed_info(total, make_metrics(11)).eta == "10 s"  # 1,000 steps left at 100/s
    assert speed_info(total, make_metrics(11), status="finished").eta == "done"
    assert speed_info(total, make_metrics(11), status="stalled").eta == "—"


def test_log_tail_reads_only_the_end(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("".join(f"line {i}\n" for i in range(20_000)), encoding="utf-8")
    tail = read_log_tail(log, max_bytes=1024, max_lines=5)
    assert tail is not None and tail.splitlines() == [f"line {i}" for i in range(19_995, 20_000)]
    assert read_log_tail(tmp_path / "missing.log") is None


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1 KB"),
        (812_345, "812 KB"),
        (531_000_000, "531 MB"),
        (2_600_000_000, "2.6 GB"),
        (12_345_000_000_000, "12345.0 GB"),
    ],
)
def test_format_bytes(size: int, text: str) -> None:
    assert format_bytes(size) == text
