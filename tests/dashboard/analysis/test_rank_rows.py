"""The rows of one rank, kept across snapshots, equal the rows picked afresh."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.analysis import rank_rows, series
from dashboard.analysis.rank_rows import RankRows
from dashboard.analysis.series import rank_frame
from dashboard.reading.spill import MIN_BYTES_ENV, RECENT_ROWS_ENV, SPILL_DIR_ENV
from dashboard.reading.watcher import RunWatcher

BASE = 1_500  # rows per rank: a late line forks the spill files past their first pages
OP = st.one_of(
    st.tuples(st.just("append"), st.integers(0, 1), st.integers(1, 60)),
    st.tuples(st.just("late"), st.integers(0, 1), st.integers(1, 80)),  # val_loss N steps back
    st.tuples(st.just("resume"), st.integers(0, 1), st.integers(1, 80)),  # back N steps
    st.tuples(st.just("column"), st.integers(0, 1), st.just(0)),  # a metric logged from now on
)


def _file(run: Path, rank: int) -> Path:
    return run / ("training_log.jsonl" if rank == 0 else f"training_log.rank{rank}.jsonl")


def _write(run: Path, rank: int, lines: list[dict[str, object]]) -> None:
    with _file(run, rank).open("a") as fh:
        fh.writelines(json.dumps({"event_type": "metric", **x}) + "\n" for x in lines)


def _start(step: int, resumed: int | None) -> dict[str, object]:
    return {"event_type": "run_start", "step": step, "wall_time": 1e9, "schema_version": 1,
            "run_id": "r", "resumed_from_step": resumed, "config": {}}  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(ops=st.lists(OP, min_size=1, max_size=10), spill=st.booleans())
def test_kept_rank_rows_equal_a_fresh_pick(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, int]], spill: bool
) -> None:
    """A two-rank run read live, with appends, an evaluator's late lines, resumes going back
    (the tables fork) and metrics first logged later: each refresh's kept rows of each rank
    equal ``metrics[metrics.rank == r]``, and every frame handed out keeps its rows."""
    tmp = tmp_path_factory.mktemp("ranks")
    run = tmp / "run"
    run.mkdir()
    steps, extra = [0, 0], [set(), set()]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(series, "_BLOCK", 16)  # long frames from 16 rows: the kept path
        patch.setenv(SPILL_DIR_ENV, str(tmp / "spill") if spill else "off")
        patch.setenv(MIN_BYTES_ENV, "0")
        patch.setenv(RECENT_ROWS_ENV, "0")
        for rank in (0, 1):
            _file(run, rank).write_text(json.dumps(_start(0, None)) + "\n")
            _write(run, rank, [{"step": s, "loss": 1.0 / (1 + s)} for s in range(BASE)])
            steps[rank] = BASE
        handed: list[tuple[pd.DataFrame, pd.DataFrame]] = []
        with RunWatcher(run, use_watchdog=False, poll_interval_s=0.0) as watcher:
            for op, rank, n in [("append", 0, 0), *ops]:
                s = steps[rank]
                if op == "append":
                    more = {k: 0.5 for k in extra[rank]}
                    _write(run, rank, [{"step": s + i, "loss": 0.1, **more} for i in range(n)])
                    steps[rank] = s + n
                elif op == "late":
                    _write(run, rank, [{"step": max(0, s - n), "val_loss": 0.25}])
                elif op == "resume":
                    back = max(0, s - n)
                    with _file(run, rank).open("a") as fh:
                        fh.write(json.dumps(_start(back, back)) + "\n")
                    _write(run, rank, [{"step": back + 1 + i, "loss": 0.2} for i in range(5)])
                    steps[rank] = back + 6
                else:
                    extra[rank].add(f"m{len(extra[rank])}")
                metrics = watcher.refresh().metrics_history
                for r in (0, 1):
                    got = rank_frame(metrics, r)
                    want = metrics[metrics["rank"].to_numpy() == r]
                    pd.testing.assert_frame_equal(got, want)
                    handed.append((got, got.copy(deep=True)))
        for got, seen in handed:
            pd.testing.assert_frame_equal(got, seen)


def test_rows_appended_are_picked_from_the_new_rows_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame that only grew: the kept rows are extended from the new rows, not rebuilt, and
    the columns read are the new rows'."""
    monkeypatch.setattr(series, "_BLOCK", 16)
    buffer = np.zeros(1_000, dtype=np.int64)
    buffer[1::2] = 1
    loss = np.arange(1_000, dtype=np.float64)
    kept = RankRows(1)
    read: list[int] = []
    real = rank_rows.parts

    def counted(start: int, stop: int, *arrays: np.ndarray, **kwargs: object) -> object:
        read.append(stop - start)
        return real(start, stop, *arrays, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rank_rows, "parts", counted)
    for n in (100, 400, 1_000):
        frame = pd.DataFrame({"rank": buffer[:n], "loss": loss[:n]}, copy=False)
        got = kept.update(frame)
        pd.testing.assert_frame_equal(got, frame[buffer[:n] == 1])
    assert read == [100, 300, 600] and kept.rebuilds == 0


def test_a_late_line_carries_the_kept_rows_to_the_forked_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An evaluator's late line forks the spilled table (new buffers of the same files): the
    kept rows of each rank go on from the rows before it, with no new entry and no rebuild."""
    monkeypatch.setattr(series, "_BLOCK", 16)
    monkeypatch.setattr(rank_rows, "_KEPT", type(rank_rows._KEPT)())
    monkeypatch.setenv(SPILL_DIR_ENV, str(tmp_path / "spill"))
    monkeypatch.setenv(MIN_BYTES_ENV, "0")
    monkeypatch.setenv(RECENT_ROWS_ENV, "0")
    run = tmp_path / "run"
    run.mkdir()
    for rank in (0, 1):
        _file(run, rank).write_text(json.dumps(_start(0, None)) + "\n")
        _write(run, rank, [{"step": s, "loss": 1.0} for s in range(BASE)])
    with RunWatcher(run, use_watchdog=False, poll_interval_s=0.0) as watcher:
        for late in (False, True, False, True):
            _write(run, 0, [{"step": BASE - 20, "val_loss": 0.5}] if late else [{"step": BASE}])
            metrics = watcher.refresh().metrics_history
            for r in (0, 1):
                want = metrics[metrics["rank"].to_numpy() == r]
                pd.testing.assert_frame_equal(rank_frame(metrics, r), want)
    assert len(rank_rows._KEPT) == 2
    assert [kept.rebuilds for kept in rank_rows._KEPT.values()] == [0, 0]
