"""A late line rewrites the table from where it lands, not the history: spill files fork (every
mapping made before keeps its bytes) and the rows before the line stay where they are."""

from __future__ import annotations

import json
import math
import mmap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.reading import sorted_table
from dashboard.reading.forget import known_equal
from dashboard.reading.fork import can_fork
from dashboard.reading.spill import (
    MIN_BYTES_ENV,
    RECENT_ROWS_ENV,
    SPILL_DIR_ENV,
    Buffers,
    SpillPolicy,
)
from dashboard.reading.watcher import RunWatcher, load_training_state

pytestmark = pytest.mark.skipif(not can_fork(), reason="no mmap at an address here")
PAGE = mmap.PAGESIZE


def _spilled(tmp_path: Path, rows: int) -> Buffers:
    buffers = Buffers(SpillPolicy(tmp_path, min_bytes=0, recent_rows=0))
    buffers.grow(2 * rows, 0)
    buffers.add("x", np.dtype("float64"), rows)
    buffers.ensure(rows, 0)
    buffers.arrays["x"][:rows] = np.arange(rows, dtype=np.float64)
    return buffers


def test_a_forked_buffer_keeps_every_view_handed_out(tmp_path: Path) -> None:
    rows = 300_000
    buffers = _spilled(tmp_path, rows)
    first = buffers.arrays["x"][:rows]
    want, latest, views = first.copy(), first.copy(), []
    for at, value in ((200_000, -1.0), (250_123, -2.0), (100_000, -3.0)):
        buffers.fork(at, rows)
        new = buffers.arrays["x"]
        assert new.__array_interface__["data"][0] != first.__array_interface__["data"][0]
        assert np.array_equal(new[:rows], latest)  # the rows before are the file's, not copied
        new[at:rows] = value
        latest[at:] = value
        views.append((new[:rows], latest.copy()))
        buffers.release(rows)  # pages of every mapping given back: the bytes stay in the files
        assert np.array_equal(first, want)
    for view, seen in views[:-1]:  # each later fork left the earlier views as they were
        assert np.array_equal(view, seen)
    assert float(buffers.arrays["x"][rows - 1]) == -3.0
    assert float(buffers.arrays["x"][99_999]) == 99_999.0
    assert list(tmp_path.iterdir()) == []  # the copies are unnamed files too


def test_a_buffer_in_memory_forks_by_copy(tmp_path: Path) -> None:
    buffers = Buffers(SpillPolicy(None))
    buffers.grow(1000, 0)
    buffers.add("x", np.dtype("float64"), 500)[:500] = 1.0
    old = buffers.arrays["x"][:500]
    buffers.fork(100, 500)
    buffers.arrays["x"][100:500] = 2.0
    assert float(old.sum()) == 500.0 and float(buffers.arrays["x"][:500].sum()) == 900.0


def _line(step: int, **fields: float) -> str:
    return json.dumps({"event_type": "metric", "step": step, "wall_time": 1e9 + step, **fields})


def _run_counting_rebuilds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill: bool, text: str
) -> tuple[Path, Path, list[int]]:
    """A run directory whose log holds ``text``, read with every table spilled (or, not
    ``spill``, in memory); the list gets the row count of each table rebuilt from then on."""
    monkeypatch.setenv(SPILL_DIR_ENV, str(tmp_path / "spill") if spill else "off")
    monkeypatch.setenv(MIN_BYTES_ENV, "0")
    monkeypatch.setenv(RECENT_ROWS_ENV, "0")
    run = tmp_path / "run"
    run.mkdir()
    log = run / "training_log.jsonl"
    log.write_text(text)
    rebuilds: list[int] = []
    rebuild = sorted_table.SortedTable.rebuild
    monkeypatch.setattr(
        sorted_table.SortedTable,
        "rebuild",
        lambda self, chunks, cuts: rebuilds.append(self.n) or rebuild(self, chunks, cuts),
    )
    return run, log, rebuilds


@pytest.mark.parametrize("spill", [True, False])
def test_a_late_line_rewrites_only_the_rows_from_its_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill: bool
) -> None:
    """An evaluator's late ``val_loss`` lands at its step, merged into the trainer's row; the
    earlier frame is unchanged; the table took the insert path (no rebuild of the history);
    the result equals a cold load of the same file."""
    text = "".join(_line(s, loss=1.0 / (1 + s)) + "\n" for s in range(20_000))
    run, log, rebuilds = _run_counting_rebuilds(tmp_path, monkeypatch, spill, text)
    with RunWatcher(run, use_watchdog=False, poll_interval_s=0.0) as watcher:
        before = watcher.refresh().metrics_history
        kept = before.copy(deep=True)
        loaded = len(rebuilds)
        with log.open("a") as fh:
            fh.write(_line(20_000, loss=0.5) + "\n" + _line(19_990, val_loss=0.7) + "\n")
            fh.write(_line(19_996, val_loss=math.inf) + "\n")
        after = watcher.refresh().metrics_history
        assert len(rebuilds) == loaded  # the insert path, not a rebuild of every row
        assert before.equals(kept)
        assert len(after) == 20_001
        row = after.set_index("step").loc[19_990]
        assert row["val_loss"] == 0.7 and row["loss"] == 1.0 / 19_991
        assert after.set_index("step").loc[19_996, "val_loss"] == math.inf
        fresh = load_training_state(run).metrics_history
        assert after.equals(fresh[after.columns])


