"""The pages over a root of runs under hostile input (AppTest): odd run names in links, hostile
configs, metric and milestone names, links with values out of range, a root that goes away.
Every bad input gives a message or a note on the page, never an exception, and nothing already
read is lost."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import streamlit as st
from runs_helpers import APP, COMPARE, ODD_NAMES, RUN, write_run
from streamlit.testing.v1 import AppTest

from dashboard import load_training_state
from dashboard.analysis.compare import overlay_frame, row_stages
from dashboard.page.compare_page import MAX_RUNS
from dashboard.page.compare_tables import MAX_DIFF_COLUMNS, unique_labels


@pytest.fixture(autouse=True)
def _release_watchers() -> Iterator[None]:
    yield
    st.cache_resource.clear()  # closes every cached RunWatcher (their observer threads stop)


def open_page(
    root: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None, **params: Any
) -> AppTest:
    """A new session on ``page`` (the Runs page when None) with the link's ``params``."""
    monkeypatch.setenv("THALIA_ROOT", str(root))
    monkeypatch.delenv("THALIA_CHECKPOINT_DIR", raising=False)
    at = AppTest.from_file(APP, default_timeout=90)
    if page is not None:
        at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value if isinstance(value, list) else [value]
    at.run()
    assert not at.exception, [e.value[:500] for e in at.exception]
    return at


def said(at: AppTest) -> str:
    """Every caption, warning and info of the page, markdown escapes and word joiners removed."""
    texts = [e.value for kind in (at.caption, at.warning, at.info, at.error) for e in kind]
    return " ".join(texts).replace("\\", "").replace("\u2060", "")


def url(at: AppTest, key: str) -> list[str]:
    """The values of one query parameter of the page now."""
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def table_with(at: AppTest, column: str) -> Any:
    return next(df.value for df in at.dataframe if column in df.value.columns)


@pytest.fixture
def odd_root(tmp_path: Path) -> Path:
    for name in ODD_NAMES:
        write_run(tmp_path / "root" / name, steps=5, config={"lr": len(name)})
    return tmp_path / "root"


