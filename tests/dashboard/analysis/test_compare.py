"""Runs side by side: stage alignment, x axes, colours, overlay series, event tables, milestone
matrix, config diff, and the overview rows."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from page_helpers import make_metrics, make_state
from runs_helpers import write_run

from dashboard.analysis.compare import (
    PALETTE,
    consolidation_table,
    growth_table,
    milestone_matrix,
    overlay_frame,
    row_stages,
    run_colour,
    x_values,
)
from dashboard.analysis.config_diff import MISSING, config_diff, config_values
from dashboard.analysis.run_table import overview_rows
from dashboard.reading.overview import Checkpoint, OverviewReader
from dashboard.reading.watcher import load_training_state


def _stages(steps: list[int], stages: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "step": np.array(steps, dtype=np.int64),
            "wall_time": np.zeros(len(steps)),
            "rank": np.zeros(len(steps), dtype=np.int64),
            "stage": np.array(stages, dtype=np.int64),
            "name": [f"s{s}" for s in stages],
        }
    )


def test_stage_k_of_one_run_lies_over_stage_k_of_another() -> None:
    a = make_state(make_metrics(10), stage_events=_stages([0, 400], [0, 1]))  # steps 0..900
    b = make_state(make_metrics(10), stage_events=_stages([0, 700], [0, 1]))
    for state, start in ((a, 400), (b, 700)):
        metrics = state.metrics_history
        stages = row_stages(state, metrics)
        x = x_values(state, metrics, "stage")
        assert x[stages == 1][0] == 0.0
        assert np.array_equal(x[stages == 1], metrics["step"].to_numpy()[stages == 1] - start)
    runs = [("a", a, a.metrics_history), ("b", b, b.metrics_history)]
    frame = overlay_frame(runs, "loss", "stage", stage=1)
    assert frame.groupby("run")["x"].min().to_dict() == {"a": 0.0, "b": 0.0}
    assert frame.groupby("run").size().to_dict() == {"a": 6, "b": 3}


def test_a_logged_stage_column_wins_and_rows_before_the_first_event_are_stage_0() -> None:
    metrics = make_metrics(4, stage=[2, 2, np.nan, 3])
    state = make_state(metrics, stage_events=_stages([900], [5]))
    assert row_stages(state, metrics).tolist() == [2, 2, 2, 3]
    events_only = make_state(make_metrics(4), stage_events=_stages([200], [1]))
    assert row_stages(events_only, events_only.metrics_history).tolist() == [0, 0, 1, 1]


def test_time_axes_and_rows_without_wall_time() -> None:
    metrics = make_metrics(4, wall_time=[np.nan, 7200.0, 10800.0, 14400.0])
    state = make_state(metrics)
    assert np.isnan(x_values(state, metrics, "wall")[0])
    assert x_values(state, metrics, "relative")[1:].tolist() == [0.0, 1.0, 2.0]
    frame = overlay_frame([("r", state, metrics)], "loss", "relative")
    assert frame["step"].tolist() == [100, 200, 300]  # the row without a wall time has no x


def test_overlay_smooths_and_downsamples_each_run_and_keeps_nan() -> None:
    n = 20_000
    loss = np.linspace(2.0, 1.0, n)
    loss[12_345] = np.nan
    state = make_state(make_metrics(n, loss=loss))
    frame = overlay_frame([("r", state, state.metrics_history)], "loss", "step",
                          smoothing=0.9, max_points=1_000)  # fmt: skip
    assert len(frame) <= 1_000
    assert frame["step"].iloc[0] == 0 and frame["step"].iloc[-1] == (n - 1) * 100
    assert 1_234_500 in frame.loc[frame["value"].isna(), "step"].tolist()


def test_colours_follow_the_name_not_the_order() -> None:
    assert run_colour("sweep/lr1") == run_colour("sweep/lr1") in PALETTE
    names = [f"run{i}" for i in range(40)]
    assert len({run_colour(n) for n in names}) > 10


def test_growth_and_consolidation_tables(tmp_path: Path) -> None:
    a = load_training_state(write_run(tmp_path / "a", growth_every=10, consolidation_every=25))
    b = load_training_state(write_run(tmp_path / "b"))
    growth = growth_table({"a": a, "b": b})
    assert growth.loc["cortex"].to_dict() == {"a": 80, "b": 0}
    cons = consolidation_table({"a": a, "b": b}).set_index("run")
    assert cons.loc["a", "events"] == 4 and cons.loc["b", "events"] == 0
    assert cons.loc["a", "NREM"] + cons.loc["a", "REM"] == 4


def test_milestone_matrix_says_the_first_step_each_passed() -> None:
    matrix = milestone_matrix(
        {
            "a": [Checkpoint(100, {}, {"m1": False, "m2": False}),
                  Checkpoint(200, {}, {"m1": True, "m2": False}),
                  Checkpoint(300, {}, {"m1": True, "m2": False})],
            "b": [Checkpoint(50, {}, {"m3": True})],
        }
    )  # fmt: skip
    assert matrix.loc["a"].to_dict() == {"m1": "✅ step 200", "m2": "❌", "m3": ""}
    assert matrix.loc["b", "m3"] == "✅ step 50"


def test_config_diff_shows_only_keys_that_differ() -> None:
    diff = config_diff(
        {
            "a": {"lr": 0.1, "model": {"layers": 2, "width": 64}, "seed": 1},
            "b": {"lr": 0.01, "model": {"layers": 2, "width": 64}},
            "c": None,
        }
    )
    assert list(diff.columns) == ["lr", "model.layers", "model.width", "seed"]  # first seen
    assert diff.loc["a", "lr"] == "0.1" and diff.loc["b", "seed"] == MISSING
    assert diff.loc["c"].tolist() == [MISSING] * 4
    same = config_diff({"a": {"lr": 1}, "b": {"lr": 1}})
    assert same.shape == (2, 0)
    assert config_values({"a": {"lr": 1}, "b": {"lr": 2, "x": "y"}}) == {
        "lr": ["1", "2"],
        "x": ["y"],
    }


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"end": "finished"}, "finished"),
        ({}, "running"),
        ({"start": time.time() - 7_200}, "stalled"),
        ({"legacy": True}, "running"),
    ],
)
def test_overview_status(tmp_path: Path, kwargs: dict[str, object], status: str) -> None:
    run = write_run(tmp_path / "r", **kwargs)  # type: ignore[arg-type]
    if "start" in kwargs:
        old = time.time() - 3_600
        os.utime(run / "training_log.jsonl", (old, old))
    row = overview_rows(OverviewReader(str(tmp_path)).refresh(), now=time.time())[0]
    assert row.status == status


def test_best_performance_comes_from_tail_and_checkpoints(tmp_path: Path) -> None:
    write_run(tmp_path / "r", steps=100, milestones=[(200, {"m": True})])
    meta = tmp_path / "r" / "metadata_200.json"
    meta.write_text(meta.read_text().replace('"performance": 0.2', '"performance": 1.5'))
    row = overview_rows(OverviewReader(str(tmp_path)).refresh(), now=time.time())[0]
    assert (row.best_performance, row.best_step) == (1.5, 200)
    assert row.step == 990 and row.loss == pytest.approx(1.01)
    assert row.week == "1 / 4" and row.stage == "0 · stage0"
