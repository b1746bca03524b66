"""Segment mode: CurriculumLogger writes immutable, numbered segments, each whole, one per
interval, size or flush, numbered on after a resume; a failing store keeps the lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from logger_helpers import validate_record

from thalia_logging import CurriculumLogger
from thalia_logging.contract import SEGMENT_PATTERN, segment_info, segment_name
from thalia_logging.segment_sink import SegmentSink
from thalia_logging.segments import LocalStore, is_url, last_segment_step, store_for


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _segments(d: Path) -> list[str]:
    return sorted(n for n in os.listdir(d) if SEGMENT_PATTERN.match(n))


def _lines(d: Path) -> list[dict]:
    return [json.loads(x) for n in _segments(d) for x in (d / n).read_text().splitlines()]


def _logger(d: Path, clock: Clock, **kw: object) -> CurriculumLogger:
    return CurriculumLogger(
        d, console_log=False, file_log=False, clock=clock, background_flush=False, **kw
    )


def test_names_follow_the_contract() -> None:
    assert segment_name(0, 42) == "training_log.000042.jsonl"
    assert segment_name(3, 7) == "training_log.rank3.000007.jsonl"
    assert segment_info("training_log.000042.jsonl") == (0, 42)
    assert segment_info("training_log.rank3.1234567.jsonl") == (3, 1234567)
    for other in ("training_log.jsonl", "training_log.rank1.jsonl", "training_log.jsonl.1"):
        assert segment_info(other) is None
    assert is_url("s3://b/r") and not is_url("/tmp/x") and not is_url("file:///tmp/x")


def test_segments_close_by_time_and_at_close(tmp_path: Path) -> None:
    clock = Clock()
    with _logger(tmp_path, clock, segment_every_s=10) as logger:
        assert _segments(tmp_path) == ["training_log.000000.jsonl"]  # run_start, flushed
        for step in range(25):
            clock.t += 1
            logger.log_metrics(step, loss=1.0 / (step + 1))
        # a segment opened at t=1001 closes with the line at t=1011, the next at t=1022
        assert _segments(tmp_path) == [segment_name(0, n) for n in range(3)]
    names = _segments(tmp_path)
    assert names == [segment_name(0, n) for n in range(4)]
    records = _lines(tmp_path)
    for record in records:
        validate_record(record)
    assert records[0]["event_type"] == "run_start"
    assert [r["step"] for r in records if r["event_type"] == "metric"] == list(range(25))
    assert records[-1]["event_type"] == "run_end"
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_segments_close_by_size_and_flush_and_metadata_stays_local(tmp_path: Path) -> None:
    clock = Clock()
    with _logger(tmp_path, clock, segment_max_bytes=500) as logger:
        for step in range(20):
            logger.log_metrics(step, loss=0.5)
        n = len(_segments(tmp_path))
        assert n >= 3
        for name in _segments(tmp_path)[1:-1]:
            assert (tmp_path / name).stat().st_size >= 500
        logger.log_metrics(20, loss=0.5)
        logger.flush()
        assert len(_segments(tmp_path)) == n + 1
        assert logger.write_metadata(20, current_stage=0) == tmp_path / "metadata_20.json"


def test_a_resumed_run_numbers_on_and_finds_its_step(tmp_path: Path) -> None:
    clock = Clock()
    with _logger(tmp_path, clock, segment_every_s=60) as logger:
        for step in range(10):
            logger.log_metrics(step, loss=1.0)
    first = _segments(tmp_path)
    assert last_segment_step(LocalStore(tmp_path), 0) == 9
    with _logger(tmp_path, clock, segment_every_s=60) as logger:
        assert logger.resumed_from_step == 9
        logger.log_metrics(10, loss=1.0)
    later = _segments(tmp_path)
    assert later[: len(first)] == first and len(later) > len(first)
    starts = [r for r in _lines(tmp_path) if r["event_type"] == "run_start"]
    assert [s["resumed_from_step"] for s in starts] == [None, 9]


def test_ranks_write_their_own_segments(tmp_path: Path) -> None:
    with CurriculumLogger(
        tmp_path, rank=2, per_rank=True, console_log=False, segment_every_s=60,
        background_flush=False,
    ) as logger:  # fmt: skip
        logger.log_metrics(1, loss=1.0)
    assert _segments(tmp_path) == [segment_name(2, 0), segment_name(2, 1)]


class FailingStore(LocalStore):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory, fsync=False)
        self.fail = True

    def put(self, name: str, data: bytes) -> str:
        if self.fail:
            raise OSError(28, "No space left on device")
        return super().put(name, data)


def test_a_failing_store_keeps_the_lines_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FailingStore(tmp_path)
    sink = SegmentSink(store, every_s=60, background_flush=False)
    sink.append_line(b'{"step": 1}\n', 0.0)
    sink.flush()
    sink.append_line(b'{"step": 2}\n', 1.0)
    sink.flush()
    assert sink.pending == 2 and sink.write_error is not None and _segments(tmp_path) == []
    assert sum("could not write a log segment" in r.message for r in caplog.records) == 1
    store.fail = False
    sink.append_line(b'{"step": 3}\n', 2.0)
    sink.close()
    assert sink.write_error is None and sink.pending == 0
    names = _segments(tmp_path)
    assert len(names) == 1  # failed numbers are skipped, never reused
    assert (tmp_path / names[0]).read_bytes() == b'{"step": 1}\n{"step": 2}\n{"step": 3}\n'


def test_the_background_thread_closes_a_quiet_segment_and_stops(tmp_path: Path) -> None:
    sink = SegmentSink(store_for(tmp_path, fsync=False), every_s=0.05)
    sink.append_line(b'{"step": 1}\n', 0.0)
    assert sink.flusher_thread is not None
    sink.flusher_thread.join(timeout=0.01)  # not a timed assert: only close() below must work
    sink.close()
    assert not sink.flusher_thread.is_alive()
    assert [(tmp_path / n).read_bytes() for n in _segments(tmp_path)] == [b'{"step": 1}\n']


@pytest.mark.parametrize("bad", [0, -1.0, "60"])
def test_bad_segment_options_are_refused(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValueError, match="segment_every_s"):
        SegmentSink(LocalStore(tmp_path), every_s=bad, background_flush=False)  # type: ignore[arg-type]


def test_the_file_table_in_schemas_names_the_segments() -> None:
    table = (Path(__file__).resolve().parents[2] / "schemas" / "README.md").read_text()
    for name in ("training_log.{NNNNNN}.jsonl", "training_log.rank{N}.{NNNNNN}.jsonl"):
        assert f"`{name}`" in table
        example = name.replace("{NNNNNN}", "000042").replace("{N}", "3")
        assert SEGMENT_PATTERN.match(example)
