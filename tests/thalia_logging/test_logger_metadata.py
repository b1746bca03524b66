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
        50000,
        current_stage=0,
        current_week=2,
        total_weeks=4,
        metrics={"firing_rate": 0.112, "capacity": 0.75, "performance": 0.92, "loss": 0.234},
        milestones={"mnist_accuracy": True, "sequence_prediction": True},
        warnings=[],
    )
    record = orjson.loads(path.read_bytes())
    validate_metadata(record)
    assert record == {
        "step": 50000,
        "current_stage": 0,
        "current_week": 2,
        "total_weeks": 4,
        "metrics": {"firing_rate": 0.112, "capacity": 0.75, "performance": 0.92, "loss": 0.234},
        "milestones": {"mnist_accuracy": True, "sequence_prediction": True},
        "warnings": [],
        "run_id": logger.run_id,
        "started_at": 100.0,
        "updated_at": 102.0,
        "schema_version": 2,
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


def test_leftover_metadata_temp_files_are_removed_at_open(tmp_path: Path) -> None:
    """Only write_atomic's own temp names of a gone process (or stale) go; nothing else."""
    import os
    import time

    from thalia_logging import CurriculumLogger
    from thalia_logging.metadata import STALE_TEMP_AGE_S

    dead_pid = 2**31 - 2  # above any pid_max: no such process
    left = tmp_path / f".metadata_500.json.{dead_pid}.0a1b2c3d.tmp"
    stale_live = tmp_path / f".metadata_600.json.{os.getpid()}.00ff00ff.tmp"
    fresh_live = tmp_path / f".metadata_700.json.{os.getpid()}.12345678.tmp"
    others = [
        tmp_path / n
        for n in (
            ".metadata_5.json.tmp",
            "notes.tmp",
            f".metadata_x.json.{dead_pid}.0a1b2c3d.tmp",
            f".metadata_5.json.{dead_pid}.0A1B2C3D.tmp",
            "metadata_5.json",
            f"metadata_5.json.{dead_pid}.0a1b2c3d.tmp",
        )
    ]
    for path in [left, stale_live, fresh_live, *others]:
        path.write_bytes(b"{")
    old = time.time() - STALE_TEMP_AGE_S - 60
    os.utime(stale_live, (old, old))
    (tmp_path / f".metadata_9.json.{dead_pid}.aaaaaaaa.tmp").mkdir()  # not a regular file
    logger = CurriculumLogger(tmp_path, console_log=False, file_log=False, background_flush=False)
    logger.close()
    assert not left.exists() and not stale_live.exists()
    assert fresh_live.exists() and all(p.exists() for p in others)
    assert (tmp_path / f".metadata_9.json.{dead_pid}.aaaaaaaa.tmp").is_dir()
