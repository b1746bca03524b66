"""The overview reader: log tails and heads only, event counts kept incrementally, a cache per
run keyed by the files' (inode, size, mtime), runs appearing and going."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO

from runs_helpers import append_metric, write_run

from dashboard.reading.event_counts import EventCounter
from dashboard.reading.fs import LocalFileSystem
from dashboard.reading.log_tail import parse_records, tail_frames, window_lines
from dashboard.reading.overview import OverviewReader
from dashboard.reading.tail_follow import RunTail
from dashboard.reading.watcher import load_training_state


class CountingFS(LocalFileSystem):
    """The local disk, counting opens and the bytes read through them."""

    def __init__(self) -> None:
        self.opens: list[str] = []

    def open(self, path: str) -> IO[bytes]:
        self.opens.append(os.path.basename(path))
        return super().open(path)


def test_window_lines_keeps_only_complete_lines(tmp_path: Path) -> None:
    log = tmp_path / "training_log.jsonl"
    log.write_bytes(b'{"step": 1}\n{"step": 2}\n{"step": 3}\n{"step": 4, "par')
    fs = LocalFileSystem()
    assert window_lines(fs, str(log), 0, 100) == [b'{"step": 1}', b'{"step": 2}', b'{"step": 3}']
    assert window_lines(fs, str(log), 5, 100) == [b'{"step": 2}', b'{"step": 3}']  # cut line gone
    assert window_lines(fs, str(log), 0, 0) == []


def test_tail_records_merge_a_step_and_count_bad_lines() -> None:
    lines = [
        b'{"step": 10, "loss": 1.0}',
        b'{"step": 10, "val_loss": 2.0}',
        b'{"step": 11, "loss": "NaN"}',
        b"not json",
        b'{"event_type": "growth", "step": 10, "region": "v1", "neurons_added": 4, "new_total": 9}',
    ]
    records = parse_records(lines, 0)
    frames = tail_frames(records)
    metrics = frames["metrics_history"]
    assert metrics["step"].tolist() == [10, 11]
    assert metrics.loc[0, "loss"] == 1.0 and metrics.loc[0, "val_loss"] == 2.0
    assert records.bad == 1
    assert frames["nonfinite"][["step", "column"]].values.tolist() == [[11, "loss"]]
    assert frames["growth_events"]["region"].tolist() == ["v1"]


def test_tail_frames_merge_shared_steps_as_the_full_reader(tmp_path: Path) -> None:
    """Shared steps, out-of-order lines, a logged NaN after a number, a number after a NaN: the
    tail's frame of a whole log equals the run page's reader of the same file."""
    lines = [
        b'{"event_type": "run_start", "step": 0}',
        b'{"step": 3, "loss": 1.0, "x": 5.0}',
        b'{"step": 1, "loss": 2.0}',
        b'{"step": 3, "loss": "NaN"}',
        b'{"step": 2, "x": "NaN"}',
        b'{"step": 2, "x": 7.0, "loss": 0.5}',
        b'{"step": 3, "performance": 0.25}',
        b'{"event_type": "growth", "step": 2, "region": "b", "neurons_added": 1, "new_total": 2}',
        b'{"event_type": "growth", "step": 1, "region": "a", "neurons_added": 1, "new_total": 1}',
    ]
    (tmp_path / "training_log.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    full = load_training_state(tmp_path)
    frames = tail_frames(parse_records(lines, 0))
    for name in ("metrics_history", "growth_events"):
        tail, want = frames[name], getattr(full, name)
        assert tail["step"].tolist() == want["step"].tolist()
        for column in want.columns:
            assert tail[column].astype(str).tolist() == want[column].astype(str).tolist(), column
    assert frames["metrics_history"]["loss"].isna().tolist() == [False, False, True]


def test_a_long_run_is_summarised_from_its_tail_and_head(tmp_path: Path) -> None:
    write_run(tmp_path / "long", steps=5_000, stages=(0, 20_000), config={"lr": 0.1},
              growth_every=100, consolidation_every=250, end="finished")  # fmt: skip
    summary = OverviewReader(str(tmp_path), tail_bytes=8 << 10).refresh()[0]
    full = load_training_state(tmp_path / "long")
    tail = summary.state.metrics_history
    assert 0 < len(tail) < len(full.metrics_history) // 10  # a tail, not the history
    assert int(tail["step"].iloc[-1]) == int(full.metrics_history["step"].iloc[-1])
    assert summary.state.config == {"lr": 0.1}  # from the head's run_start
    assert summary.state.run_ends["status"].tolist() == ["finished"]
    assert summary.growth == len(full.growth_events) == 50
    assert summary.consolidation == len(full.consolidation_events) == 20


def test_an_unchanged_run_is_not_read_again(tmp_path: Path) -> None:
    write_run(tmp_path / "a", milestones=[(100, {"m": True})])
    fs = CountingFS()
    reader = OverviewReader(str(tmp_path), fs=fs)
    first = reader.refresh()[0]
    fs.opens.clear()
    assert reader.refresh()[0] is first
    assert fs.opens == []
    append_metric(tmp_path / "a", 2_000, 0.5)
    second = reader.refresh()[0]
    assert second is not first and int(second.state.metrics_history["step"].iloc[-1]) == 2_000
    assert "metadata_100.json" not in fs.opens  # the metadata did not change


def test_event_counts_follow_the_budget_and_new_bytes_only(tmp_path: Path) -> None:
    write_run(tmp_path / "a", steps=2_000, growth_every=10)
    write_run(tmp_path / "b", steps=2_000, growth_every=20)
    size = (tmp_path / "a" / "training_log.jsonl").stat().st_size
    reader = OverviewReader(str(tmp_path), scan_budget=size // 3)
    first = {s.name: s.growth for s in reader.refresh()}
    assert first == {"a": None, "b": None}  # still counting: no number is better than a wrong one
    for _ in range(10):
        counts = {s.name: s.growth for s in reader.refresh()}
    assert counts == {"a": 200, "b": 100}
    with (tmp_path / "a" / "training_log.jsonl").open("a") as fh:
        fh.write(json.dumps({"event_type": "growth", "step": 99_999, "region": "x",
                             "neurons_added": 1, "new_total": 2}) + "\n")  # fmt: skip
    assert {s.name: s.growth for s in reader.refresh()}["a"] == 201


def test_event_counter_holds_a_partial_line_and_restarts_on_a_new_file(tmp_path: Path) -> None:
    log = tmp_path / "training_log.jsonl"
    log.write_bytes(b'{"event_type":"growth","step":1}\n{"event_type": "growth", "st')
    counter = EventCounter(str(log))
    fs = LocalFileSystem()
    counter.scan(fs, 1 << 20)
    assert (counter.growth, counter.done) == (1, True)
    with log.open("ab") as fh:
        fh.write(b'ep": 2}\n')
    counter.scan(fs, 1 << 20)
    assert counter.growth == 2
    log.unlink()
    log.write_bytes(b'{"event_type":"consolidation","step":1}\n')
    counter.scan(fs, 1 << 20)
    assert (counter.growth, counter.consolidation) == (0, 1)


def test_event_counter_counts_only_top_level_event_types(tmp_path: Path) -> None:
    """A ``{"event_type": "growth"}`` nested in a config or a metric is no event; a line counted
    under both spellings is counted once; a broken line is no event."""
    log = tmp_path / "training_log.jsonl"
    lines = [
        {"event_type": "run_start", "step": 0, "config": {"hook": {"event_type": "growth"}}},
        {"step": 1, "loss": 1.0, "extra": {"event_type": "consolidation"}},  # a legacy metric
        {"event_type": "growth", "step": 2, "note": {"event_type": "growth"}},
    ]
    text = "".join(json.dumps(r) + "\n" for r in lines)
    text += '{"event_type":"growth","step":3,"x":{"event_type": "growth"}}\n'  # both spellings
    text += '{"event_type": "growth", "step": 4, broken\n'
    log.write_text(text)
    counter = EventCounter(str(log))
    counter.scan(LocalFileSystem(), 1 << 20)
    assert (counter.growth, counter.consolidation, counter.done) == (2, 0, True)


def test_runs_appear_and_go_and_legacy_runs_are_read(tmp_path: Path) -> None:
    write_run(tmp_path / "a")
    reader = OverviewReader(str(tmp_path))
    assert [s.name for s in reader.refresh()] == ["a"]
    write_run(tmp_path / "old", legacy=True)
    (tmp_path / "a" / "training_log.jsonl").unlink()
    summaries = reader.refresh()
    assert [s.name for s in summaries] == ["old"]
    legacy = summaries[0]
    assert len(legacy.state.metrics_history) == 100 and legacy.state.last_update is not None
    assert legacy.state.config is None and legacy.growth == 0


def test_checkpoints_keep_every_metadata_file_in_step_order(tmp_path: Path) -> None:
    write_run(tmp_path / "a", milestones=[(500, {"m1": True}), (100, {"m1": False})])
    summary = OverviewReader(str(tmp_path)).refresh()[0]
    assert [c.step for c in summary.checkpoints] == [100, 500]
    assert summary.state.metadata is not None and summary.state.metadata["step"] == 500


def test_a_log_that_cannot_be_read_is_said_and_the_rest_is_kept(tmp_path: Path) -> None:
    write_run(tmp_path / "a", milestones=[(100, {"m": True})])
    (tmp_path / "b").mkdir()
    os.mkfifo(tmp_path / "b" / "training_log.jsonl")
    summaries = {s.name: s for s in OverviewReader(str(tmp_path)).refresh()}
    assert summaries["a"].errors == ()
    assert any("FIFO" in e or "not a regular file" in e for e in summaries["b"].errors)


class ReadCountingFS(LocalFileSystem):
    """The local disk, counting the bytes read through ``open``."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def open(self, path: str) -> IO[bytes]:
        fh = super().open(path)
        fs = self

        class Counting:
            def __enter__(self) -> Counting:
                return self

            def __exit__(self, *exc: object) -> None:
                fh.close()

            def seek(self, offset: int) -> int:
                return fh.seek(offset)

            def read(self, n: int = -1) -> bytes:
                data = fh.read(n)
                fs.read_bytes += len(data)
                return data

        return Counting()  # type: ignore[return-value]