def test_odd_run_names_link_to_their_own_run_page(
    odd_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = open_page(odd_root, monkeypatch).dataframe[0].value
    assert sorted(table["run"]) == sorted(ODD_NAMES)  # cells hold the names as text
    for name, link in zip(table["run"], table["open"], strict=True):
        assert link.startswith("run?run=") and "#" not in link and "&" not in link[8:]
        assert parse_qs(link.split("?", 1)[1]) == {"run": [name]}
        at = open_page(odd_root, monkeypatch, RUN, run=name)
        assert at.selectbox(key="root_run").value == name, name
        assert str(odd_root / name) in " ".join(t.value for t in at.text)


def test_compare_takes_odd_names_from_its_link(
    odd_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    picked = ["new\nline", "amp&runs=zz", "hash#frag"]
    at = open_page(odd_root, monkeypatch, COMPARE, runs=picked)
    assert at.multiselect(key="cmp_runs").value == picked
    assert url(at, "runs") == picked
    assert len(at.get("vega_lite_chart")) == 2  # loss and performance


@pytest.mark.parametrize("bad", ["%2e%2e/outside", "..%2foutside", "./outside/..", "pct%2520a"])
def test_encoded_and_absolute_run_links_are_refused(
    odd_root: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    write_run(odd_root.parent / "outside", steps=3)
    at = open_page(odd_root, monkeypatch, RUN, run=bad)
    assert "No run called" in said(at) and not at.title
    at = open_page(odd_root, monkeypatch, RUN, run=str(odd_root / "pct%20a"))  # absolute: no
    assert "No run called" in said(at) and not at.title


def _metric_run(directory: Path, fields: dict[str, float], stages: list[str]) -> None:
    """A run whose metric lines carry ``fields`` and whose stage events have ``stages`` names."""
    t0 = time.time() - 100
    lines: list[dict[str, Any]] = [
        {"event_type": "run_start", "step": 0, "wall_time": t0, "schema_version": 1,
         "run_id": "r", "resumed_from_step": None, "config": {"lr": 1}}
    ]  # fmt: skip
    for k, name in enumerate(stages):
        lines.append({"event_type": "stage", "step": k * 5, "wall_time": t0 + k * 5,
                      "stage": k, "name": name})  # fmt: skip
    lines += [
        {"event_type": "metric", "step": i, "wall_time": t0 + i, "loss": 1 / (i + 1), **fields}
        for i in range(15)
    ]
    lines.sort(key=lambda line: (line["step"], line["event_type"] != "stage"))
    directory.mkdir(parents=True)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (directory / "training_log.jsonl").write_text(text, encoding="utf-8")


STAGE_NAMES = ["<script>alert(1)</script>", "**bold** :rocket: [x](http://e)", "$x^2$ `c`"]


def test_metric_and_stage_names_that_collide_or_inject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metrics called like the Compare tables' own columns, or like markup, are metrics."""
    fields = {"run": 1.0, "metric": 2.0, "x": 3.0, "value": 4.0, "raw": 5.0, "<b>m</b>": 6.0}
    _metric_run(tmp_path / "a", fields, STAGE_NAMES)
    _metric_run(tmp_path / "b", fields, STAGE_NAMES[:1])
    runs = open_page(tmp_path, monkeypatch).dataframe[0].value.set_index("run")
    assert runs.loc["a", "stage"] == f"2 · {STAGE_NAMES[2]}"
    at = open_page(tmp_path, monkeypatch, COMPARE, runs=["a", "b"], metrics=[*fields, "loss"],
                   x="stage", stage="0")  # fmt: skip
    assert at.multiselect(key="cmp_metrics").value == [*fields, "loss"]
    assert len(at.get("vega_lite_chart")) == len(fields) + 1
    summary = table_with(at, "best step")
    assert set(summary["metric"]) == {*fields, "loss"}
    assert summary.set_index(["metric", "run"]).loc[("run", "a"), "last"] == 1.0


def test_x_stage_with_a_stage_no_run_has(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _metric_run(tmp_path / "a", {}, STAGE_NAMES)
    at = open_page(tmp_path, monkeypatch, COMPARE, runs="a", x="stage", stage="7")
    assert "stage= names '7'" in said(at)
    assert at.selectbox(key="cmp_stage").value == "2"  # the highest stage every run reached


@pytest.mark.parametrize("smooth", ["-1", "nan", "inf", "2", "0.5x"])
def test_a_smoothing_out_of_range_is_said_and_not_used(
    odd_root: Path, monkeypatch: pytest.MonkeyPatch, smooth: str
) -> None:
    at = open_page(odd_root, monkeypatch, COMPARE, smooth=smooth)
    assert at.slider(key="cmp_smooth").value == 0.0
    assert f"smooth= is '{smooth}': not a number from 0 to" in said(at)
    assert url(at, "smooth") == ["0"]


def test_a_stale_config_value_leaves_the_link(
    odd_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(odd_root, monkeypatch, COMPARE, cfg="no.such.key", cfgv="zz")
    assert "cfg= names 'no.such.key'" in said(at)
    assert "cfgv" not in at.query_params and "cfg" not in at.query_params


def test_hostile_configs_make_a_config_table_not_a_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config key called like a result column (``loss (last)``), markup in keys and values,
    thousands of keys, huge values: the Compare page draws every section below the config."""
    many = {f"k{i:05d}": i for i in range(3_000)}
    write_run(tmp_path / "a", steps=5, config={"loss (last)": 9, "<b>k</b>": "**v** :rocket:",
                                               "big": "x" * 500_000, "lr": "NaN", **many})  # fmt: skip
    write_run(tmp_path / "b", steps=5, config={"lr": 0.1, "": "empty key"},
              milestones=[(40, {"m": True})])  # fmt: skip
    at = open_page(tmp_path, monkeypatch, COMPARE, runs=["a", "b"], metrics="loss")
    config = table_with(at, "lr")
    assert config.shape[1] == MAX_DIFF_COLUMNS + 2  # and loss (last), loss (best)
    assert {"loss (last)", "loss (last) (2)", "<b>k</b>", "big"} <= set(config.columns)
    assert config.loc["a", "loss (last)"] == "9" and config.loc["a", "lr"] == "NaN"
    assert config.loc["b", "loss (last) (2)"] == pytest.approx(1.2)
    assert len(config.loc["a", "big"]) == 2_000  # cut for the cell
    assert f"config keys differ: the first {MAX_DIFF_COLUMNS} are shown" in said(at)
    assert table_with(at, "m").loc["b", "m"] == "✅ step 40"  # the sections below are drawn
    filtered = open_page(tmp_path, monkeypatch, COMPARE, cfg="big", cfgv="x" * 199 + "…")
    assert filtered.multiselect(key="cmp_runs").options == ["a"]


def test_unique_labels_keeps_the_first_and_numbers_the_rest() -> None:
    assert unique_labels(["a", "b", "a", "a (2)", "a"]) == ["a", "b", "a (2)", "a (2) (2)", "a (3)"]


def test_hundreds_of_milestones_with_markup_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"m{i:03d} <b>x</b> :rocket: **{i}**" for i in range(400)]
    write_run(
        tmp_path / "a", steps=5, milestones=[(10, {n: i % 2 == 0 for i, n in enumerate(names)})]
    )
    (tmp_path / "meta_only").mkdir()  # no log at all: a run by its metadata alone
    meta = {"step": 20, "current_stage": 1, "milestones": dict.fromkeys(names, True),
            "stage_name": "<img src=x onerror=alert(1)>", "warnings": ["**w** <script>"]}  # fmt: skip
    (tmp_path / "meta_only" / "metadata_20.json").write_text(json.dumps(meta), encoding="utf-8")
    rows = open_page(tmp_path, monkeypatch).dataframe[0].value.set_index("run")
    assert rows.loc["meta_only", "stage"] == "1 · <img src=x onerror=alert(1)>"
    at = open_page(tmp_path, monkeypatch, COMPARE, runs=["a", "meta_only"])
    matrix = table_with(at, names[0])
    assert list(matrix.columns) == names and list(matrix.index) == ["a", "meta_only"]
    assert matrix.loc["a", names[0]] == "✅ step 10" and matrix.loc["a", names[1]] == "❌"
    assert set(matrix.loc["meta_only"]) == {"✅ step 20"}
    assert "No loss on this axis for: meta_only" in said(at)


def test_a_root_deleted_while_served_keeps_its_rows_and_says_so(
    odd_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(odd_root, monkeypatch)
    before = at.dataframe[0].value
    shutil.rmtree(odd_root)
    at.run()
    assert not at.exception
    assert "cannot list the root" in said(at) and "what was read before stays" in said(at)
    assert list(at.dataframe[0].value["run"]) == list(before["run"])
    odd_root.mkdir()
    at.run()
    assert "No runs under" in said(at) and "cannot list the root" not in said(at)


def test_a_root_that_does_not_exist_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(tmp_path / "later", monkeypatch)
    assert "cannot list the root" in said(at) and not at.dataframe
    write_run(tmp_path / "later" / "a", steps=3)
    at.run()
    assert list(at.dataframe[0].value["run"]) == ["a"]


def test_the_runs_page_says_which_folders_it_did_not_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_run(tmp_path / "ok", steps=3)
    write_run(tmp_path / "a" / "b" / "c" / "d" / "deep", steps=3)
    at = open_page(tmp_path, monkeypatch)
    assert list(at.dataframe[0].value["run"]) == ["ok"]
    assert "a/b/c/d: 4 levels down, not searched deeper" in said(at)
    for i in range(12):
        (tmp_path / f"link{i:02d}").symlink_to(tmp_path / f"nowhere{i}")
    at.run()
    assert "link00: a symlink that leads nowhere" in said(at)
    assert "and 3 more folders not searched" in said(at)  # 13 notes, 10 shown


def test_a_link_with_more_runs_than_compare_takes(
    odd_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve runs (and one twice) in a link: the first eight are taken and that is said, not a
    Streamlit exception about ``max_selections``."""
    names = [*sorted(ODD_NAMES), "zz1", "zz2"]
    for name in names[-2:]:
        write_run(odd_root / name, steps=3)
    at = open_page(odd_root, monkeypatch, COMPARE, runs=[names[0], *names])
    assert at.multiselect(key="cmp_runs").value == names[:MAX_RUNS]
    assert f"runs= names {len(names)}: the first {MAX_RUNS} are shown" in said(at)
    assert url(at, "runs") == names[:MAX_RUNS]


def _absurd_run(directory: Path) -> None:
    """Metric lines with wall times a datetime axis cannot hold and stages that are no stage."""
    t0 = time.time() - 100
    walls: list[Any] = [t0, 1e300, -1e12, 1e13, "NaN"]
    stages: list[Any] = [0, 1e300, "Infinity", 1, 2.5, 2**70]
    lines: list[dict[str, Any]] = [
        {"event_type": "run_start", "step": 0, "wall_time": t0, "schema_version": 1,
         "run_id": "r", "resumed_from_step": None, "config": {}}
    ]  # fmt: skip
    lines += [
        {"event_type": "metric", "step": i, "wall_time": walls[i % 5], "loss": 1.0 + i,
         "stage": stages[i % 6]}
        for i in range(30)
    ]  # fmt: skip
    directory.mkdir(parents=True)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (directory / "training_log.jsonl").write_text(text, encoding="utf-8")


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no "invalid value encountered in cast"
@pytest.mark.parametrize("x", ["wall", "relative", "stage"])
def test_absurd_wall_times_and_stages_are_left_out_not_a_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, x: str
) -> None:
    _absurd_run(tmp_path / "a")
    write_run(tmp_path / "b", steps=30)
    at = open_page(tmp_path, monkeypatch, COMPARE, runs=["a", "b"], x=x, metrics="loss")
    assert len(at.get("vega_lite_chart")) == 1
    state = load_training_state(str(tmp_path / "a"))
    frame = overlay_frame([("a", state, state.metrics_history)], "loss", x)  # type: ignore[arg-type]
    if x == "stage":
        assert at.selectbox(key="cmp_stage").options == ["0", "1"]  # not -9223372036854775808
        assert list(row_stages(state, state.metrics_history)[:6]) == [0, 0, 0, 1, 1, 1]
    else:
        assert list(frame["step"]) == [0, 5, 10, 15, 20, 25]  # the rows with a real clock


def test_a_folder_name_that_is_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listed on the Runs page (as text with U+FFFD), refused with a message on the Run page and
    in Compare (the run page and its cache cannot encode the path), never a trace."""
    write_run(tmp_path / "ok", steps=3)
    raw = os.path.join(os.fsencode(tmp_path), b"bad\xff\xfename")
    os.makedirs(raw)
    shutil.copy(tmp_path / "ok" / "training_log.jsonl", os.path.join(raw, b"training_log.jsonl"))
    name = "bad\ufffd\ufffdname"
    table = open_page(tmp_path, monkeypatch).dataframe[0].value.set_index("run")
    assert (
        table.loc[name, "step"] == 20
        and table.loc[name, "open"] == "run?run=bad%EF%BF%BD%EF%BF%BDname"
    )
    at = open_page(tmp_path, monkeypatch, RUN, run=name)
    assert "not valid UTF-8" in said(at) and not at.title
    at = open_page(tmp_path, monkeypatch, COMPARE, runs=[name, "ok"])
    assert "not valid UTF-8" in said(at) and len(at.get("vega_lite_chart")) == 2


def test_the_empty_config_key_and_keys_that_flatten_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config key "" can be picked as a filter (it is not the "(none)" choice), and a literal
    "a.b" next to {"a": {"b": ...}} keeps both values in the diff."""
    write_run(tmp_path / "a", steps=5, config={"": "x", "a.b": 1, "a": {"b": 2}})
    write_run(tmp_path / "b", steps=5, config={"": "y", "a.b": 1, "a": {"b": 3}})
    at = open_page(tmp_path, monkeypatch, COMPARE, runs=["a", "b"], metrics="loss")
    assert at.selectbox(key="cmp_cfg_key").options[:2] == ["(none)", '"" (the empty key)']
    config = table_with(at, "a.b (2)")
    assert config.loc["a", "a.b (2)"] == "2" and config.loc["b", "a.b (2)"] == "3"
    assert "a.b" not in config.columns  # the same in both runs
    at.selectbox(key="cmp_cfg_key").set_value("").run()
    at.multiselect(key="cmp_cfg_values").set_value(["y"]).run()
    assert at.multiselect(key="cmp_runs").options == ["b"]
    assert url(at, "cfg") == [""] and url(at, "cfgv") == ["y"]
