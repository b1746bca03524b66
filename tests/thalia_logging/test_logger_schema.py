"""Every line and every metadata file the logger writes validates against schemas/."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import numpy as np
import orjson
from logger_helpers import (
    read_records,
    validate_metadata,
    validate_record,
)


def _full_session(logger) -> None:
    counts = {"cortex": 4096, "hippocampus": 1024, "thalamus": 512}
    for step in range(0, 500, 50):
        logger.log_metrics(
            step,
            firing_rate=0.112,
            capacity=0.75,
            performance=0.92,
            loss=0.2341,
            neuron_counts=counts,
            capacity_by_region={"cortex": 0.8, "hippocampus": 0.6},
            lr=1e-3,
            grad_norm=np.float32(1.5),
            gpu_mem_bytes=123456789,
        )
    logger.log_metrics(
        500,
        loss=math.nan,
        grad_norm=math.inf,
        val_loss=-math.inf,
        capacity_by_region={"cortex": math.nan},
    )
    logger.log_metrics(501)  # only the step: still a valid metric line
    logger.log_growth(510, "cortex", 256, 4352, reason="capacity 0.91 > 0.90")
    logger.log_growth(511, "thalamus", 0, 512)
    logger.log_consolidation(520, "NREM", 150, 500)
    logger.log_consolidation(521, "REM", 0, 0)
    logger.log_stage(530, 1, "phonology")
    logger.log_stage(531, 2)


def test_every_line_validates(make_logger, tmp_path: Path) -> None:
    logger = make_logger(file_log=True, config={"seed": 1, "lr": 1e-3, "path": tmp_path})
    _full_session(logger)
    logger.close()
    records = read_records(tmp_path / "training_log.jsonl")
    assert [r["event_type"] for r in records].count("metric") == 12
    assert {r["event_type"] for r in records} == {
        "run_start",
        "metric",
        "growth",
        "consolidation",
        "stage",
        "run_end",
    }
    assert records[-1] == {
        **records[-1],
        "event_type": "run_end",
        "status": "finished",
        "step": 501,
    }
    for record in records:
        validate_record(record)
        assert isinstance(record["wall_time"], float)
    nan_line = next(r for r in records if r.get("step") == 500)
    assert nan_line["loss"] == "NaN" and nan_line["grad_norm"] == "Infinity"
    assert nan_line["val_loss"] == "-Infinity"
    assert nan_line["capacity_by_region"] == {"cortex": "NaN"}


def test_no_null_and_no_bare_nan_tokens(make_logger, tmp_path: Path) -> None:
    logger = make_logger()
    logger.log_metrics(1, loss=math.nan, capacity=math.inf, firing_rate=np.float64("nan"))
    logger.close()
    data = (tmp_path / "training_log.jsonl").read_bytes()
    assert b"null" not in data.split(b"\n", 1)[1]  # the run_start line may hold resumed null
    for line in data.splitlines():
        orjson.loads(line)  # strict JSON: bare NaN/Infinity tokens would fail here


def test_run_start_line(make_logger, tmp_path: Path) -> None:
    logger = make_logger(run_id="run-42", config={"stages": [1, 2], "lr": math.nan})
    logger.close()
    record, end = read_records(tmp_path / "training_log.jsonl")
    validate_record(record)
    validate_record(end)
    assert end["event_type"] == "run_end" and end["status"] == "finished" and end["step"] == 0
    assert record["host"] == socket.gethostname() and record["pid"] == os.getpid()
    assert record["run_id"] == "run-42" and record["schema_version"] == 2
    assert record["resumed_from_step"] is None and record["step"] == 0
    assert record["config"] == {"stages": [1, 2], "lr": "NaN"}


def test_metadata_validates(make_logger, tmp_path: Path) -> None:
    logger = make_logger()
    logger.log_stage(0, 1, "phonology")
    path = logger.write_metadata(
        50000,
        current_week=2,
        total_weeks=4,
        metrics={"firing_rate": 0.112, "capacity": 0.75, "performance": 0.92, "loss": math.nan},
        milestones={"mnist_accuracy": True, "phoneme_discrimination": np.bool_(False)},
        warnings=["low firing", {"severity": "critical", "message": "loss is NaN"}],
        total_stages=5,
        total_steps=200000,
        notes={"gpu": "cpu"},
    )
    assert path == tmp_path / "metadata_50000.json"
    record = orjson.loads(path.read_bytes())
    validate_metadata(record)
    assert record["current_stage"] == 1 and record["stage_name"] == "phonology"
    assert record["metrics"]["loss"] == "NaN"
    assert record["run_id"] == logger.run_id and record["schema_version"] == 2
    assert record["started_at"] <= record["updated_at"]
    assert record["notes"] == {"gpu": "cpu"}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_per_rank_lines_validate(make_logger, tmp_path: Path) -> None:
    logger = make_logger(rank=3, per_rank=True, file_log=True)
    _full_session(logger)
    assert logger.write_metadata(10, current_stage=0) is None  # metadata is rank 0's
    logger.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["training_log.rank3.jsonl"]
    records = read_records(tmp_path / "training_log.rank3.jsonl")
    for record in records:
        validate_record(record)
        assert record["rank"] == 3