def _logs(run: Path) -> dict[str, tuple[str, os.stat_result]]:
    path = run / "training_log.jsonl"
    return {"training_log.jsonl": (str(path), path.stat())}


def test_run_tail_reads_only_appended_lines_and_holds_a_partial_one(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", steps=2_000)
    fs = ReadCountingFS()
    tail = RunTail(fs, tail_bytes=8 << 10)
    tail.update(_logs(run), [])
    first = tail.frames()
    rows = len(first["metrics_history"])
    fs.read_bytes = 0
    append_metric(run, 50_000, 0.25)
    with (run / "training_log.jsonl").open("a") as fh:
        fh.write('{"event_type": "metric", "step": 50010, "lo')  # the writer is mid-line
    tail.update(_logs(run), [])
    frames = tail.frames()
    assert fs.read_bytes < 300  # the new bytes only
    assert frames["metrics_history"]["step"].tolist()[-1] == 50_000
    assert len(frames["metrics_history"]) == rows + 1
    assert frames["growth_events"] is first["growth_events"]  # unchanged: not rebuilt
    with (run / "training_log.jsonl").open("a") as fh:
        fh.write('ss": 0.2}\n')
    tail.update(_logs(run), [])
    assert tail.frames()["metrics_history"]["step"].tolist()[-1] == 50_010


def test_run_tail_starts_over_after_truncation_or_a_big_jump(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", steps=200, config={"lr": 1})
    tail = RunTail(LocalFileSystem(), tail_bytes=4 << 10, max_rows=50)
    tail.update(_logs(run), [])
    assert len(tail.frames()["metrics_history"]) <= 50
    write_run(run, steps=3, config={"lr": 2})  # rewritten from the start (shorter)
    tail.update(_logs(run), [])
    assert tail.frames()["metrics_history"]["step"].tolist() == [0, 10, 20]
    assert tail.records.config == {"lr": 2}
    with (run / "training_log.jsonl").open("a") as fh:
        for step in range(1_000, 2_000):
            fh.write(json.dumps({"event_type": "metric", "step": step, "loss": 1.0}) + "\n")
    tail.update(_logs(run), [])  # more than tail_bytes appended: a fresh window, bounded
    steps = tail.frames()["metrics_history"]["step"].tolist()
    assert steps[-1] == 1_999 and len(steps) <= 50 and tail.records.config == {"lr": 2}
