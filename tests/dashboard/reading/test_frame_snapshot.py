"""The incremental metrics frame (frames.GrowCache): after every kind of change, a live watcher's
frames equal a fresh one-shot load, and a frame handed out earlier never changes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reader_helpers import assert_same_frames, growth, line, metric, run_start

from dashboard.reading.watcher import RunWatcher, load_training_state

# each test runs with the buffers in memory and spilled to disk (conftest)
pytestmark = pytest.mark.usefixtures("spill_mode")

LOG = "training_log.jsonl"


def append(directory: Path, data: bytes, name: str = LOG) -> None:
    with open(directory / name, "ab") as fh:
        fh.write(data)


def lines(steps: range | list[int], **extra: object) -> bytes:
    return b"".join(metric(s, **extra) for s in steps)


def watcher(directory: Path) -> RunWatcher:
    return RunWatcher(directory, use_watchdog=False, poll_interval_s=0.0)


def test_appends_extend_in_place_and_old_frames_stay(tmp_path: Path) -> None:
    append(tmp_path, lines(range(0, 50)))
    with watcher(tmp_path) as w:
        first = w.refresh().metrics_history
        kept = first.copy(deep=True)
        frames = [first]
        for start in range(50, 250, 50):
            append(tmp_path, lines(range(start, start + 50)) + growth(start + 49))
            state = w.refresh()
            frames.append(state.metrics_history)
            assert_same_frames(state, load_training_state(tmp_path))
        pd.testing.assert_frame_equal(first, kept)  # the first snapshot still shows its 50 rows
        assert [len(f) for f in frames] == [50, 100, 150, 200, 250]
        # every frame is a view of one buffer: appends write in place (no rebuild), the first
        # append after the load included (the load left spare room; #16 asks for no copy there)
        assert np.shares_memory(frames[-1]["loss"].to_numpy(), frames[-2]["loss"].to_numpy())
        assert np.shares_memory(frames[0]["loss"].to_numpy(), frames[-1]["loss"].to_numpy())


def test_new_column_appears_later_nan_before(tmp_path: Path) -> None:
    append(tmp_path, lines(range(0, 10)))
    with watcher(tmp_path) as w:
        w.refresh().metrics_history  # noqa: B018  (build, to fill the cache)
        append(tmp_path, lines(range(10, 20), val_loss=0.5))
        frame = w.refresh().metrics_history
        assert frame["val_loss"].isna().sum() == 10 and (frame["val_loss"].iloc[10:] == 0.5).all()
        assert_same_frames(w.state, load_training_state(tmp_path))


def test_resume_going_back_takes_the_full_build(tmp_path: Path) -> None:
    append(tmp_path, lines(range(0, 30)))
    with watcher(tmp_path) as w:
        w.refresh().metrics_history  # noqa: B018
        append(tmp_path, run_start(20, resumed_from_step=20) + lines(range(20, 40), lr=0.1))
        state = w.refresh()
        assert len(state.metrics_history) == 40
        assert state.metrics_history["lr"].iloc[20:].eq(0.1).all()  # the newer lines won
        assert_same_frames(state, load_training_state(tmp_path))
        append(tmp_path, lines(range(40, 45)))  # and extends again after the rebuild
        assert_same_frames(w.refresh(), load_training_state(tmp_path))


def test_truncated_and_replaced_file(tmp_path: Path) -> None:
    append(tmp_path, lines(range(0, 30)))
    with watcher(tmp_path) as w:
        w.refresh().metrics_history  # noqa: B018
        (tmp_path / LOG).write_bytes(lines(range(0, 5)))  # truncated: read again from 0
        state = w.refresh()
        assert len(state.metrics_history) == 5
        assert_same_frames(state, load_training_state(tmp_path))
        tmp = tmp_path / "new.tmp"
        tmp.write_bytes(lines(range(0, 8)))
        os.replace(tmp, tmp_path / LOG)  # replaced (new inode)
        state = w.refresh()
        assert len(state.metrics_history) == 8
        assert_same_frames(state, load_training_state(tmp_path))


def test_older_snapshot_built_after_a_newer_one(tmp_path: Path) -> None:
    append(tmp_path, lines(range(0, 10)))
    with watcher(tmp_path) as w:
        w.refresh().metrics_history  # noqa: B018
        append(tmp_path, lines(range(10, 20)))
        older = w.refresh()  # not built yet
        append(tmp_path, lines(range(20, 30)))
        newer = w.refresh()
        assert len(newer.metrics_history) == 30
        assert len(older.metrics_history) == 20
        assert older.metrics_history["step"].tolist() == list(range(20))
        append(tmp_path, lines(range(30, 35)))
        assert_same_frames(w.refresh(), load_training_state(tmp_path))


def test_two_ranks_in_one_file(tmp_path: Path) -> None:
    with watcher(tmp_path) as w:
        for start in range(0, 40, 10):
            append(
                tmp_path,
                b"".join(metric(s, rank=r) for s in range(start, start + 10) for r in (0, 1)),
            )
            state = w.refresh()
            assert len(state.metrics_history) == 2 * (start + 10)
            assert_same_frames(state, load_training_state(tmp_path))


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-15, 15), st.integers(0, 12), st.booleans()), min_size=1, max_size=8
    )
)
def test_any_sequence_of_appends_equals_a_fresh_load(
    tmp_path_factory: object,
    batches: list[tuple[int, int, bool]],
) -> None:
    directory = tmp_path_factory.mktemp("grow")  # type: ignore[attr-defined]
    step = 0
    built: list[tuple[pd.DataFrame, pd.DataFrame]] = []
    with watcher(directory) as w:
        for jump, count, build in batches:
            step = max(0, step + jump)  # a negative jump is a resume to an earlier step
            append(directory, lines(range(step, step + count)) + line({"step": step + count}))
            step += count + 1
            state = w.refresh()
            if build:  # some snapshots are never built
                built.append((state.metrics_history, state.metrics_history.copy(deep=True)))
        assert_same_frames(w.refresh(), load_training_state(directory))
    for frame, copy in built:  # no later append changed a frame handed out earlier
        pd.testing.assert_frame_equal(frame, copy)
