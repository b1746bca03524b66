"""The block parser (pyarrow fast path) against the per-line parser, case by case.

Every block the fast path accepts must give exactly the rows the per-line parser gives; a block
it refuses is read line by line, so refusing is always safe. The cases below are the shapes the
fast path treats specially: an all-metric block (no gather), a mixed block (rows picked per kind),
columns present on some rows only, ints in a float column, event fields around metric rows, and
tables of several chunks.
"""

from __future__ import annotations

import json
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pyarrow as pa
import pyarrow.json as paj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reader_helpers import assert_same_frames, consolidation, growth, line, metric, run_start

from dashboard.reading.arrow_fastpath import _all_metric, parse_block
from dashboard.reading.directory import DirectoryReader

SMALL_BLOCKS = paj.ReadOptions(use_threads=False, block_size=2048)  # many chunks per table


def legacy(step: int, **extra: Any) -> bytes:
    """A metric line as older trainers wrote it: no event_type."""
    obj = json.loads(metric(step, **extra))
    del obj["event_type"]
    return line(obj)


def compare(
    lines: list[bytes], cuts: tuple[int, ...] | list[int] = (), *, read_options: Any = None
) -> int:
    """Read ``lines`` (in updates cut at ``cuts``) with the block parser and line by line;
    assert the same result; return how many blocks the fast path took."""
    taken = 0

    def counting(data: bytes, **kwargs: Any) -> Any:
        nonlocal taken
        if read_options is not None:
            kwargs["read_options"] = read_options
        parsed = parse_block(data, **kwargs)
        taken += parsed is not None
        return parsed

    points = sorted({c % (len(lines) + 1) for c in cuts})
    with TemporaryDirectory() as tmp:
        log = Path(tmp, "training_log.jsonl")
        log.write_bytes(b"")
        fast = DirectoryReader(
            tmp, min_block_bytes=0, block_parser=counting, wall_clock=lambda: 1.0
        )
        slow = DirectoryReader(tmp, block_parser=None, wall_clock=lambda: 1.0)
        take_block = fast._rules.take_block

        def counting_take(*args: Any) -> bool:  # a parsed block the timeline rules refuse
            nonlocal taken
            took = take_block(*args)
            taken -= not took
            return took

        fast._rules.take_block = counting_take  # type: ignore[method-assign]
        for a, b in zip([0, *points], [*points, len(lines)], strict=True):
            with open(log, "ab") as fh:
                fh.write(b"".join(lines[a:b]))
            fast.update()
            slow.update()
        assert_same_frames(fast.state(1), slow.state(1))
        assert fast.bad_line_count == slow.bad_line_count
        assert fast.restarts == slow.restarts
    return taken


ACCEPTED = {
    "all metric": [metric(s) for s in range(6)],
    "all metric, no event_type": [legacy(s) for s in range(6)],
    "mixed kinds": [metric(0), growth(1), metric(2), consolidation(2, "REM"), metric(3)],
    "events only": [growth(1), consolidation(2), growth(3, region="hippocampus")],
    "extra column on some rows": [metric(0), metric(1, grad_norm=0.5), metric(2)],
    "extra column on one metric row of a mixed block": [metric(0), growth(1), metric(2, lr=0.1)],
    "ints in a float column": [metric(0, lr=1), metric(1, lr=0.5), metric(2, lr=2)],
    "an int-only column": [metric(0, gpu_mem_bytes=2**40), metric(1, gpu_mem_bytes=3)],
    "a region on some rows": [
        metric(0),
        metric(1, neuron_counts={"cortex": 3, "new": 4}),
        metric(2),
    ],
    "nested column absent on some metric rows": [metric(0), metric(1, capacity_by_region=None)],
    "no wall_time on some rows": [
        metric(0),
        line({"event_type": "metric", "step": 1, "loss": 0.5}),
    ],
    "no wall_time at all": [line({"step": 1, "loss": 0.5}), line({"step": 2, "loss": 0.25})],
    "growth without reason or with null": [
        growth(1),
        line(
            {
                "event_type": "growth",
                "step": 2,
                "region": "cortex",
                "neurons_added": 1,
                "new_total": 2,
            }
        ),
        growth(3, reason=None),
    ],
    "event rows with extra fields": [metric(0), growth(1, loss=0.5, note="x"), metric(2)],
    "same step on several lines": [metric(1), growth(1), metric(1, loss=0.25)],
}

