"""Many runs in one server under Streamlit's AppTest: the Runs, Compare and Run pages over a
root, their deep links, and the refusal of runs outside the root."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from runs_helpers import APP, COMPARE, RUN, write_run
from streamlit.testing.v1 import AppTest

from dashboard.page.root_app import parse_root


@pytest.fixture(autouse=True)
def _release_watchers() -> Iterator[None]:
    yield
    st.cache_resource.clear()  # closes every cached RunWatcher (their observer threads stop)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Three runs: one finished, one running (stages at different steps), one legacy."""
    base = tmp_path / "root"
    write_run(base / "done", end="finished", stages=(0, 400), config={"lr": 0.1, "seed": 1},
              growth_every=10, milestones=[(500, {"m1": True}), (900, {"m1": True})])  # fmt: skip
    write_run(base / "sweep" / "live", stages=(0, 700), config={"lr": 0.01, "seed": 1},
              milestones=[(900, {"m1": False})])  # fmt: skip
    write_run(base / "old", legacy=True)
    return base


def start(root: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("THALIA_ROOT", str(root))
    monkeypatch.delenv("THALIA_CHECKPOINT_DIR", raising=False)
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def goto(at: AppTest, page: str, **params: str | list[str]) -> AppTest:
    at.switch_page(page)
    for key in list(at.query_params):
        del at.query_params[key]
    for key, value in params.items():
        at.query_params[key] = value if isinstance(value, list) else [value]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def url(at: AppTest, key: str) -> list[str]:
    """The values of one query parameter of the page now."""
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table shown with ``column`` (AppTest does not expose a dataframe's key)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_runs_page_lists_every_run_with_its_status_and_link(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(root, monkeypatch)
    table = at.dataframe[0].value.set_index("run")
    assert list(table.index) == ["done", "old", "sweep/live"]
    assert table["status"].to_dict() == {"done": "finished", "old": "running",
                                         "sweep/live": "running"}  # fmt: skip
    assert table.loc["sweep/live", "open"] == "run?run=sweep%2Flive"
    assert table.loc["done", "step"] == 990 and table.loc["done", "growth"] == 10
    assert table.loc["done", "stage"] == "1 · stage1"  # the metadata's stage, the event's name
    assert "3 runs" in at.caption[1].value


def test_new_runs_appear_and_deleted_runs_go_without_restart(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(root, monkeypatch)
    write_run(root / "sweep" / "new")
    (root / "old" / "training_log.json").unlink()
    at.run()
    assert list(at.dataframe[0].value["run"]) == ["done", "sweep/live", "sweep/new"]


def test_an_empty_root_says_what_a_run_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = start(tmp_path, monkeypatch)
    assert "No runs under" in at.info[0].value and not at.dataframe


def test_compare_from_a_deep_link_overlays_the_runs_stage_aligned(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = goto(start(root, monkeypatch), COMPARE, runs=["done", "sweep/live"], x="stage",
              stage="1", metrics=["loss"], smooth="0.5")  # fmt: skip
    assert at.multiselect(key="cmp_runs").value == ["done", "sweep/live"]
    assert at.radio(key="cmp_x").value == "stage"
    assert at.selectbox(key="cmp_stage").value == "1"
    assert at.slider(key="cmp_smooth").value == 0.5
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["done", "sweep/live"]
    assert spec["layer"][0]["encoding"]["x"]["title"] == "Step within stage"
    config = table_with(at, "lr")
    assert list(config.index) == ["done", "sweep/live"] and "lr" in config.columns
    assert "seed" not in config.columns  # the same in both runs
    milestones = table_with(at, "m1")
    assert (
        milestones.loc["done", "m1"] == "✅ step 500" and milestones.loc["sweep/live", "m1"] == "❌"
    )
    summary = table_with(at, "metric")
    assert set(summary["run"]) == {"done", "sweep/live"} and set(summary["metric"]) == {"loss"}


def test_compare_writes_its_view_into_the_url(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = goto(start(root, monkeypatch), COMPARE)
    assert at.multiselect(key="cmp_runs").value == ["done", "old"]  # the first two by default
    at.radio(key="cmp_x").set_value("relative").run()
    assert url(at, "x") == ["relative"]
    said = " ".join(c.value for c in at.caption)
    assert "No loss on this axis for" in said and "old" in said  # a legacy log: no wall times
    assert url(at, "runs") == ["done", "old"]
    assert url(at, "metrics") == ["loss", "performance"]


def test_compare_filters_runs_by_name_and_config(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = goto(start(root, monkeypatch), COMPARE, filter="sweep/*")
    assert at.multiselect(key="cmp_runs").options == ["sweep/live"]
    at.text_input(key="cmp_filter").set_value("done").run()  # typed: kept, and in the URL
    assert at.multiselect(key="cmp_runs").options == ["done"]
    assert url(at, "filter") == ["done"]
    at = goto(start(root, monkeypatch), COMPARE, cfg="lr", cfgv="0.1")  # a new session
    assert at.multiselect(key="cmp_runs").options == ["done"]


def test_run_page_shows_the_run_named_in_the_url(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = goto(start(root, monkeypatch), RUN, run="sweep/live")
    assert at.selectbox(key="root_run").value == "sweep/live"
    assert str(root / "sweep" / "live") in [t.value for t in at.text]
    assert at.title[0].value == "Thalia curriculum training monitor"
    summary = next(c.value for c in at.code if c.value.startswith("metric"))  # run page's
    lines = {line.split()[0]: line for line in summary.splitlines()}
    assert "↓ lower is better" in lines["loss"] and "↑ higher is better" in lines["performance"]
    assert lines["performance"].split()[-2:] == ["990", "100"]  # best at step 990, 100 points


@pytest.mark.parametrize("bad", ["../outside", "/etc", "sweep", "done/../../outside"])
def test_a_run_outside_the_root_is_refused(
    root: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    write_run(root.parent / "outside")
    at = goto(start(root, monkeypatch), RUN, run=bad)
    assert any("No run called" in e.value for e in at.error)
    assert not at.title  # nothing of the run page was drawn
    assert not any(str(root.parent / "outside") in t.value for t in at.text)


def test_the_root_comes_from_the_arguments_and_a_run_directory_wins() -> None:
    assert parse_root(["--", "--root", "/r"], {}) == ("/r", False)
    assert parse_root(["--root", "/r", "--poll"], {}) == ("/r", True)
    assert parse_root([], {"THALIA_ROOT": "/r"}) == ("/r", False)
    assert parse_root(["--checkpoint-dir", "/run"], {"THALIA_ROOT": "/r"}) == (None, False)
    assert parse_root([], {}) == (None, False)


def test_a_legacy_run_and_a_stalled_run_read_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = write_run(tmp_path / "quiet", start=time.time() - 7_200)
    old = time.time() - 3_600
    os.utime(run / "training_log.jsonl", (old, old))
    at = start(tmp_path, monkeypatch)
    assert at.dataframe[0].value.loc[0, "status"].startswith("stalled")


def test_a_typed_link_with_commas_and_unknown_runs(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``?runs=a,b`` (as people type it) selects both; a run not under the root is named in a
    note and left out, never silently replaced."""
    at = goto(start(root, monkeypatch), COMPARE, runs="done,sweep/live,../etc", x="warp")
    assert at.multiselect(key="cmp_runs").value == ["done", "sweep/live"]
    said = " ".join(c.value for c in at.caption).replace("\\", "")  # markdown escapes
    assert "runs= names '../etc'" in said and "x= names 'warp'" in said
    assert at.radio(key="cmp_x").value == "step"
