"""ThaliaCallback: a tiny Hugging Face Trainer run (CPU, no network) end to end, plus the hooks."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from integration_helpers import check_run_directory, render_page
from logger_helpers import REPO, read_records

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from thalia_logging.integrations.hf import ThaliaCallback

MAX_STEPS, EVAL_EVERY = 8, 4


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "hf_trainer_example", REPO / "examples" / "hf_trainer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hf_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/hf_trainer.py`` for 8 steps (a GPT-2 built from a config, generated data)."""
    log_dir = tmp_path_factory.mktemp("hf")
    argv = [
        "--log-dir",
        str(log_dir),
        "--max-steps",
        str(MAX_STEPS),
        "--eval-every",
        str(EVAL_EVERY),
    ]
    assert _example().main(argv) == 0
    return log_dir


def test_trainer_run_follows_the_contract_with_train_and_val_series(hf_run: Path) -> None:
    records, state = check_run_directory(hf_run)
    config = state.config  # the reader exposes the run_start's config
    assert config is not None and config == records[0]["config"]
    assert config["max_steps"] == MAX_STEPS and config["learning_rate"] == 3e-3
    assert config["example"] == "hf_trainer" and config["model_config"]["n_layer"] == 1
    assert config["hub_token"] in ("<HUB_TOKEN>", None)  # sanitized, never a secret
    metrics = state.metrics_history
    for column in ("loss", "lr", "grad_norm", "val_loss", "val_accuracy", "epoch"):
        assert column in metrics.columns, column
    assert "eval_loss" not in metrics.columns and "learning_rate" not in metrics.columns
    assert metrics["loss"].notna().sum() >= MAX_STEPS // 2
    assert metrics.loc[metrics["val_loss"].notna(), "step"].tolist() == [4, 8]
    lines = [r for r in records if r["event_type"] == "metric"]
    # step 4: the training line, then the evaluation (on_evaluate does not write it again);
    # step 8: training, evaluation, end-of-training summary. Each line carries only what its
    # call logged (no field of a step is repeated); the reader merges them into one row.
    assert [r["step"] for r in lines].count(4) == 2 and [r["step"] for r in lines].count(8) == 3
    for step in (4, 8):
        at_step = [r for r in lines if r["step"] == step]
        for field in ("loss", "val_loss", "val_accuracy", "grad_norm", "lr"):
            assert sum(field in r for r in at_step) == 1, (step, field, at_step)
    summary = next(r for r in lines if "train_runtime" in r)
    assert "val_loss" not in summary and "loss" not in summary
    for step in (4, 8):
        row = metrics[metrics["step"] == step]
        assert len(row) == 1
        assert row[["loss", "val_loss", "val_accuracy", "lr"]].notna().all(axis=None)
    assert metrics.loc[metrics["step"] == 8, ["train_runtime", "train_loss"]].notna().all(axis=None)
    assert metrics.loc[metrics["step"] == 8, "loss"].notna().all()
    assert state.stage_events["name"].tolist() == ["counting"]  # via callback.logger
    assert len(state.run_starts) == 1
    meta = state.metadata
    assert meta["step"] == MAX_STEPS and meta["total_steps"] == MAX_STEPS
    assert meta["epoch"] > 0 and "val_loss" in meta["metrics"] and "loss" in meta["metrics"]
    assert sorted(int(p.stem.split("_")[1]) for p in hf_run.glob("metadata_*.json")) == [4, 8]


