"""``extra_metric_columns`` searching from the end equals counting every value of every column."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from page_helpers import read_in_parts

from dashboard.analysis import series
from dashboard.analysis.series import CARD_METRICS, extra_metric_columns, rank_frame, ranks
from dashboard.reading.forget import parts
from dashboard.reading.fork import can_fork
from dashboard.reading.spill import Buffers, SpillPolicy


def _counted(metrics: pd.DataFrame, logged: set[str]) -> list[str]:
    """The definition, the slow way: count every value of every column."""
    counts = metrics.count()
    return [
        str(c)
        for c, dtype in metrics.dtypes.items()
        if str(c) not in {"step", "rank", "wall_time", *(name for name, _ in CARD_METRICS)}
        and not str(c).startswith(("neuron_counts.", "capacity_by_region."))
        and pd.api.types.is_numeric_dtype(dtype)
        and (str(c) in logged or counts[c] > 0)
    ]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 3_000),
    where=st.lists(st.one_of(st.none(), st.integers(0, 2_999)), min_size=1, max_size=5),
    logged=st.sets(st.sampled_from(["m0", "m1", "m2"]), max_size=2),
)
def test_search_from_the_end_equals_counting(
    rows: int, where: list[int | None], logged: set[str]
) -> None:
    frame = {"step": np.arange(rows), "loss": np.linspace(1.0, 0.1, rows)}
    for i, at in enumerate(where):  # one value at ``at`` (None: a column without any value)
        column = np.full(rows, math.nan)
        if at is not None:
            column[at % rows] = 1.0
        frame[f"m{i}"] = column
    frame["neuron_counts.v1"] = np.ones(rows)
    metrics = pd.DataFrame(frame)
    assert extra_metric_columns(metrics, logged=logged) == _counted(metrics, logged)


@pytest.mark.parametrize("part", [None, 1000])
@settings(max_examples=30, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(1, 40_000), st.integers(0, 2)), min_size=1, max_size=8))
def test_ranks_of_an_appended_column_equal_a_fresh_scan(
    steps: list[tuple[int, int]], part: int | None
) -> None:
    """The reader's frames view the first rows of a buffer that only grows at its end: the rank
    range kept across calls (only new rows scanned) equals a scan of the whole column."""
    with read_in_parts(part):
        buffer = np.zeros(70_000 + sum(n for n, _ in steps), dtype=np.int64)
        n = 70_000  # past the size from which the scan is kept
        frames = []
        for added, rank in steps:
            buffer[n : n + added] = rank
            n += added
            frame = pd.DataFrame({"step": np.arange(n), "rank": buffer[:n]}, copy=False)
            frames.append(frame)
            want = sorted(int(r) for r in np.unique(buffer[:n]))
            assert ranks(frame) == want
            for r in (0, 1, 2):
                assert (
                    rank_frame(frame, r)["step"].tolist()
                    == np.flatnonzero(buffer[:n] == r).tolist()
                )
        assert ranks(frames[0]) == sorted(
            int(r) for r in np.unique(frames[0]["rank"])
        )  # an older one


def test_a_rewritten_buffer_keeps_the_rank_range_of_the_rows_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A late line or a resume rewrites a spilled table from some step on (the file forks and
    the frame gets a new buffer): the rank range of the blocks before is carried over, so only
    the rows from there are read again; both buffers keep their own answer."""
    if not can_fork():
        pytest.skip("no mmap at an address here")
    rows = 10 * 65_536 + 123
    buffers = Buffers(SpillPolicy(tmp_path, min_bytes=0, recent_rows=0))
    buffers.grow(2 * rows, 0)
    buffers.add("rank", np.dtype("int64"), rows)
    buffers.ensure(rows, 0)
    buffers.arrays["rank"][:rows] = 0
    old = pd.DataFrame({"rank": buffers.arrays["rank"][:rows]}, copy=False)
    assert ranks(old) == [0]
    read: list[int] = []

    def counted(start: int, stop: int, *arrays: np.ndarray, **kwargs: Any) -> Any:
        read.append(stop - start)
        return parts(start, stop, *arrays, **kwargs)

    monkeypatch.setattr(series, "parts", counted)
    for at, rank, want in ((rows - 1_000, 0, [0]), (rows - 70_000, 1, [0, 1])):
        read.clear()
        buffers.fork(at, rows)
        buffers.arrays["rank"][at:rows] = rank
        new = pd.DataFrame({"rank": buffers.arrays["rank"][:rows]}, copy=False)
        assert ranks(new) == want
        assert rank_frame(new, 0) is new if want == [0] else len(rank_frame(new, 1)) == rows - at
        assert sum(read) <= (rows - at) + 2 * 65_536  # not the 10 blocks before
        assert ranks(old) == [0] and rank_frame(old, 0) is old  # the old view: its own rows
