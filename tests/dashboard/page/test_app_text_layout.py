"""The page under AppTest: run text stays text in every markdown-rendering element; grouped
alerts, neutral zero deltas, empty sections that say what they wait for, a bounded console tail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from page_helpers import write_lines, write_metadata
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from dashboard.page.text import WORD_JOINER, md_text

APP = str(Path(__file__).resolve().parents[3] / "dashboard" / "app.py")
INJECTION = (
    "**bold** [link](http://127.0.0.1:9/x) ![img](http://127.0.0.1:9/i.png) "
    "<img src=x onerror=alert(1)> www.example.com :material/home: :red[red] :rocket: "
    "$x^2$ `code`"
)
#: What must never reach a markdown-rendering element verbatim (it would become an element).
RAW = (
    "**bold**",
    "](http",
    "://",
    "www.",
    ":material/",
    ":red[",
    ":rocket:",
    "$x^2$",
    "<img",
    "`code`",
)


@pytest.fixture(autouse=True)
def _release_watchers() -> Iterator[None]:
    yield
    st.cache_resource.clear()  # on_release closes every cached RunWatcher (no leaked threads)


def run_page(directory: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(directory))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric_line(step: int, **extra: Any) -> dict[str, Any]:
    line = {
        "event_type": "metric",
        "step": step,
        "wall_time": time.time() - 60 + step / 1000,
        "firing_rate": 0.1,
        "capacity": 0.5,
        "performance": 0.5,
        "loss": 1.0,
    }
    return {**line, **extra}


def markdown_texts(at: AppTest) -> list[str]:
    """Every string the page hands to a Streamlit call that renders markdown."""
    out: list[str] = []
    for m in at.metric:
        out += [m.label, m.value, m.proto.delta, m.proto.help]
    for group in (at.error, at.warning, at.info, at.success, at.caption):
        out += [e.value for e in group]
    out += [m.value for m in at.markdown if "-badge[:material/" not in m.value]  # our status badge
    out += [t.label for t in at.tabs] + [e.label for e in at.expander]
    out += [option for r in at.radio for option in r.options]
    return out


def test_run_text_never_reaches_markdown_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_lines(
        tmp_path / "training_log.jsonl",
        [
            {
                "event_type": "stage",
                "step": 0,
                "wall_time": time.time() - 60,
                "stage": 1,
                "name": INJECTION,
            },
            *(
                metric_line(
                    s,
                    neuron_counts={INJECTION: 10},
                    capacity_by_region={INJECTION: 0.5},
                    **{INJECTION: 1.0},
                )
                for s in (0, 100)
            ),
            {
                "event_type": "growth",
                "step": 100,
                "wall_time": time.time(),
                "region": INJECTION,
                "neurons_added": 1,
                "new_total": 11,
                "reason": INJECTION,
            },
        ],
        raw_tail=INJECTION + "\n",
    )
    write_metadata(
        tmp_path,
        100,
        current_week=INJECTION,
        total_weeks={"w": INJECTION},
        stage_name=INJECTION,
        milestones={INJECTION: True},
        warnings=[
            INJECTION,
            {"severity": "critical", "message": INJECTION},
            {"severity": INJECTION, "message": INJECTION},
        ],
    )
    (tmp_path / "console.log").write_text(INJECTION + "\n", encoding="utf-8")
    at = run_page(tmp_path, monkeypatch)
    shown = markdown_texts(at)
    for text in shown:
        for raw in RAW:
            assert raw not in text.replace("\\<", "\\"), (raw, text)  # "\<img" is escaped
    # the string week reaches its card as text, and the page says the field has an odd type
    week = {m.label: m for m in at.metric}["Week"]
    assert week.value == md_text(f'{INJECTION}/{{"w": "{INJECTION}"}}')
    assert week.proto.help == week.value  # too long for the card: whole in its tooltip
    assert [w.value for w in at.warning if "unexpected type" in w.value] == [
        md_text(
            "The latest checkpoint metadata has fields of an unexpected type (shown as text above): "
            "current_week, total_weeks."
        )
    ]
    # the metadata warnings are shown, each literally (a severity that is run text is "warning")
    assert [e.value for e in at.error].count(md_text(INJECTION)) == 1
    assert [w.value for w in at.warning].count(md_text(INJECTION)) == 2
    # plain-text widgets get the text as it is
    texts = [t.value for t in at.text]
    assert INJECTION in texts and f"✅ {INJECTION}" in texts
    assert INJECTION in at.code[-1].value
    growth = at.dataframe[0].value
    assert growth["Region"].tolist() == [INJECTION] and growth["Reason"].tolist() == [INJECTION]
    bad = at.dataframe[-1].value
    assert bad["Line (start)"].tolist() == [INJECTION]


def test_alerts_grouped_by_severity_critical_first_and_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_lines(tmp_path / "training_log.jsonl", [metric_line(s) for s in (0, 100)])
    warnings = (
        [{"severity": "info", "message": f"note {i}"} for i in range(3)]
        + [f"plain warning {i}" for i in range(6)]
        + [{"severity": "critical", "message": f"critical {i}"} for i in range(3)]
    )
    write_metadata(tmp_path, 100, warnings=warnings)
    at = run_page(tmp_path, monkeypatch)
    assert "Alerts: 3 critical · 6 warnings · 3 info" in [c.value for c in at.caption]
    groups = [
        (e.label, e.proto.expanded)
        for e in at.expander
        if e.label.startswith(("Critical", "Warnings", "Info"))
    ]
    assert groups == [("Critical (3)", True), ("Warnings (6)", False), ("Info (3)", False)]
    assert [e.value for e in at.error] == [f"critical {i}" for i in range(3)]
    assert [w.value for w in at.warning] == [f"plain warning {i}" for i in range(6)]
    assert [i.value for i in at.info] == [f"note {i}" for i in range(3)]


def test_few_warnings_without_critical_are_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_lines(tmp_path / "training_log.jsonl", [metric_line(s) for s in (0, 100)])
    write_metadata(tmp_path, 100, warnings=["disk nearly full"])
    at = run_page(tmp_path, monkeypatch)
    assert [(e.label, e.proto.expanded) for e in at.expander if e.label.startswith("Warn")] == [
        ("Warnings (1)", True)
    ]


def test_zero_delta_is_neutral(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lines(
        tmp_path / "training_log.jsonl", [metric_line(0, loss=1.0), metric_line(100, loss=0.9)]
    )
    at = run_page(tmp_path, monkeypatch)
    cards = {m.label: m for m in at.metric}
    capacity, loss = cards["Capacity"], cards["Loss"]
    assert capacity.proto.delta == "0.00 pp"
    assert Metric.MetricColor.Name(capacity.proto.color) == "GRAY"
    assert Metric.MetricDirection.Name(capacity.proto.direction) == "NONE"  # no arrow
    assert Metric.MetricColor.Name(cards["Performance"].proto.color) == "GRAY"
    assert (loss.proto.delta, Metric.MetricColor.Name(loss.proto.color)) == ("-0.1", "GREEN")
    assert Metric.MetricDirection.Name(loss.proto.direction) == "DOWN"


def test_empty_sections_say_what_they_wait_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_lines(tmp_path / "training_log.jsonl", [metric_line(s) for s in (0, 100)])
    write_metadata(tmp_path, 100)
    at = run_page(tmp_path, monkeypatch)
    captions = " | ".join(c.value.replace("\\", "").replace(WORD_JOINER, "") for c in at.caption)
    for waits_for in (
        "No neuron counts yet",
        "No per-region capacity yet",
        "No growth events yet — the trainer logs them with log_growth",
        "No consolidation (sleep replay) events yet",
        "log_consolidation",
        "No milestones yet",
        "No console.log yet",
    ):
        assert waits_for in captions, waits_for
    assert at.dataframe == []  # no empty growth or consolidation table
    assert at.text == [] or all("No " not in t.value for t in at.text)  # one look: captions


def test_console_tail_is_bounded_and_ends_at_the_newest_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_lines(tmp_path / "training_log.jsonl", [metric_line(s) for s in (0, 100)])
    lines = [f"2026-01-01 INFO step {i} | loss 0.1" for i in range(500)]
    (tmp_path / "console.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    at = run_page(tmp_path, monkeypatch)
    tail = at.code[-1].value.split("\n")
    assert tail[-1] == lines[-1] and len(tail) == 200
    holders = [
        node
        for node in _walk(at.main)
        if lines[-1] in _codes(node)
        and getattr(node.proto, "height_config", None) is not None
        and node.proto.height_config.pixel_height
    ]
    assert [h.proto.height_config.pixel_height for h in holders] == [320]  # scrolls inside 320 px
    assert holders[0].proto.autoscroll is True  # opened at its end (the newest line)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _codes(node: Any) -> str:
    return "".join(n.value for n in _walk(node) if getattr(n, "type", "") == "code")
