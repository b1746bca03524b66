"""ThaliaLogger: a tiny Lightning run (CPU, no network) end to end, plus versions and ranks."""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from integration_helpers import check_run_directory, render_page
from logger_helpers import REPO, read_records

pytest.importorskip("torch")
pytest.importorskip("lightning")

from lightning.pytorch.utilities import rank_zero_only

from thalia_logging import CurriculumLogger
from thalia_logging.integrations.lightning import OpenOnFirstUse, ThaliaLogger


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "lightning_trainer_example", REPO / "examples" / "lightning_trainer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lightning_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/lightning_trainer.py`` for one epoch of 32 steps, validating twice."""
    save_dir = tmp_path_factory.mktemp("lightning")
    assert _example().main(["--save-dir", str(save_dir), "--epochs", "1"]) == 0
    return save_dir / "lightning" / "version_0"


def test_lightning_run_follows_the_contract_with_train_and_val_series(
    lightning_run: Path,
) -> None:
    records, state = check_run_directory(lightning_run)
    assert records[0]["config"] == {"hidden": 32, "lr": 0.05}  # save_hyperparameters()
    assert state.config == {"hidden": 32, "lr": 0.05}  # the reader exposes it
    metrics = state.metrics_history
    for column in ("loss", "lr", "grad_norm", "val_loss", "val_accuracy", "epoch"):
        assert column in metrics.columns, column
    assert "train_loss" not in metrics.columns
    assert metrics["loss"].notna().sum() >= 4
    val_steps = metrics.loc[metrics["val_loss"].notna(), "step"].tolist()
    assert len(val_steps) == 2  # val_check_interval=0.5
    lines = [r for r in records if r["event_type"] == "metric"]
    for step in val_steps:  # the reader merges the training and the validation lines of a step
        rows = metrics[metrics["step"] == step]
        assert len(rows) == 1
        row = rows.iloc[0]
        assert row["val_accuracy"] == row["val_accuracy"] and row["loss"] == row["loss"]
        at_step = [r for r in lines if r["step"] == step]
        assert len(at_step) >= 2  # ... which are separate lines, each with only its own fields
        for field in ("loss", "val_loss", "val_accuracy"):
            assert sum(field in r for r in at_step) == 1, (step, field, at_step)
        assert not any("val_loss" in r and "loss" in r for r in at_step)
    assert state.stage_events["name"].tolist() == ["clusters"]  # self.logger.experiment
    assert state.growth_events["region"].tolist() == ["hidden"]
    meta = state.metadata
    assert meta["total_steps"] == 32 and meta["status"] == "success"
    assert {"loss", "val_loss"} <= set(meta["metrics"])
    ckpt = json.loads(sorted(lightning_run.glob("metadata_*.json"))[0].read_text())
    assert ckpt["checkpoint_path"].endswith(".ckpt") and "checkpoints" in ckpt["checkpoint_path"]
    assert (lightning_run / "checkpoints").is_dir()  # ModelCheckpoint follows log_dir