REFUSED = {
    "a negative neuron count": [metric(0), metric(1, neuron_counts={"cortex": -1})],
    "a bare NaN on an event row": [
        metric(0),
        b'{"event_type": "growth", "step": 1, "wall_time": NaN, '
        b'"region": "c", "neurons_added": 1, "new_total": 2}\n',
    ],
    "an empty region": [metric(0), growth(1, region="")],
    "a missing count": [
        metric(0),
        line({"event_type": "growth", "step": 1, "region": "c", "new_total": 2}),
    ],
    "a null count": [growth(1, neurons_added=None), metric(2)],
    "a negative event count": [growth(1, neurons_added=-1), metric(2)],
    "an unknown sleep stage": [metric(0), consolidation(1, "DEEP")],
    "a stage event": [metric(0), line({"event_type": "stage", "step": 1, "stage": 1, "name": "x"})],
    "a string on a metric row": [metric(0), metric(1, note="x")],
    "event_type on some lines only": [metric(0), legacy(1)],
    "an event_type longer than metric": [metric(0), line({"event_type": "metricx", "step": 1})],
    "a rank": [metric(0, rank=1)],
    "a huge event count": [growth(1, new_total=2**60), metric(2)],
}


@pytest.mark.parametrize("lines", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_fast_path_takes_the_block_and_agrees(lines: list[bytes]) -> None:
    assert parse_block(b"".join(lines)) is not None
    assert compare(lines) == 1
    many = sorted(lines * 40, key=lambda raw: json.loads(raw)["step"])  # steps never go back
    assert compare(many, read_options=SMALL_BLOCKS) == 1  # a table of many chunks


@pytest.mark.parametrize("lines", REFUSED.values(), ids=REFUSED.keys())
def test_fast_path_refuses_and_the_line_parser_decides(lines: list[bytes]) -> None:
    assert parse_block(b"".join(lines)) is None
    compare(lines)


LATE = {
    "an evaluator's val_loss behind": [
        metric(10),
        metric(11),
        line({"event_type": "metric", "step": 5, "val_loss": 0.5}),
        metric(12),
    ],
    "a late consolidation": [metric(10), consolidation(4), metric(11)],
    "a late growth on a merged step": [metric(3), metric(10), growth(3), metric(3, lr=0.5)],
    "all behind the last block": [metric(2), metric(1, lr=0.25), metric(0)],
}


@pytest.mark.parametrize("lines", LATE.values(), ids=LATE.keys())
def test_lines_behind_take_the_fast_path_in_a_run_start_file(lines: list[bytes]) -> None:
    """Steps in any order are parsed; in a file with ``run_start`` the block is taken whole
    (no line-by-line fallback) and gives the rows the line parser gives."""
    assert parse_block(b"".join(lines)) is not None
    head = [run_start(0), metric(20), metric(21)]  # the lines come behind these
    assert compare([*head, *lines], [len(head)]) == 1


@pytest.mark.parametrize(
    ("blocks", "taken"),
    [
        ([[30, 31, 5, 32]], 1),  # one late line, closed by the next: merged, no restart
        ([[30, 5, 6, 7, 8, 31]], 1),  # four behind (RESUME_AFTER - 1), then past the top
        ([[30, 5, 6, 7, 8, 9, 31]], 0),  # five behind: the legacy rule decides (a restart)
        ([[30, 31, 5], [32]], 2),  # ends behind: the open run goes to the rule, then closes
        ([[3, 2, 1, 0]], 1),  # all behind the last block's top, left open
        ([[30, 3, 4], [5, 6, 7]], 1),  # an open run of two goes on to five: a restart
        ([[30, 3, 4], [5, 31]], 2),  # an open run of two, closed at three
    ],
)
def test_legacy_blocks_with_lines_behind(blocks: list[list[int]], taken: int) -> None:
    """In a legacy file, a block with lines behind is taken when no run of them (going on from
    the open one) could start a new timeline; either way both readers agree, restarts too."""
    lines, cuts = [legacy(20), legacy(21)], []
    for block in blocks:
        cuts.append(len(lines))
        lines += [legacy(s) for s in block]
    assert compare(lines, cuts) == 1 + taken  # the head block, then these


def test_a_negative_step_is_refused_in_any_order() -> None:
    data = metric(3) + line({"event_type": "metric", "step": -1, "loss": 0.5})
    assert parse_block(data) is None
    compare([run_start(0), metric(1), data], [2])


@pytest.mark.parametrize("events", [100, 5_000], ids=["one block", "several blocks"])
def test_one_block_is_read_on_this_thread_and_several_in_threads(events: int) -> None:
    """The default options: data of one 1 MiB block is read serially (no thread hand-off),
    a longer update with pyarrow's threads; both give the per-line parser's rows."""
    lines = [
        growth(s) if s % 97 == 0 else consolidation(s) if s % 89 == 0 else metric(s, lr=0.1)
        for s in range(events)
    ]
    assert (len(b"".join(lines)) > 1 << 20) is (events > 100)
    assert compare(lines) == 1


def test_all_metric_reads_sliced_chunks() -> None:
    assert _all_metric(pa.chunked_array([pa.array(["growth", "metric", "metric"]).slice(1)]))
    assert not _all_metric(pa.chunked_array([pa.array(["metric", "growth"]).slice(1)]))
    assert not _all_metric(
        pa.chunked_array([pa.array(["metricmetric", ""])])
    )  # same bytes, other cuts
    assert _all_metric(pa.chunked_array([pa.array(["metric"]), pa.array(["metric", "metric"])]))


ROW = st.one_of(
    st.just(("metric", {})),
    st.just(("metric", {"grad_norm": 0.5})),
    st.sampled_from([1, 0.25, 3]).map(lambda lr: ("metric", {"lr": lr})),
    st.just(("metric", {"neuron_counts": {"cortex": 7, "striatum": 2}})),
    st.just(("metric", {"capacity_by_region": None})),
    st.just(("growth", {})),
    st.just(("growth", {"reason": None})),
    st.just(("growth", {"loss": 0.125})),
    st.just(("consolidation", {})),
    st.just(("consolidation", {"stage": "REM"})),
    st.just(("legacy", {})),
    st.just(("metric", {"loss": "NaN"})),
)


def render(kind: str, step: int, extra: dict[str, Any]) -> bytes:
    if kind == "growth":
        return growth(step, **extra)
    if kind == "consolidation":
        return consolidation(step, **extra)
    return legacy(step, **extra) if kind == "legacy" else metric(step, **extra)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(ROW, st.integers(0, 2)), min_size=1, max_size=40),
    cuts=st.lists(st.integers(0, 40), max_size=3),
    small=st.booleans(),
)
def test_mostly_clean_streams_agree(
    rows: list[tuple[tuple[str, dict[str, Any]], int]], cuts: list[int], small: bool
) -> None:
    """Steps never go back here, so most blocks take the fast path (all-metric, mixed, legacy,
    with columns on some rows only, ints among floats), and a few fall back (a "NaN" string,
    event_type on some lines only): either way both readers agree."""
    lines, step = [], 0
    for (kind, extra), gap in rows:
        step += gap
        lines.append(render(kind, step, extra))
    compare(lines, cuts, read_options=SMALL_BLOCKS if small else None)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(ROW, st.integers(0, 30)), min_size=1, max_size=40),
    cuts=st.lists(st.integers(0, 41), max_size=3),
    small=st.booleans(),
    with_run_start=st.booleans(),
)
def test_streams_in_any_step_order_agree(
    rows: list[tuple[tuple[str, dict[str, Any]], int]],
    cuts: list[int],
    small: bool,
    with_run_start: bool,
) -> None:
    """Lines in any step order (evaluators, late events, several lines of one step, a legacy
    trainer going back): blocks with lines behind take the fast path where the timeline rules
    allow, and both readers agree on every row, merge and restart."""
    lines = [render(kind, step, extra) for (kind, extra), step in rows]
    compare(
        [run_start(0), *lines] if with_run_start else lines,
        cuts,
        read_options=SMALL_BLOCKS if small else None,
    )
