"""The timeline rule (see ``dashboard/reader.py``): late lines land in step order, lines sharing a
step merge field by field, and only a ``run_start`` resume, a truncated/replaced file or a
sustained regression of metric steps in a legacy log start a new timeline.

Logs are written by independent writers (plain ``json.dumps`` lines), and each case is read
both at once (``load_training_state``) and incrementally (``RunWatcher``, the bytes appended in
several refreshes split mid-line), plus through ``DirectoryReader`` with the block parser on
every block, so the per-line and pyarrow paths are held to the same rule.
"""

from __future__ import annotations

import json
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reader_helpers import assert_same_frames

from dashboard import RunWatcher, load_training_state
from dashboard.reading.directory import RESUME_AFTER, DirectoryReader
from dashboard.run_state import RunState
from thalia_logging import CurriculumLogger

# each test runs with the buffers in memory and spilled to disk (conftest)
pytestmark = pytest.mark.usefixtures("spill_mode")

LOG = "training_log.jsonl"


def obj_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def m(step: int, **fields: Any) -> bytes:
    """A metric line; ``loss`` defaults to a value that tells the writing run apart."""
    fields.setdefault("loss", 1.0 + step)
    return obj_line({"event_type": "metric", "step": step, "wall_time": 1000.0 + step, **fields})


def legacy(step: int, **fields: Any) -> bytes:
    """An older Thalia metric line: no ``event_type``, no ``wall_time``."""
    fields.setdefault("loss", 1.0 + step)
    return obj_line({"step": step, **fields})


def growth(step: int, region: str = "cortex") -> bytes:
    return obj_line(
        {
            "event_type": "growth",
            "step": step,
            "wall_time": 1000.0 + step,
            "region": region,
            "neurons_added": 4,
            "new_total": 104,
            "reason": "full",
        }
    )


def consolidation(step: int) -> bytes:
    return obj_line(
        {
            "event_type": "consolidation",
            "step": step,
            "wall_time": 1000.0 + step,
            "sleep_stage": "NREM",
            "patterns_replayed": 7,
            "duration_steps": 20,
        }
    )


def stage(step: int, number: int = 1) -> bytes:
    return obj_line(
        {
            "event_type": "stage",
            "step": step,
            "wall_time": 1000.0 + step,
            "stage": number,
            "name": f"stage {number}",
        }
    )


def run_start(step: int = 0, resumed_from_step: int | None = None) -> bytes:
    return obj_line(
        {
            "event_type": "run_start",
            "step": step,
            "wall_time": 900.0 + step,
            "schema_version": 1,
            "run_id": "r",
            "resumed_from_step": resumed_from_step,
            "config": {},
        }
    )


def metrics(steps: range | list[int], **fields: Any) -> bytes:
    return b"".join(m(s, **fields) for s in steps)


