"""write_metadata: atomic replace, defaults from log_stage, no temp files left behind."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from logger_helpers import read_records, validate_metadata

from thalia_logging.metadata import write_atomic


def test_older_thalia_call_shape(make_logger, tmp_path: Path) -> None:
    logger = make_logger(clock=iter(range(100, 200)).__next__)
    path = logger.write_metadata(
        50000, current_stage=0, current_week=2, total_weeks=4,
        metrics={"firing_rate": 0.112, "capacity": 0.75, "performance": 0.92, "loss": 0.234},
        milestones={"mnist_accuracy": True, "sequence_prediction": True},
        warnings=[],
    )
    record = orjson.loads(path.read_bytes())
    validate_metadata(record)
    assert record == {
        "step": 50000, "current_stage": 0, "current_week": 2, "total_weeks": 4,
        "metrics": {"firing_rate": 0.112, "capacity": 0.75, "performance": 0.92, "loss": 0.234},
        "milestones": {"mnist_accuracy": True, "sequence_prediction": True}, "warnings": [],
        "run_id": logger.run_id, "started_at": 100.0, "updated_at": 102.0, "schema_version": 1,
    }


def test_replacing_keeps_one_file_and_flushes_the_log(make_logger, tmp_path: Path) -> None:
    logger = make_logger(flush_every=1000, background_flush=False, clock=lambda: 1.0)
    logger.log_metrics(10, loss=0.5)
    logger.write_metadata(10, current_stage=1, warnings=["first"])
    logger.write_metadata(10, current_stage=1, warnings=["second"])
    assert len(read_records(tmp_path / "training_log.jsonl")) == 2  # flushed by the checkpoint
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["console.log", "metadata_10.json", "training_log.jsonl"]
    assert orjson.loads((tmp_path / "metadata_10.json").read_bytes())["warnings"] == ["second"]


def test_write_atomic_cleans_up_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "metadata_1.json"
    target.mkdir()  # os.replace onto a directory fails
    with pytest.raises(OSError):
        write_atomic(target, b"{}")
    assert [p.name for p in tmp_path.iterdir()] == ["metadata_1.json"]


def test_write_atomic_without_fsync(tmp_path: Path) -> None:
    path = write_atomic(tmp_path / "metadata_2.json", b'{"step": 2}', fsync=False)
    assert path.read_bytes() == b'{"step": 2}'
