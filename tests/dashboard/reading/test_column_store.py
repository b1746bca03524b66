"""ColumnStore's chunk list: merging keeps the small chunks few whatever the append sizes (so a
refresh's cost does not grow with history), copies a row only a few times, and never changes
what a snapshot shows."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.reading import chunks as frames
from dashboard.reading import column_store
from dashboard.reading.column_store import ColumnStore

# each test runs with the buffers in memory and spilled to disk (conftest)
pytestmark = pytest.mark.usefixtures("spill_mode")


def block(start: int, n: int, *, extra: bool = False) -> dict[str, np.ndarray]:
    steps = np.arange(start, start + n, dtype=np.int64)
    cols = {
        "step": steps,
        "wall_time": steps * 0.5,
        "rank": np.zeros(n, dtype=np.int64),
        "_seq": steps.copy(),
        "_src": np.zeros(n, dtype=np.int64),
        "loss": steps * 0.25,
    }
    if extra:
        cols["lr"] = np.full(n, 0.1)
    return cols


def small_chunks(store: ColumnStore) -> int:
    return sum(c.n < frames._SMALL_CHUNK for c in store._chunks)


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(
        st.one_of(st.integers(1, 40), st.integers(500, 3000), st.integers(20_000, 70_000)),
        min_size=1,
        max_size=120,
    ),
    extra_at=st.integers(0, 120),
)
def test_any_append_sizes_keep_few_small_chunks_and_the_same_rows(
    sizes: list[int], extra_at: int
) -> None:
    store = ColumnStore("metrics_history", dedup=True)
    start = 0
    snaps = []
    for i, n in enumerate(sizes):
        store.add_columns(n, block(start, n, extra=i >= extra_at))
        start += n
        assert store.rows == start
        assert small_chunks(store) <= 80  # (FANOUT - 1) * ln(SMALL_CHUNK), whatever the history
        if i % 17 == 0:
            snaps.append((store.snapshot(), start, i >= extra_at))
    frame = store.snapshot()()
    assert frame["step"].tolist() == list(range(start))
    np.testing.assert_array_equal(frame["loss"].to_numpy(), np.arange(start) * 0.25)
    for snap, rows, _ in snaps:
        old = snap()
        assert len(old) == rows and snap.rows == rows
        pd.testing.assert_frame_equal(old[["step", "loss"]], frame[["step", "loss"]].iloc[:rows])
    if extra_at < len(sizes):
        first = sum(sizes[:extra_at])
        assert frame["lr"].iloc[:first].isna().all() and (frame["lr"].iloc[first:] == 0.1).all()


def test_steady_appends_copy_each_row_under_three_times(monkeypatch: pytest.MonkeyPatch) -> None:
    copied = largest = 0
    merge = frames.merge_chunks

    def counting(chunks: list[frames.Chunk], dtypes: Mapping[str, str]) -> frames.Chunk:
        nonlocal copied, largest
        out = merge(chunks, dtypes)
        copied += out.n
        largest = max(largest, out.n)
        return out

    monkeypatch.setattr(column_store, "merge_chunks", counting)
    store = ColumnStore("metrics_history")
    for i in range(640):  # 640,000 rows in appends of 1,000, like a live run
        store.add_columns(1000, block(i * 1000, 1000))
    assert copied <= 3 * 640_000  # pairwise merging copied each row about 6.6 times
    assert largest <= frames._SMALL_CHUNK + 1000  # no merge much bigger than a closed chunk
    assert small_chunks(store) <= 2 * (frames._FANOUT - 1)
    assert len(store._chunks) <= 640_000 // frames._SMALL_CHUNK + 2 * frames._FANOUT


@pytest.mark.parametrize("loaded", [1000, 1337, 2048, 3001, 4095, 5000])
def test_appends_after_a_load_write_in_place(loaded: int) -> None:
    """A load leaves room for half its rows again: the live appends that follow write after
    the rows already handed out, in the same buffers, and never change them."""
    store = ColumnStore("metrics_history", dedup=True, fold_rows=64)
    for start in range(0, loaded, 100):
        store.add_columns(min(100, loaded - start), block(start, min(100, loaded - start)))
    store.commit()
    first = store.snapshot()()
    kept = first.copy(deep=True)
    steps = range(loaded, loaded + loaded // 2 - 10, 10)
    for step in steps:
        store.add_columns(10, block(step, 10))
        store.commit()
        frame = store.snapshot()()
        assert np.shares_memory(frame["loss"].to_numpy(), first["loss"].to_numpy())
    assert frame["step"].tolist() == list(range(loaded + 10 * len(steps)))
    pd.testing.assert_frame_equal(first, kept)