def test_lightning_run_renders_in_the_page(
    lightning_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = render_page(lightning_run, monkeypatch)
    subheaders = [s.value for s in at.subheader]
    for section in ("Current metrics", "Metric history", "Growth", "Training information"):
        assert section in subheaders, (section, subheaders)
    assert "Config" in [e.label for e in at.expander]  # the run_start config, as a table
    tables = [df.value for df in at.dataframe if list(df.value.columns) == ["Key", "Value"]]
    assert len(tables) == 1 and "hidden" in set(tables[0]["Key"])


def test_versions_count_up_like_csvlogger(tmp_path: Path) -> None:
    first = ThaliaLogger(tmp_path, name="exp")
    assert first.version == 0 and first.log_dir == str(tmp_path / "exp" / "version_0")
    (tmp_path / "exp" / "version_0").mkdir(parents=True)
    (tmp_path / "exp" / "version_3").mkdir()
    (tmp_path / "exp" / "version_x").mkdir()
    assert ThaliaLogger(tmp_path, name="exp").version == 4
    assert ThaliaLogger(tmp_path, name="exp", version="best").log_dir == str(
        tmp_path / "exp" / "best"
    )
    assert ThaliaLogger(tmp_path, name="exp", version=7).log_dir == str(
        tmp_path / "exp" / "version_7"
    )
    assert first.root_dir == str(tmp_path / "exp") and first.save_dir == str(tmp_path)


def test_hyperparams_before_the_first_line_go_to_run_start_later_ones_to_metadata(
    tmp_path: Path,
) -> None:
    logger = ThaliaLogger(tmp_path, config={"seed": 1})
    early = logger.experiment  # Lightning asks during setup: the directory is not opened yet
    assert isinstance(early, OpenOnFirstUse) and not (Path(logger.log_dir)).exists()
    logger.log_hyperparams(argparse.Namespace(lr=0.1, layers=[2, 3]))
    logger.log_metrics({"train/loss": 1.0, "epoch": 0}, step=1)
    assert isinstance(logger.experiment, CurriculumLogger)
    logger.log_hyperparams({"late": True})
    logger.log_metrics({"val/loss": 2.0, "note": "text"}, step=1)
    logger.after_save_checkpoint(
        SimpleNamespace(_last_global_step_saved=1, last_model_path="/x/last.ckpt")
    )
    logger.finalize("success")
    records = read_records(Path(logger.log_dir) / "training_log.jsonl")
    assert records[0]["config"] == {"seed": 1, "lr": 0.1, "layers": [2, 3]}
    lines = [r for r in records if r["event_type"] == "metric"]
    assert lines[0]["loss"] == 1.0 and lines[1]["val_loss"] == 2.0
    assert "note" not in lines[1] and "loss" not in lines[1]  # each line: only its own call
    from dashboard import load_training_state

    state = load_training_state(logger.log_dir)  # the reader merges the two lines of step 1
    assert state.config == {"seed": 1, "lr": 0.1, "layers": [2, 3]}
    row = state.metrics_history.set_index("step").loc[1]
    assert row["loss"] == 1.0 and row["val_loss"] == 2.0
    meta = json.loads((Path(logger.log_dir) / "metadata_1.json").read_text())
    assert meta["hparams"] == {"late": True} and meta["status"] == "success"
    assert meta["checkpoint_path"] == "/x/last.ckpt" and meta["epoch"] == 0


def test_a_call_on_the_early_experiment_opens_it(tmp_path: Path) -> None:
    logger = ThaliaLogger(tmp_path)
    logger.experiment.log_stage(0, 0, name="warmup")  # e.g. from LightningModule.setup
    logger.finalize("success")
    records = read_records(Path(logger.log_dir) / "training_log.jsonl")
    assert [r["event_type"] for r in records] == ["run_start", "stage", "run_end"]


@pytest.fixture
def rank_one() -> Iterator[None]:
    before = getattr(rank_zero_only, "rank", 0)
    rank_zero_only.rank = 1
    try:
        yield
    finally:
        rank_zero_only.rank = before


@pytest.mark.usefixtures("rank_one")
def test_only_rank_zero_writes(tmp_path: Path) -> None:
    logger = ThaliaLogger(tmp_path)
    logger.log_hyperparams({"lr": 0.1})
    logger.log_metrics({"train_loss": 1.0}, step=1)
    logger.experiment.log_growth(1, "cortex", 4, 20)  # the dummy experiment: a no-op
    logger.after_save_checkpoint(SimpleNamespace(_last_global_step_saved=1))
    logger.finalize("success")
    assert not (tmp_path / "thalia").exists()


@pytest.mark.usefixtures("rank_one")
def test_a_lightning_trainer_on_rank_one_writes_nothing(tmp_path: Path) -> None:
    import lightning as L

    example = _example()
    loader = example.DataLoader(example.make_clusters(64, 1), batch_size=32)
    logger = ThaliaLogger(tmp_path, name="r")
    trainer = L.Trainer(
        max_steps=2,
        logger=logger,
        accelerator="cpu",
        devices=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        log_every_n_steps=1,
    )
    trainer.fit(example.Classifier(), loader)
    assert not list(tmp_path.rglob("training_log*.jsonl"))
