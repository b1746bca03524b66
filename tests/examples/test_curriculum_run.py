"""The curriculum example end to end: ``--quick`` run, schemas, loader, page, kill and resume."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "curriculum_training.py"
SCHEMAS = ROOT / "schemas"
DEADLINE_S = 120


def _trainer(log_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(SCRIPT), "--quick", "--quiet", "--log-dir", str(log_dir), *extra]


def _run(log_dir: Path, *extra: str) -> str:
    done = subprocess.run(
        _trainer(log_dir, *extra), capture_output=True, text=True, timeout=DEADLINE_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted ``--quick`` run (seed 0), shared by the tests of this module."""
    log_dir = tmp_path_factory.mktemp("quick")
    _run(log_dir)
    return log_dir


def _records(log_dir: Path) -> list[dict]:
    text = (log_dir / "training_log.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.split("\n")[:-1]]


def _validators() -> dict[str, jsonschema.Draft202012Validator]:
    out = {}
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        out[path.name.removesuffix(".schema.json")] = jsonschema.Draft202012Validator(schema)
    return out


def test_quick_run_validates_against_the_schemas(quick_run: Path) -> None:
    validators = _validators()
    records = _records(quick_run)
    kinds = {r["event_type"] for r in records}
    assert kinds == {"run_start", "stage", "metric", "growth", "consolidation", "run_end"}
    assert records[-1]["event_type"] == "run_end" and records[-1]["status"] == "finished"
    for record in records:
        validators[record["event_type"]].validate(record)
    steps = []
    for path in quick_run.glob("metadata_*.json"):
        data = json.loads(path.read_text())
        validators["metadata"].validate(data)
        assert path.name == f"metadata_{data['step']}.json"
        steps.append(data["step"])
    assert len(steps) == 6  # one per week: 3 stages x 2 weeks
    checkpoints = {p.name for p in quick_run.glob("checkpoint_*.pt")}
    assert checkpoints == {f"checkpoint_{step}.pt" for step in sorted(steps)[-3:]}  # keep 3


def test_quick_run_loads_with_growth_consolidation_stages_and_milestones(quick_run: Path) -> None:
    from dashboard import load_training_state

    state = load_training_state(quick_run)
    assert state.bad_line_count == 0 and not state.restarts
    metrics = state.metrics_history
    assert len(metrics) > 50 and metrics["step"].is_unique
    for column in (
        "firing_rate",
        "capacity",
        "performance",
        "loss",
        "grad_norm",
        "lr",
        "val_loss",
        "val_accuracy",
        "neuron_counts.sensory",
        "capacity_by_region.motor",
        "dead_unit_fraction",
        "dead_unit_fraction.sensory",
        "dead_unit_fraction.motor",
    ):
        assert column in metrics.columns, column
    # held-out evaluation (one row per week) is its own series, never in the training ones
    train = metrics[metrics["grad_norm"].notna()]
    evals = metrics[metrics["val_loss"].notna()]
    assert len(evals) == 6 and len(train) > 50 and len(train) + len(evals) == len(metrics)
    assert evals["val_accuracy"].between(0, 1).all() and (evals["val_loss"] > 0).all()
    assert evals["performance"].isna().all() and evals["loss"].isna().all()
    assert train["val_loss"].isna().all()
    assert train["firing_rate"].between(0, 1).all()
    assert train["performance"].between(0, 1).all()
    assert train["dead_unit_fraction.sensory"].between(0, 1).all()
    assert "gpu_mem_bytes" not in metrics.columns  # a CPU run
    growth = state.growth_events
    assert len(growth) >= 1 and (growth["neurons_added"] > 0).all()
    for row in growth.itertuples():  # the logged neuron counts follow the growth
        after = metrics[metrics["step"] > row.step]
        if len(after):
            assert after[f"neuron_counts.{row.region}"].iloc[0] == row.new_total
    sleep = state.consolidation_events
    assert sorted(set(sleep["sleep_stage"])) == ["NREM", "REM"] and len(sleep) == 12
    assert (sleep["patterns_replayed"] > 0).all() and (sleep["duration_steps"] > 0).all()
    assert state.stage_events["stage"].tolist() == [0, 1, 2]
    assert state.stage_events["name"].tolist() == [
        "sensory_orientation",
        "pattern_discrimination",
        "categorisation",
    ]
    meta = state.metadata
    assert meta is not None and meta["current_stage"] == 2 and meta["total_stages"] == 3
    assert set(meta["milestones"]) == {
        "binary_discrimination",
        "four_way_discrimination",
        "six_way_categorisation",
    }
    assert any(meta["milestones"].values())
    assert set(meta["metrics"]) == {
        "firing_rate",
        "capacity",
        "performance",
        "loss",
        "val_loss",
        "val_accuracy",
    }
    last_train = train.iloc[-1]  # the headline measures are the training ones, not the eval's
    assert meta["metrics"]["performance"] == last_train["performance"]
    assert meta["metrics"]["val_accuracy"] == evals["val_accuracy"].iloc[-1]


@pytest.fixture
def _no_leaked_watchers() -> Iterator[None]:
    import streamlit as st

    before = set(threading.enumerate())
    yield
    st.cache_resource.clear()  # closes every cached RunWatcher
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


@pytest.mark.usefixtures("_no_leaked_watchers")
def test_quick_run_renders_in_the_page(quick_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(quick_run))
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    subheaders = [s.value for s in at.subheader]
    for section in (
        "Current metrics",
        "Metric history",
        "Growth",
        "Consolidation",
        "Milestone checklist",
        "Training information",
    ):
        assert section in subheaders, (section, subheaders)
    texts = [t.value for t in at.text]
    assert not [t for t in texts if t.startswith("No ")], texts  # no empty-section notes
    assert "✅ binary_discrimination" in texts
    cards = {m.label: m.value for m in at.metric}
    assert cards["Total events"] == "12"  # consolidation
    assert cards["Total"] == "3"  # milestones
    assert len(at.dataframe) >= 2  # growth and consolidation tables
    assert not at.selectbox or "Rank" not in [s.label for s in at.selectbox]  # rank 0 only


def _wait_for_checkpoint(proc: subprocess.Popen[bytes], log_dir: Path) -> None:
    """Poll (with a deadline) until the first checkpoint and its metadata are on disk."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if list(log_dir.glob("checkpoint_*.pt")) and list(log_dir.glob("metadata_*.json")):
            return
        try:
            proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"the trainer exited (rc {proc.returncode}) before its first checkpoint")
    pytest.fail("no checkpoint within the deadline")


def test_killed_trainer_resumes_and_ends_like_an_uninterrupted_run(
    quick_run: Path, tmp_path: Path
) -> None:
    from dashboard import load_training_state

    # --step-delay paces the first run so that SIGKILL lands mid-run, after a checkpoint.
    proc = subprocess.Popen(
        _trainer(tmp_path, "--step-delay", "0.02"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_checkpoint(proc, tmp_path)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    saved = sorted(int(p.stem.split("_")[1]) for p in tmp_path.glob("checkpoint_*.pt"))
    final_steps = sorted(int(p.stem.split("_")[1]) for p in quick_run.glob("checkpoint_*.pt"))
    assert saved and saved[-1] < final_steps[-1], "the first run should not have finished"

    out = _run(tmp_path)
    match = re.search(r"resumed from (\d+)", out)
    assert match, out
    resumed_from = int(match.group(1))
    assert resumed_from == saved[-1]

    state = load_training_state(tmp_path)
    starts = state.run_starts
    assert len(starts) == 2 and starts["resumed_from_step"].iloc[-1] == resumed_from
    assert any(r.kind == "resumed" for r in state.restarts), state.restarts
    metrics = state.metrics_history
    assert metrics["step"].is_unique  # one row per step after the restart
    reference = load_training_state(quick_run).metrics_history
    assert metrics["step"].tolist() == reference["step"].tolist()
    # bit-for-bit the same run: model, optimizer, replay buffer and RNGs all came back
    for column in (
        "loss",
        "performance",
        "capacity",
        "firing_rate",
        "neuron_counts.sensory",
        "val_loss",
        "val_accuracy",
    ):  # equal, NaN where the reference has NaN
        assert np.array_equal(
            metrics[column].to_numpy(), reference[column].to_numpy(), equal_nan=True
        ), column
    last = f"metadata_{final_steps[-1]}.json"
    mine, theirs = (json.loads((d / last).read_text()) for d in (tmp_path, quick_run))
    assert mine["metrics"] == theirs["metrics"] and mine["milestones"] == theirs["milestones"]
