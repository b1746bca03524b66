"""The System section and the Config expander: in the page (AppTest) and their chart specs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from page_helpers import write_lines, write_metadata
from streamlit.testing.v1 import AppTest

from dashboard import load_training_state
from dashboard.analysis.system import GPU_GB, history_charts
from dashboard.page.charts_system import system_chart

APP = str(Path(__file__).resolve().parents[3] / "dashboard" / "app.py")
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def _release_watchers() -> Iterator[None]:
    yield
    st.cache_resource.clear()  # closes the cached RunWatcher and its threads


def _run(directory: Path, *, system: bool, config: dict[str, Any]) -> None:
    now = time.time()
    records: list[dict[str, Any]] = [
        {
            "event_type": "run_start",
            "step": 0,
            "wall_time": now - 600,
            "schema_version": 1,
            "run_id": "r1",
            "resumed_from_step": None,
            "config": config,
        },
    ]
    for step in range(0, 1000, 10):
        line: dict[str, Any] = {
            "event_type": "metric",
            "step": step,
            "wall_time": now - 600 + step / 10,
            "firing_rate": 0.1,
            "capacity": 0.5,
            "performance": 0.5,
            "loss": 1.0,
        }
        if system and step % 100 == 0:  # the sampler: one line per interval
            line.update(
                sys_cpu_percent=42.0,
                proc_cpu_percent=97.0,
                proc_rss_bytes=1.5e9,
                host_mem_percent=25.0,
                host_mem_used_bytes=8e9,
                host_mem_total_bytes=32e9,
                disk_read_bytes_per_s=2e6,
                disk_write_bytes_per_s=1e6,
                gpu0_util_percent=87.0,
                gpu0_mem_bytes=int(4.2 * GPU_GB),
                gpu0_mem_total_bytes=8 * GPU_GB,
            )
        records.append(line)
    write_lines(directory / "training_log.jsonl", records)
    write_metadata(directory, 990)


def _page(directory: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(directory))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_run_with_system_metrics_shows_the_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"lr": 0.001, "model": {"layers": [2, 3], XSS: "**bold**"}}
    _run(tmp_path, system=True, config=config)
    at = _page(tmp_path, monkeypatch)
    assert "System" in [s.value for s in at.subheader]
    cards = {m.label: m.value for m in at.metric}
    assert cards["GPU 0 memory"] == "4.2 / 8.0 GB"
    assert cards["GPU 0 utilisation"] == "87%"
    assert cards["System CPU"] == "42%" and cards["Process CPU"] == "97%"
    assert cards["Disk read"] == "2 MB/s"
    bars = list(at.get("progress"))
    assert any(abs(b.proto.value - 52) <= 1 for b in bars), [b.proto.value for b in bars]
    labels = [e.label for e in at.expander]
    assert "System history" in labels and "Config" in labels
    tables = [df.value for df in at.dataframe if list(df.value.columns) == ["Key", "Value"]]
    assert len(tables) == 1
    rows = dict(zip(tables[0]["Key"], tables[0]["Value"], strict=True))
    assert rows["lr"] == "0.001" and rows["model.layers"] == "[2, 3]"
    assert rows[f"model.{XSS}"] == "**bold**"  # a table cell: text, never markdown or HTML


def test_a_run_without_system_metrics_shows_none_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(tmp_path, system=False, config={})
    at = _page(tmp_path, monkeypatch)
    assert "System" not in [s.value for s in at.subheader]
    labels = [m.label for m in at.metric]
    assert not any("GPU" in label or "CPU" in label for label in labels), labels
    expanders = [e.label for e in at.expander]
    assert "System history" not in expanders and "Config" not in expanders  # empty config


def test_system_charts_are_valid_specs_with_legends() -> None:
    from page_helpers import make_metrics

    n = 20
    run = make_metrics(
        n,
        sys_cpu_percent=50.0,
        proc_cpu_percent=20.0,
        proc_rss_bytes=1e9,
        disk_read_bytes_per_s=1e6,
        gpu0_util_percent=10.0,
        gpu0_mem_bytes=GPU_GB,
        gpu0_mem_total_bytes=8 * GPU_GB,
    )
    charts = history_charts(run.columns)
    assert [c.title for c in charts] == [
        "CPU",
        "Memory",
        "Disk I/O",
        "GPU utilisation",
        "GPU memory",
    ]
    for chart in charts:
        built = system_chart(run, chart)
        assert built is not None
        spec = built.to_dict(validate=True)
        assert spec["encoding"]["color"]["legend"]["orient"] == "top"
    empty = make_metrics(3)
    assert all(system_chart(empty, c) is None for c in charts)


def _history_charts(at: AppTest) -> list[Any]:
    box = next(e for e in at.expander if e.label == "System history")
    return list(box.get("vega_lite_chart"))


def test_system_history_charts_are_sent_only_while_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closed (as it opens), the expander holds no chart: nothing hidden is built or sent. Opened
    (its state lives under a fixed key, as a click sets it), it holds every history chart, and
    it stays open on the next refresh."""
    _run(tmp_path, system=True, config={})
    at = _page(tmp_path, monkeypatch)
    assert _history_charts(at) == []
    at.session_state["system_history"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    expected = history_charts(load_training_state(tmp_path).metrics_history.columns)
    assert len(_history_charts(at)) == len(expected) > 0
    at.run()
    assert len(_history_charts(at)) == len(expected)
