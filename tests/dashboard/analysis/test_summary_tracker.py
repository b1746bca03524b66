"""The run page's summary per metric, kept across refreshes (SummaryTracker), equals a fresh
summary of the whole column after every append, late line or rewrite."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from page_helpers import read_in_parts

from dashboard.analysis.metric_summary import SummaryTracker, _summary

_VALUES = st.one_of(
    st.floats(-5, 5, allow_nan=False, width=32),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0]),  # ties and non-finite rows
)
_STEP = st.lists(_VALUES, min_size=0, max_size=12)
# each refresh: rows appended (most often), or the whole column rewritten (a cut / late line)
_REFRESH = st.tuples(st.sampled_from(["append", "append", "append", "rewrite"]), _STEP)


@pytest.mark.parametrize("part", [None, 3])  # 3: a rewrite is summarised in parts, joined
@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(["loss", "performance", "firing_rate"]),
       refreshes=st.lists(_REFRESH, min_size=1, max_size=8))  # fmt: skip
def test_tracker_equals_a_fresh_summary(
    name: str, refreshes: list[tuple[str, list[float]]], part: int | None
) -> None:
    with read_in_parts(part):
        _check_tracker(name, refreshes)


def _check_tracker(name: str, refreshes: list[tuple[str, list[float]]]) -> None:
    tracker = SummaryTracker()
    buffer = np.empty(200, dtype=np.float64)  # a growing frame: views of one buffer
    steps = np.arange(200, dtype=np.int64) * 10
    n = 0
    for kind, rows in refreshes:
        if kind == "rewrite":
            buffer = np.empty(200, dtype=np.float64)  # a rebuilt table: new memory
            n = 0
            steps = steps + 1
        buffer[n : n + len(rows)] = rows
        n += len(rows)
        got = tracker.update(name, steps[:n], buffer[:n])
        assert got == _summary(name, steps[:n], buffer[:n])


def test_a_copied_column_that_only_grew_is_extended() -> None:
    tracker = SummaryTracker()
    values = np.array([3.0, 1.0, 2.0])
    steps = np.array([0, 1, 2])
    tracker.update("loss", steps, values)
    longer = np.array([3.0, 1.0, 2.0, 1.0, 0.5])  # a copy (other memory), same prefix
    got = tracker.update("loss", np.arange(5), longer)
    assert got.best == 0.5 and got.best_step == 4 and got.previous == 1.0 and got.count == 5
    assert got == _summary("loss", np.arange(5), longer)