@pytest.mark.parametrize("spill", [True, False])
def test_a_resume_going_back_rewrites_only_the_rows_it_drops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill: bool
) -> None:
    """A crashed trainer resumed from its checkpoint at step 19,000 (a ``run_start`` with
    ``resumed_from_step``): the rows after 19,000 are cut and the new timeline written from
    there, without rebuilding the history; the earlier frame is unchanged; the result equals a
    cold load of the same file."""
    start = {"event_type": "run_start", "step": 0, "wall_time": 1e9, "schema_version": 1}
    start |= {"run_id": "r1", "resumed_from_step": None, "config": {}}
    text = json.dumps(start) + "\n" + "".join(_line(s, loss=1.0) + "\n" for s in range(20_000))
    run, log, rebuilds = _run_counting_rebuilds(tmp_path, monkeypatch, spill, text)
    with RunWatcher(run, use_watchdog=False, poll_interval_s=0.0) as watcher:
        before = watcher.refresh().metrics_history
        kept = before.copy(deep=True)
        loaded = len(rebuilds)
        resumed = {**start, "step": 19_000, "wall_time": 2e9, "resumed_from_step": 19_000}
        with log.open("a") as fh:
            fh.write(json.dumps(resumed) + "\n")
            fh.write("".join(_line(s, loss=0.5) + "\n" for s in range(19_001, 19_101)))
        state = watcher.refresh()
        after = state.metrics_history
        assert not any(rebuilds[loaded:])  # the insert path (empty tables only rebuild)
        assert before.equals(kept)
        assert len(after) == 19_101 and int(after["step"].iloc[-1]) == 19_100
        assert after["loss"].iloc[19_000] == 1.0 and after["loss"].iloc[19_001] == 0.5
        assert [r.step for r in state.restarts] == [19_000]
        fresh = load_training_state(run).metrics_history
        assert after.equals(fresh[after.columns])


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["fork", "append", "grow"]), st.integers(0, 40_000)),
        min_size=1,
        max_size=12,
    )
)
def test_views_keep_their_rows_over_any_forks_appends_and_growth(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int]]
) -> None:
    """Whatever forks (rows rewritten from any row on), appends and growth happen, with the
    pages given back after each, every view taken on the way keeps the rows it showed."""
    buffers = _spilled(tmp_path_factory.mktemp("spill"), 20_000)
    n, latest, views = 20_000, np.arange(20_000, dtype=np.float64), []
    for i, (op, at) in enumerate(ops):
        if op == "fork":
            at = at % n
            buffers.fork(at, n)
            buffers.arrays["x"][at:n] = -i
            latest[at:] = -i
        elif op == "grow":
            buffers.grow(buffers.cap + at + 1, n)
        else:
            add = at % 5_000 + 1
            if n + add > buffers.cap:
                buffers.grow(2 * (n + add), n)
            buffers.ensure(n + add, n)
            buffers.arrays["x"][n : n + add] = 0.5 * i
            latest = np.concatenate([latest, np.full(add, 0.5 * i)])
            n += add
        buffers.release(n)
        assert np.array_equal(buffers.arrays["x"][:n], latest)
        views.append((buffers.arrays["x"][:n], latest.copy()))
        now = buffers.arrays["x"][:n]
        for view, seen in views:
            assert np.array_equal(view, seen)
            k = known_equal(view, now)  # what a memo skips comparing: truly equal
            assert np.array_equal(view[:k], now[:k])
            if op == "grow" and view is views[-1][0]:
                assert k == view.size  # a new mapping of an unforked file: all known equal


def test_known_equal_needs_two_views_of_one_file(tmp_path: Path) -> None:
    buffers = _spilled(tmp_path / "a", 50_000)
    other = _spilled(tmp_path / "b", 50_000)
    first = buffers.arrays["x"][:50_000]
    buffers.grow(200_000, 50_000)
    assert known_equal(first, buffers.arrays["x"][:50_000]) == 50_000
    assert known_equal(first, other.arrays["x"][:50_000]) == 0  # another file: same bytes
    assert known_equal(first, first.copy()) == 0
    assert known_equal(first[1:], buffers.arrays["x"][:49_999]) == 0  # another offset
    buffers.fork(30_000, 50_000)
    assert known_equal(first, buffers.arrays["x"][:50_000]) == 30_000 * 8 // PAGE * PAGE // 8
