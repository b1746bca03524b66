"""The reader's file rules for segment mode: a rank's segments are one stream, closed ones read
once in number order, only the newest followed (by range), a changed segment reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from dashboard.reading.fs import LocalFileSystem
from dashboard.reading.segments import stream_key, stream_name
from dashboard.reading.watcher import RunWatcher
from thalia_logging.contract import segment_name


class CountingFS(LocalFileSystem):
    def __init__(self) -> None:
        self.opened: list[str] = []

    def open(self, path: str) -> IO[bytes]:
        self.opened.append(Path(path).name)
        return super().open(path)


def _lines(steps: range, rank: int | None = None) -> bytes:
    extra = {} if rank is None else {"rank": rank}
    return b"".join(
        json.dumps(
            {"event_type": "metric", "step": s, "wall_time": 1.0 + s, "loss": 1.0, **extra}
        ).encode()
        + b"\n"
        for s in steps
    )


def _watcher(d: Path, fs: CountingFS) -> RunWatcher:
    return RunWatcher(d, fs=fs, use_watchdog=False, poll_interval_s=0)


def test_stream_keys() -> None:
    assert stream_key("training_log.jsonl") == ("training_log.jsonl", 0, False)
    assert stream_key("training_log.000003.jsonl") == (stream_name(0), 0, True)
    assert stream_key("training_log.rank2.000003.jsonl") == (stream_name(2), 2, True)
    assert stream_key("metadata_3.json") is None


def test_closed_segments_are_read_once_and_only_the_newest_is_followed(tmp_path: Path) -> None:
    fs = CountingFS()
    (tmp_path / segment_name(0, 0)).write_bytes(_lines(range(0, 10)))
    (tmp_path / segment_name(0, 1)).write_bytes(_lines(range(10, 20)))
    watcher = _watcher(tmp_path, fs)
    state = watcher.refresh()
    assert list(state.metrics_history["step"]) == list(range(20))
    assert state.log_files == (stream_name(0),)
    # the newest one grows (a sync job uploading it in parts): only its new bytes are read
    with (tmp_path / segment_name(0, 1)).open("ab") as f:
        f.write(_lines(range(20, 25)))
    (tmp_path / segment_name(0, 2)).write_bytes(_lines(range(25, 30)))
    fs.opened.clear()
    state = watcher.refresh()
    assert list(state.metrics_history["step"]) == list(range(30))
    assert segment_name(0, 0) not in fs.opened  # closed and read: never opened again
    fs.opened.clear()
    watcher.refresh()
    assert fs.opened == []  # nothing new: segment 2 unchanged, 0 and 1 closed
    assert state.restarts == () and state.bad_line_count == 0


def test_a_late_lower_segment_is_read_and_lands_in_step_order(tmp_path: Path) -> None:
    """(A logger's run starts with ``run_start``: late lines are then late lines, not a resume.)"""
    fs = CountingFS()
    start = {"event_type": "run_start", "step": 0, "wall_time": 0.5, "schema_version": 2,
             "run_id": "r", "resumed_from_step": None, "config": {}}  # fmt: skip
    (tmp_path / segment_name(0, 0)).write_bytes(
        json.dumps(start).encode() + b"\n" + _lines(range(0, 5))
    )
    (tmp_path / segment_name(0, 2)).write_bytes(_lines(range(10, 15)))
    watcher = _watcher(tmp_path, fs)
    assert len(watcher.refresh().metrics_history) == 10
    (tmp_path / segment_name(0, 1)).write_bytes(_lines(range(5, 10)))
    state = watcher.refresh()
    assert list(state.metrics_history["step"]) == list(range(15))


def test_a_changed_segment_is_reported_and_not_read_twice(tmp_path: Path) -> None:
    fs = CountingFS()
    (tmp_path / segment_name(0, 0)).write_bytes(_lines(range(0, 5)))
    watcher = _watcher(tmp_path, fs)
    assert len(watcher.refresh().metrics_history) == 5
    (tmp_path / segment_name(0, 0)).write_bytes(_lines(range(100, 106)))  # rewritten, longer
    state = watcher.refresh()
    assert list(state.metrics_history["step"]) == list(range(5))
    assert any("changed after it was read" in b.reason for b in state.bad_lines)


def test_rank_segments_and_a_plain_log_side_by_side(tmp_path: Path) -> None:
    fs = CountingFS()
    (tmp_path / "training_log.jsonl").write_bytes(_lines(range(0, 3)))
    (tmp_path / segment_name(1, 0)).write_bytes(_lines(range(0, 4), rank=1))
    (tmp_path / segment_name(1, 1)).write_bytes(_lines(range(4, 6), rank=1))
    state = _watcher(tmp_path, fs).refresh()
    m = state.metrics_history
    assert sorted(state.log_files) == sorted(["training_log.jsonl", stream_name(1)])
    assert list(m[m["rank"] == 1]["step"]) == list(range(6))
    assert list(m[m["rank"] == 0]["step"]) == list(range(3))
