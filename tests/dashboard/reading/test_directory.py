"""The directory reader through RunWatcher (polling only, fake clock): frames, restarts, bad lines."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reader_helpers import (
    assert_same_frames,
    consolidation,
    frames_of,
    growth,
    line,
    metric,
    run_start,
    stage,
)

from dashboard import RunWatcher, load_training_state
from dashboard.reading.arrow_fastpath import parse_block
from dashboard.reading.directory import DirectoryReader
from dashboard.run_state import FRAME_COLUMNS


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watcher(directory: Path, clock: Clock | None = None) -> RunWatcher:
    return RunWatcher(
        directory,
        use_watchdog=False,
        poll_interval_s=1.0,
        clock=clock or Clock(),
        wall_clock=lambda: 5.0,
    )


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def poll(w: RunWatcher) -> object:
    w.mark_dirty()
    return w.refresh()


def test_truncation_test_from_tensorboard(tmp_path: Path) -> None:
    log = tmp_path / "training_log.jsonl"
    data = metric(1)
    w = watcher(tmp_path)
    append(log, data[:-1])
    assert len(poll(w).metrics_history) == 0  # type: ignore[attr-defined]
    append(log, data[-1:])
    state = poll(w)
    assert state.metrics_history["step"].tolist() == [1]  # type: ignore[attr-defined]
    assert state.bad_line_count == 0  # type: ignore[attr-defined]


def test_empty_and_missing_frames_have_their_columns(tmp_path: Path) -> None:
    state = load_training_state(tmp_path / "nope")
    assert not state.exists
    for name, cols in FRAME_COLUMNS.items():
        frame = getattr(state, name)
        assert list(frame.columns) == list(cols) and frame.empty
        assert [str(t) for t in frame.dtypes] == list(cols.values())


def test_frames_columns_and_dtypes(tmp_path: Path) -> None:
    (tmp_path / "training_log.jsonl").write_bytes(
        metric(1)
        + growth(2)
        + consolidation(3, "REM")
        + stage(4)
        + run_start(0)
        + metric(5, lr=0.1, grad_norm=2)
    )
    state = load_training_state(tmp_path)
    m = state.metrics_history
    assert list(m.columns) == [
        *FRAME_COLUMNS["metrics_history"],
        "neuron_counts.cortex",
        "neuron_counts.hippocampus",
        "capacity_by_region.cortex",
        "capacity_by_region.hippocampus",
        "lr",
        "grad_norm",
    ]
    assert m["step"].tolist() == [1, 5] and str(m["neuron_counts.cortex"].dtype) == "float64"
    assert math.isnan(m["lr"].iloc[0]) and m["lr"].iloc[1] == 0.1
    g = state.growth_events
    assert g.iloc[0].to_dict() == {
        "step": 2,
        "wall_time": 1002.0,
        "rank": 0,
        "region": "cortex",
        "neurons_added": 8,
        "new_total": 108,
        "reason": "full",
    }
    assert state.consolidation_events["sleep_stage"].tolist() == ["REM"]
    assert state.stage_events["name"].tolist() == ["phonology"]
    assert math.isnan(state.run_starts["resumed_from_step"].iloc[0])
    for name, cols in FRAME_COLUMNS.items():
        frame = getattr(state, name)
        assert {c: str(frame[c].dtype) for c in cols} == cols
    assert state.last_update == 1005.0


def test_legacy_json_file_without_event_type_and_bare_nan(tmp_path: Path) -> None:
    legacy = [
        {"step": 0, "firing_rate": 0.1, "capacity": 0.2, "performance": 0.3, "loss": float("nan")},
        {"step": 1, "loss": float("inf"), "val_loss": float("-inf")},
        {"step": 2, "loss": "NaN", "lr": "Infinity"},
    ]
    (tmp_path / "training_log.json").write_text("".join(json.dumps(x) + "\n" for x in legacy))
    assert "NaN" in (tmp_path / "training_log.json").read_text()
    state = load_training_state(tmp_path)
    m = state.metrics_history
    assert state.bad_line_count == 0 and state.log_files == ("training_log.json",)
    assert math.isnan(m["loss"][0]) and m["loss"][1] == math.inf and m["val_loss"][1] == -math.inf
    assert math.isnan(m["loss"][2]) and m["lr"][2] == math.inf
    assert m["wall_time"].isna().all()


BAD_LINES = [
    (b"{not json\n", "not valid JSON"),
    (b'{"step": "seven"}\n', "'step' must be an integer >= 0"),
    (b'{"step": -1}\n', "'step' must be an integer >= 0"),
    (b'{"step": true}\n', "'step' must be an integer >= 0"),
    (b'{"loss": 1}\n', "missing required field 'step'"),
    (b'{"event_type": "teleport", "step": 1}\n', "unknown event_type"),
    (b'{"step": 1, "loss": "high"}\n', "'loss' must be a number"),
    (b'{"step": 1, "flag": true}\n', "'flag' must be a number"),
    (b'{"step": 1, "neuron_counts": {"a": -2}}\n', "'neuron_counts.a' must be an integer >= 0"),
    (
        b'{"event_type": "growth", "step": 1, "region": "a", "neurons_added": 1}\n',
        "missing required field 'new_total'",
    ),
    (
        b'{"event_type": "consolidation", "step": 1, "sleep_stage": "DEEP", "patterns_replayed": 1, "duration_steps": 1}\n',
        "sleep_stage",
    ),
    (
        b'{"event_type": "run_start", "step": 0, "schema_version": 3, "run_id": "x", "resumed_from_step": null, "config": {}}\n',
        "schema_version",
    ),
    (b'{"step": 1, "loss": "\xff\xfe"}\n', "not valid UTF-8"),
    (b"[1, 2, 3]\n", "expected a JSON object, got a JSON array"),
    (b'"just a string"\n', "expected a JSON object"),
    (b'{"step": 1, "x": "' + b"a" * (3 << 20) + b'"}\n', "line longer than"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_LINES, ids=[r for _, r in BAD_LINES])
def test_every_kind_of_bad_line_is_counted_kept_and_skipped(
    tmp_path: Path, bad: bytes, reason: str
) -> None:
    before = metric(1)
    (tmp_path / "training_log.jsonl").write_bytes(before + bad + metric(2))
    state = load_training_state(tmp_path)
    assert state.metrics_history["step"].tolist() == [1, 2]
    assert state.bad_line_count == 1
    (found,) = state.bad_lines
    assert found.file == "training_log.jsonl" and found.offset == len(before)
    assert reason in found.reason, found.reason
    assert len(found.excerpt) <= 200


def test_resume_newer_wins_abandoned_timeline_dropped_restart_recorded(tmp_path: Path) -> None:
    log = tmp_path / "training_log.jsonl"
    w = watcher(tmp_path)
    append(log, b"".join(metric(s) for s in range(10)) + growth(9))
    poll(w)
    append(log, run_start(5, resumed_from_step=5) + metric(6, loss=42.0) + metric(7))
    state = poll(w)
    m = state.metrics_history  # type: ignore[attr-defined]
    assert m["step"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]  # 6..9 of the first run were abandoned
    assert m.loc[m["step"] == 6, "loss"].item() == 42.0
    assert state.growth_events.empty  # type: ignore[attr-defined]
    (restart,) = state.restarts  # type: ignore[attr-defined]
    assert (restart.kind, restart.step, restart.wall_time) == ("resumed", 5, 1005.0)  # as logged


def test_steps_going_back_without_run_start_is_a_resume(tmp_path: Path) -> None:
    # a sustained regression (RESUME_AFTER metric lines going on from step 2) in a legacy log
    (tmp_path / "training_log.jsonl").write_bytes(
        b"".join(metric(s) for s in range(1, 10))
        + metric(2, loss=7.0)
        + b"".join(metric(s) for s in range(3, 7))
    )
    state = load_training_state(tmp_path)
    assert state.metrics_history["step"].tolist() == [1, 2, 3, 4, 5, 6]
    assert state.metrics_history["loss"].tolist()[1] == 7.0
    assert [(r.kind, r.step) for r in state.restarts] == [("resumed", 2)]


@pytest.mark.parametrize("how", ["truncated", "replaced"])
def test_truncated_or_replaced_file_is_read_again(tmp_path: Path, how: str) -> None:
    log = tmp_path / "training_log.jsonl"
    w = watcher(tmp_path)
    append(log, metric(1) + metric(2) + growth(2))
    assert len(poll(w).metrics_history) == 2  # type: ignore[attr-defined]
    if how == "truncated":
        log.write_bytes(metric(10))
    else:
        tmp = tmp_path / "new"
        tmp.write_bytes(metric(10) + metric(11) + metric(12))
        keep = tmp_path / "old"
        os.link(log, keep)  # keep the old inode alive so the new file cannot reuse it
        os.replace(tmp, log)
    state = poll(w)
    assert state.metrics_history["step"].tolist() == ([10] if how == "truncated" else [10, 11, 12])  # type: ignore[attr-defined]
    assert state.growth_events.empty  # type: ignore[attr-defined]
    assert [(r.kind, r.step, r.wall_time) for r in state.restarts] == [(how, 10, 5.0)]  # type: ignore[attr-defined]


def test_rank_files(tmp_path: Path) -> None:
    (tmp_path / "training_log.jsonl").write_bytes(metric(1) + metric(2))
    (tmp_path / "training_log.rank3.jsonl").write_bytes(metric(1) + growth(1))
    (tmp_path / "training_log.rankX.jsonl").write_bytes(metric(9))  # not a log file
    state = load_training_state(tmp_path)
    m = state.metrics_history
    assert list(zip(m["step"], m["rank"], strict=True)) == [(1, 0), (1, 3), (2, 0)]
    assert state.growth_events["rank"].tolist() == [3]
    assert set(state.log_files) == {"training_log.jsonl", "training_log.rank3.jsonl"}


STREAM = st.lists(
    st.one_of(
        st.integers(0, 30).map(metric),
        st.integers(0, 30).map(lambda s: metric(s, lr=0.5, loss="NaN")),
        st.integers(0, 30).map(lambda s: metric(s, grad_norm="Infinity")),
        st.integers(0, 30).map(lambda s: f'{{"step": {s}, "loss": NaN, "lr": 0.1}}\n'.encode()),
        st.integers(0, 30).map(growth),
        st.integers(0, 30).map(consolidation),
        st.integers(0, 30).map(lambda s: run_start(s, resumed_from_step=s)),
        st.sampled_from([b"{broken\n", b'{"step": "seven"}\n', b"\n", b"[1]\n"]),
    ),
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=STREAM, cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_any_chunking_across_refreshes_gives_the_same_frames(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(lines)
    one = tmp_path_factory.mktemp("one")
    (one / "training_log.jsonl").write_bytes(stream)
    expected = load_training_state(one)
    many = tmp_path_factory.mktemp("many")
    points = sorted({c % (len(stream) + 1) for c in cuts})
    clock = Clock()
    w = watcher(many, clock)
    state = w.refresh()
    for a, b in zip([0, *points], [*points, len(stream)], strict=True):
        append(many / "training_log.jsonl", stream[a:b])
        clock.now += 1.0  # poll interval elapsed: no filesystem event needed
        state = w.refresh()
    assert_same_frames(state, expected)
    assert state.bad_line_count == expected.bad_line_count
    assert [(r.kind, r.step) for r in state.restarts] == [
        (r.kind, r.step) for r in expected.restarts
    ]


@settings(max_examples=30, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.integers(0, 50).map(metric),
            st.integers(0, 50).map(lambda s: metric(s, extra_count=3)),
            st.integers(0, 50).map(lambda s: metric(s, grad_norm=0.5)),
            st.integers(0, 50).map(growth),
            st.integers(0, 50).map(consolidation),
            st.integers(0, 50).map(lambda s: line({"step": s, "loss": 0.5})),
            st.integers(0, 50).map(lambda s: metric(s, loss="NaN")),
            st.integers(0, 50).map(lambda s: metric(s, grad_norm="-Infinity", lr="NaN")),
            st.integers(0, 50).map(lambda s: f'{{"step": {s}, "grad_norm": NaN}}\n'.encode()),
            st.integers(0, 50).map(lambda s: run_start(s, resumed_from_step=s)),
            st.sampled_from(
                [
                    b"{broken\n",
                    b"\n",
                    b'{"step": 1, "flag": true}\n',
                    b'{"step": 2, "rank": 1}\n',
                    b'{"step": 3, "loss": Inf}\n',
                ]
            ),
        ),
        min_size=1,
        max_size=30,
    ),
    cuts=st.lists(st.integers(0, 30), max_size=4),
)
def test_block_parser_agrees_with_the_line_parser(lines: list[bytes], cuts: list[int]) -> None:
    """Same frames and the same ``nonfinite`` record whichever path reads a block: the lines
    arrive in a few updates (cut at line boundaries), so clean blocks take the pyarrow path and
    blocks with a non-finite value, a bad line or a step going back fall back line by line."""
    from tempfile import TemporaryDirectory

    points = sorted({c % (len(lines) + 1) for c in cuts})
    with TemporaryDirectory() as tmp:
        log = Path(tmp, "training_log.jsonl")
        log.write_bytes(b"")
        fast = DirectoryReader(tmp, min_block_bytes=0, wall_clock=lambda: 1.0)
        slow = DirectoryReader(tmp, block_parser=None, wall_clock=lambda: 1.0)
        for a, b in zip([0, *points], [*points, len(lines)], strict=True):
            append(log, b"".join(lines[a:b]))
            fast.update()
            slow.update()
        assert_same_frames(fast.state(1), slow.state(1))
        assert fast.bad_line_count == slow.bad_line_count
        assert fast.restarts == slow.restarts


def test_block_parser_is_used_for_clean_blocks() -> None:
    data = b"".join(metric(s) for s in range(50)) + growth(50) + consolidation(51)
    parsed = parse_block(data)
    assert parsed is not None and parsed.lines == 52
    assert set(parsed.frames) == {"metrics_history", "growth_events", "consolidation_events"}
    assert parse_block(data + metric(1)) is not None  # a line behind: a row like any other


def test_snapshot_does_not_show_later_lines(tmp_path: Path) -> None:
    log = tmp_path / "training_log.jsonl"
    w = watcher(tmp_path)
    append(log, metric(1))
    old = poll(w)
    append(log, metric(2) + growth(2))
    new = poll(w)
    assert old.metrics_history["step"].tolist() == [1]  # type: ignore[attr-defined]
    assert old.growth_events.empty  # type: ignore[attr-defined]
    assert new.metrics_history["step"].tolist() == [1, 2]  # type: ignore[attr-defined]
    assert new.version > old.version  # type: ignore[attr-defined]
    assert new.metrics_history is new.metrics_history  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(frames_of(new)["growth_events"], new.growth_events)  # type: ignore[attr-defined]