def split_points(data: bytes, parts: int = 5) -> list[int]:
    """Awkward places: inside lines, right after a newline, never only at line ends."""
    n = len(data)
    points = {n * k // parts + (7 * k) % 13 for k in range(1, parts)}
    if b"\n" in data:
        points.add(data.index(b"\n") + 1)
    return sorted(p for p in points if 0 < p < n)


def read_all_ways(directory: Path, data: bytes) -> RunState:
    """Read ``data`` at once and appended in pieces (watcher, and reader with the block parser on
    every block); all must agree. Returns the one-shot state."""
    (directory / "once").mkdir()
    (directory / "once" / LOG).write_bytes(data)
    once = load_training_state(directory / "once")
    live_dir = directory / "live"
    live_dir.mkdir()
    fast = DirectoryReader(live_dir, min_block_bytes=0, wall_clock=lambda: 1.0)
    with RunWatcher(live_dir, use_watchdog=False, poll_interval_s=0.0) as w:
        state = w.refresh()
        for a, b in zip([0, *split_points(data)], [*split_points(data), len(data)], strict=True):
            with open(live_dir / LOG, "ab") as fh:
                fh.write(data[a:b])
            state = w.refresh()
            state.metrics_history  # noqa: B018  (build each snapshot: exercises the grow cache)
            fast.update()
    for other in (state, fast.state(1)):
        assert_same_frames(other, once)
        assert [(r.kind, r.step) for r in other.restarts] == [
            (r.kind, r.step) for r in once.restarts
        ]
    return once


def col(state: RunState, name: str, step: int) -> float:
    frame = state.metrics_history
    (value,) = frame.loc[frame["step"] == step, name].tolist()
    return float(value)


@dataclass
class Case:
    name: str
    data: bytes
    rows: list[int]  # expected metric steps
    restarts: list[int] = field(default_factory=list)  # expected "resumed" restart steps
    values: dict[tuple[str, int], float] = field(default_factory=dict)  # (column, step) -> value
    events: dict[str, list[int]] = field(default_factory=dict)  # frame -> expected steps


def with_header(data: bytes) -> bytes:
    return run_start() + data


BASE = metrics(range(1011))
CASES = [
    Case(
        "late eval line (issue 8's smallest case)",
        BASE + m(1000, val_loss=0.5).replace(b', "loss": 1001.0', b"") + metrics(range(1011, 1021)),
        list(range(1021)),
        values={("loss", 1000): 1001.0, ("val_loss", 1000): 0.5, ("loss", 1020): 1021.0},
    ),
    Case(
        "late eval line, legacy writer",
        b"".join(legacy(s) for s in range(1011))
        + obj_line({"step": 1000, "val_loss": 0.5})
        + b"".join(legacy(s) for s in range(1011, 1021)),
        list(range(1021)),
        values={("loss", 1000): 1001.0, ("val_loss", 1000): 0.5},
    ),
    Case(
        "late consolidation (logged when it ends, with its start step)",
        metrics(range(101)) + consolidation(80) + metrics(range(101, 105)),
        list(range(105)),
        events={"consolidation_events": [80]},
    ),
    Case(
        "late growth and stage events, two at one step, in step order",
        metrics(range(60))
        + growth(55, "cortex")
        + growth(30, "thalamus")
        + growth(55, "hippocampus")
        + stage(40)
        + metrics(range(60, 62)),
        list(range(62)),
        events={"growth_events": [30, 55, 55], "stage_events": [40]},
    ),
    Case(
        "shared step: fields merge, the later value of a field wins, null keeps",
        metrics(range(5))
        + m(5, loss=1.0, lr=0.1)
        + m(5, loss=3.0, val_loss=2.0)
        + obj_line({"event_type": "metric", "step": 5, "loss": None, "grad_norm": 0.7})
        + metrics(range(6, 8)),
        list(range(8)),
        values={
            ("loss", 5): 3.0,
            ("lr", 5): 0.1,
            ("val_loss", 5): 2.0,
            ("grad_norm", 5): 0.7,
            ("wall_time", 5): 1005.0,
        },
    ),
    Case(
        "run_start resume: marker at the logged step, abandoned rows dropped",
        metrics(range(2111), lr=0.1)
        + growth(2105)
        + run_start(2100, resumed_from_step=2100)
        + metrics(range(2100, 2200), loss=-1.0),  # the row at 2100 stays and merges
        list(range(2200)),
        restarts=[2100],
        values={
            ("loss", 2100): -1.0,
            ("lr", 2100): 0.1,
            ("loss", 2105): -1.0,
            ("lr", 2105): math.nan,
        },
        events={"growth_events": []},
    ),
    Case(
        "legacy sustained regression is a resume",
        b"".join(legacy(s) for s in range(2111))
        + b"".join(legacy(s, loss=-1.0) for s in range(2100, 2200)),
        list(range(2200)),
        restarts=[2100],
        values={("loss", 2099): 2100.0, ("loss", 2100): -1.0},
    ),
    Case(
        "legacy: fewer than RESUME_AFTER lines behind is not a resume",
        b"".join(legacy(s) for s in range(2111))
        + b"".join(legacy(s, val_loss=0.25) for s in range(2100, 2100 + RESUME_AFTER - 1))
        + b"".join(legacy(s) for s in range(2111, 2120)),
        list(range(2120)),
        values={("loss", 2100): 2101.0, ("val_loss", 2100): 0.25, ("val_loss", 2110): math.nan},
    ),
    Case(
        "legacy: late events are never a resume",
        b"".join(legacy(s) for s in range(100))
        + b"".join(growth(s) for s in range(10, 30))
        + b"".join(legacy(s) for s in range(100, 103)),
        list(range(103)),
        events={"growth_events": list(range(10, 30))},
    ),
    Case(
        "legacy: a burst of evaluator lines at one step is not a resume",
        b"".join(legacy(s) for s in range(100))
        + b"".join(obj_line({"step": 50, f"v{k}": 1.0}) for k in range(10))
        + legacy(100),
        list(range(101)),
        values={("v9", 50): 1.0, ("loss", 50): 51.0},
    ),
    Case(
        "with run_start, any regression is late lines, not a resume",
        run_start()
        + metrics(range(100))
        + metrics(range(10, 30), val_loss=0.5)
        + metrics(range(100, 102)),
        list(range(102)),
        values={("val_loss", 29): 0.5, ("loss", 29): 30.0},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_timeline_cases(tmp_path: Path, case: Case) -> None:
    state = read_all_ways(tmp_path, case.data)
    assert state.metrics_history["step"].tolist() == case.rows
    assert [r.step for r in state.restarts if r.kind == "resumed"] == case.restarts
    for (name, step), want in case.values.items():
        got = col(state, name, step)
        assert got == want or (math.isnan(want) and math.isnan(got)), (name, step, got)
    for frame, steps in case.events.items():
        assert getattr(state, frame)["step"].tolist() == steps


def test_late_eval_line_with_run_start_header(tmp_path: Path) -> None:
    state = read_all_ways(tmp_path, with_header(CASES[0].data))
    assert len(state.metrics_history) == 1021 and state.restarts == ()
    assert (col(state, "loss", 1000), col(state, "val_loss", 1000)) == (1001.0, 0.5)


def test_late_nan_and_finite_values_follow_the_merge(tmp_path: Path) -> None:
    """A later finite value replaces an earlier logged NaN at the same step, and vice versa; a
    later line without the field keeps the logged NaN."""
    data = (
        run_start()
        + metrics(range(10))
        + obj_line({"event_type": "metric", "step": 3, "grad_norm": "NaN"})
        + obj_line({"event_type": "metric", "step": 3, "grad_norm": 0.5})  # finite wins
        + obj_line({"event_type": "metric", "step": 4, "grad_norm": 0.5})
        + obj_line({"event_type": "metric", "step": 4, "grad_norm": "Infinity"})  # inf wins
        + obj_line({"event_type": "metric", "step": 5, "grad_norm": "NaN"})
        + obj_line({"event_type": "metric", "step": 5, "val_loss": 0.1})  # keeps the NaN
        + (b'{"step": 6, "loss": NaN}\n')
        + m(6, loss=2.0)  # a bare token, then finite
        + m(7, loss=2.0)
        + b'{"step": 7, "loss": NaN}\n'  # finite, then a logged NaN
        + metrics(range(10, 12))
    )
    state = read_all_ways(tmp_path, data)
    nf = state.nonfinite
    assert list(zip(nf["step"], nf["column"], strict=True)) == [
        (4, "grad_norm"),
        (5, "grad_norm"),
        (7, "loss"),
    ]
    assert col(state, "grad_norm", 3) == 0.5 and col(state, "grad_norm", 4) == math.inf
    assert math.isnan(col(state, "grad_norm", 5)) and col(state, "val_loss", 5) == 0.1
    assert col(state, "loss", 6) == 2.0 and math.isnan(col(state, "loss", 7))


def test_in_order_appends_stay_incremental_and_late_lines_rebuild(tmp_path: Path) -> None:
    with RunWatcher(tmp_path, use_watchdog=False, poll_interval_s=0.0) as w:

        def append_and_build(data: bytes) -> pd.DataFrame:
            with open(tmp_path / LOG, "ab") as fh:
                fh.write(data)
            return w.refresh().metrics_history

        frames = [append_and_build(run_start() + metrics(range(100)))]
        frames.append(append_and_build(metrics(range(100, 200))))
        frames.append(append_and_build(metrics(range(200, 300))))
        assert np.shares_memory(frames[-1]["loss"].to_numpy(), frames[-2]["loss"].to_numpy())
        kept = frames[-1].copy(deep=True)
        late = append_and_build(m(150, val_loss=0.5, loss=151.0) + metrics(range(300, 310)))
        assert len(late) == 310 and col(w.state, "val_loss", 150) == 0.5
        pd.testing.assert_frame_equal(frames[-1], kept)  # the earlier frame is unchanged
        # in order again: incremental again (the first append after a full build grows the
        # exactly-full arrays once, later ones write into the spare room)
        grown = append_and_build(metrics(range(310, 320)))
        after = append_and_build(metrics(range(320, 330)))
        assert np.shares_memory(after["loss"].to_numpy(), grown["loss"].to_numpy())
        assert len(after) == 330 and col(w.state, "val_loss", 150) == 0.5
        # two lines at one new step in one append: merged on the incremental path
        tail = append_and_build(m(330, lr=0.1) + m(330, val_loss=0.25) + m(331))
        assert np.shares_memory(tail["loss"].to_numpy(), after["loss"].to_numpy())
        assert len(tail) == 332 and (col(w.state, "lr", 330), col(w.state, "val_loss", 330)) == (
            0.1,
            0.25,
        )
        assert_same_frames(w.state, load_training_state(tmp_path))


def test_trainer_and_evaluator_threads_keep_every_row(tmp_path: Path) -> None:
    """A training loop and an evaluator thread logging through one CurriculumLogger over 20,000
    steps: every step keeps its loss, every evaluated step its val_loss, no restart."""
    steps, every = 20_000, 100
    todo: queue.Queue[int | None] = queue.Queue()
    logger = CurriculumLogger(tmp_path, console_log=False, capture_gpu_memory=False)

    def evaluator() -> None:
        while (step := todo.get()) is not None:
            logger.log_metrics(step, val_loss=1.0 / (step + 1))

    thread = threading.Thread(target=evaluator)
    thread.start()
    try:
        for step in range(steps):
            logger.log_metrics(step, loss=float(step))
            if step % every == 0:
                todo.put(step)
    finally:
        todo.put(None)
        thread.join()
        logger.close()
    state = load_training_state(tmp_path)
    frame = state.metrics_history
    assert len(frame) == steps and state.restarts == ()
    assert frame["loss"].tolist() == [float(s) for s in range(steps)]
    evaluated = frame[frame["val_loss"].notna()]
    assert evaluated["step"].tolist() == list(range(0, steps, every))
    assert np.allclose(evaluated["val_loss"], 1.0 / (evaluated["step"] + 1))


# -- property: every field of every line survives -------------------------------------------
VALUES = st.one_of(
    st.integers(-1000, 1000).map(float), st.sampled_from(["NaN", "Infinity", "-Infinity"])
)


@st.composite
def writers_stream(draw: Callable[..., Any]) -> list[dict[str, Any]]:
    """Lines of 1-4 writers, each with non-decreasing steps and its own fields (plus one field all
    share), interleaved at random; some lines are growth events."""
    n = draw(st.integers(1, 4))
    queues: list[list[dict[str, Any]]] = []
    for w in range(n):
        steps = sorted(draw(st.lists(st.integers(0, 30), max_size=12)))
        lines = []
        for s in steps:
            if draw(st.integers(0, 9)) == 0:
                lines.append(
                    {
                        "event_type": "growth",
                        "step": s,
                        "region": f"w{w}",
                        "neurons_added": 1,
                        "new_total": 1,
                    }
                )
                continue
            names = draw(
                st.lists(st.sampled_from([f"w{w}a", f"w{w}b", "shared"]), min_size=1, unique=True)
            )
            lines.append({"event_type": "metric", "step": s, **{k: draw(VALUES) for k in names}})
        queues.append(lines)
    out: list[dict[str, Any]] = []
    while any(queues):
        pick = draw(st.sampled_from([i for i, q in enumerate(queues) if q]))
        out.append(queues[pick].pop(0))
    return out


def _number(value: Any) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(value, value)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stream=writers_stream(), cuts=st.lists(st.integers(0, 100_000), max_size=5))
def test_property_frames_hold_every_field_of_every_line(
    stream: list[dict[str, Any]], cuts: list[int]
) -> None:
    """For any interleaving of writers with non-decreasing steps each, in a log that starts with
    a ``run_start`` (as the logger writes; without one an interleaving cannot be told from a
    legacy resume): one row per step that has a metric line; each field holds the value of the
    last line at that step that carried it (file order); every growth line is kept; ``nonfinite``
    lists exactly the (step, field) whose final value is non-finite; reading in pieces agrees."""
    expected: dict[int, dict[str, float]] = {}
    growths: list[tuple[int, str]] = []
    for obj in stream:
        if obj["event_type"] == "growth":
            growths.append((obj["step"], obj["region"]))
        else:
            row = expected.setdefault(obj["step"], {})
            row.update({k: _number(v) for k, v in obj.items() if k not in ("event_type", "step")})
    data = run_start() + b"".join(obj_line(o) for o in stream)
    with TemporaryDirectory() as tmp:
        (Path(tmp) / LOG).write_bytes(data)
        state = load_training_state(tmp)
        live = DirectoryReader(Path(tmp, "live"), min_block_bytes=0, wall_clock=lambda: 1.0)
        Path(tmp, "live").mkdir()
        points = sorted({c % (len(data) + 1) for c in cuts})
        for a, b in zip([0, *points], [*points, len(data)], strict=True):
            with open(Path(tmp, "live", LOG), "ab") as fh:
                fh.write(data[a:b])
            live.update()
        assert_same_frames(live.state(1), state)
    frame = state.metrics_history
    assert frame["step"].tolist() == sorted(expected)
    assert state.restarts == ()
    nonfinite = set()
    for step, row in expected.items():
        for name, want in row.items():
            got = col(state, name, step)
            assert got == want or (math.isnan(want) and math.isnan(got)), (step, name, got, want)
            if not math.isfinite(want):
                nonfinite.add((step, name))
        for name in set(frame.columns) - set(row) - {"step", "rank", "wall_time"}:
            assert math.isnan(col(state, name, step))  # a field no line at this step carried
    nf = state.nonfinite
    assert set(zip(nf["step"], nf["column"], strict=True)) == nonfinite
    g = state.growth_events
    assert list(zip(g["step"], g["region"], strict=True)) == sorted(growths, key=lambda t: t[0])
