"""Reopening a directory appends and records resumed_from_step, reading only the log's tail."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from logger_helpers import read_records, validate_record

from thalia_logging.resume import last_logged_step


def test_reopen_appends_and_records_resume(make_logger, tmp_path: Path) -> None:
    first = make_logger(run_id="a")
    for step in range(0, 5001, 10):
        first.log_metrics(step, loss=1.0 / (step + 1))
    first.close()
    before = (tmp_path / "training_log.jsonl").read_bytes()

    second = make_logger(run_id="b")
    assert second.resumed_from_step == 5000
    second.log_metrics(5010, loss=0.1)
    second.close()
    after = (tmp_path / "training_log.jsonl").read_bytes()
    assert after.startswith(before)  # appended, never truncated
    records = read_records(tmp_path / "training_log.jsonl")
    starts = [r for r in records if r["event_type"] == "run_start"]
    assert [(r["run_id"], r["resumed_from_step"]) for r in starts] == [("a", None), ("b", 5000)]
    for record in starts:
        validate_record(record)
    assert starts[1]["step"] == 5000


def test_explicit_resumed_from_step_wins(make_logger, tmp_path: Path) -> None:
    make_logger().log_metrics(900)
    logger = make_logger(resumed_from_step=400)  # resumed from an earlier checkpoint
    assert logger.resumed_from_step == 400
    logger.close()
    assert read_records(tmp_path / "training_log.jsonl")[-2]["resumed_from_step"] == 400


def test_legacy_log_counts_for_resume(make_logger, tmp_path: Path) -> None:
    (tmp_path / "training_log.json").write_bytes(b'{"step": 7000, "loss": 0.5}\n')
    assert make_logger().resumed_from_step == 7000


def test_only_the_tail_is_read(tmp_path: Path) -> None:
    path = tmp_path / "training_log.jsonl"
    with open(path, "wb") as f:
        f.write(b'{"event_type":"metric","step":999999999,"wall_time":1.0}\n')  # far away head
        f.write(b'{"pad":"' + b"x" * 100_000 + b'"}\n')
        for step in range(100, 200):
            f.write(orjson.dumps({"event_type": "metric", "step": step, "wall_time": 1.0}) + b"\n")
        f.write(b'{"event_type":"metric","step":5000000')  # torn last line: ignored
    assert last_logged_step(path) == 199


def test_tail_window_grows_for_long_lines(tmp_path: Path) -> None:
    path = tmp_path / "training_log.jsonl"
    line = orjson.dumps({"event_type": "metric", "step": 42, "wall_time": 1.0, "x": "y" * 50_000})
    path.write_bytes(b"garbage\n" + line + b"\n")
    assert last_logged_step(path) == 42
    assert last_logged_step(path, max_window=8192) is None  # bounded: gives up, never scans all


@pytest.mark.parametrize("content", [b"", b"not json\n", b'{"step": -3}\n', b"[1,2]\n"])
def test_no_step_means_fresh_run(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "training_log.jsonl"
    path.write_bytes(content)
    assert last_logged_step(path) is None
    assert last_logged_step(tmp_path / "missing.jsonl") is None