def test_trainer_run_renders_in_the_page(hf_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = render_page(hf_run, monkeypatch)
    subheaders = [s.value for s in at.subheader]
    for section in ("Current metrics", "Metric history", "Training information"):
        assert section in subheaders, (section, subheaders)
    assert "Config" in [e.label for e in at.expander]  # the run_start config, as a table
    tables = [df.value for df in at.dataframe if list(df.value.columns) == ["Key", "Value"]]
    assert len(tables) == 1 and "learning_rate" in set(tables[0]["Key"])


# -- the hooks, with the Trainer's arguments faked ---------------------------------------------


def _args(output_dir: Path) -> Any:
    return SimpleNamespace(
        output_dir=str(output_dir), to_sanitized_dict=lambda: {"learning_rate": 0.1, "seed": 3}
    )


def _state(step: int = 0, *, zero: bool = True) -> Any:
    return SimpleNamespace(is_world_process_zero=zero, global_step=step, epoch=0.5, max_steps=10)


def test_log_names_numbers_and_skips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    callback = ThaliaCallback(config={"note": "mine"})
    args = _args(tmp_path)
    callback.on_train_begin(args, _state(), None)
    assert callback.logger is not None
    logs = {
        "loss": 1.5,
        "learning_rate": 0.1,
        "grad_norm": 2.0,
        "epoch": 0.5,
        "eval_accuracy": 0.75,
        "eval/f1": 0.5,
        "step": 3,
        "note": "text",
        "flag": True,
        "total_flos": 1e15,
        "bad": float("nan"),
    }
    callback.on_log(args, _state(3), None, logs=logs)
    callback.on_log(args, _state(4), None, logs={"loss": 1.0, "note": "again"})
    callback.on_evaluate(args, _state(4), None, metrics={"eval_loss": 0.9})
    callback.on_save(args, _state(4), None)
    callback.on_train_end(args, _state(4), None)
    assert callback.logger is None
    records = read_records(tmp_path / "training_log.jsonl")
    assert records[0]["config"] == {"learning_rate": 0.1, "seed": 3, "note": "mine"}
    lines = [r for r in records if r["event_type"] == "metric"]
    first = {k: v for k, v in lines[0].items() if k != "wall_time"}
    assert first == {
        "event_type": "metric",
        "step": 3,
        "loss": 1.5,
        "lr": 0.1,
        "grad_norm": 2.0,
        "epoch": 0.5,
        "val_accuracy": 0.75,
        "val_f1": 0.5,
        "hf_step": 3,
        "total_flos": 1e15,
        "bad": "NaN",
    }
    assert lines[2]["val_loss"] == 0.9 and lines[2]["step"] == 4
    assert set(lines[2]) == {"event_type", "step", "wall_time", "val_loss"}  # no repeated fields
    err = capsys.readouterr().err
    assert err.count("skipped non-numeric") == 1 and "'note'" in err and "'flag'" in err
    meta = json.loads((tmp_path / "metadata_4.json").read_text())
    assert meta["total_steps"] == 10 and meta["epoch"] == 0.5
    assert meta["metrics"]["loss"] == 1.0 and meta["metrics"]["val_loss"] == 0.9


def test_only_world_process_zero_writes(tmp_path: Path) -> None:
    callback = ThaliaCallback()
    args = _args(tmp_path)
    callback.on_train_begin(args, _state(zero=False), None)
    callback.on_log(args, _state(1, zero=False), None, logs={"loss": 1.0})
    callback.on_evaluate(args, _state(1, zero=False), None, metrics={"eval_loss": 1.0})
    callback.on_save(args, _state(1, zero=False), None)
    callback.on_train_end(args, _state(1, zero=False), None)
    assert callback.logger is None
    assert list(tmp_path.iterdir()) == []


def test_a_rank_from_the_environment_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A launcher's RANK=1 wins even if the Trainer's state says process zero."""
    monkeypatch.setenv("RANK", "1")
    callback = ThaliaCallback()
    args = _args(tmp_path)
    callback.on_train_begin(args, _state(), None)
    callback.on_log(args, _state(1), None, logs={"loss": 1.0})
    callback.on_save(args, _state(1), None)
    callback.on_train_end(args, _state(1), None)
    assert not list(tmp_path.glob("training_log*.jsonl"))
    assert not list(tmp_path.glob("metadata_*.json"))


def test_importing_thalia_logging_imports_no_framework() -> None:
    code = (
        "import sys, thalia_logging, thalia_logging.integrations\n"
        "from thalia_logging import CurriculumLogger\n"
        "bad = [m for m in ('transformers', 'lightning', 'pytorch_lightning', 'accelerate')\n"
        "       if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=REPO)
