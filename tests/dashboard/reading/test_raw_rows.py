"""Raw rows kept aside read back as the concatenation of what was added, spilled or not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.reading.chunks import Chunk, concat_column
from dashboard.reading.raw_rows import RawRows

pytestmark = pytest.mark.usefixtures("spill_mode")

BATCH = st.tuples(st.integers(0, 700), st.booleans(), st.booleans())


@settings(max_examples=30, deadline=None)
@given(batches=st.lists(BATCH, min_size=1, max_size=8))
def test_rows_read_back_as_added(batches: list[tuple[int, bool, bool]]) -> None:
    rows, added, seq = RawRows(), [], 0
    for k, with_lr, with_name in batches:
        cols: dict[str, np.ndarray] = {
            "step": np.arange(seq, seq + k, dtype=np.int64),
            "loss": np.linspace(0.0, 1.0, k),
        }
        if with_lr:
            cols["lr"] = np.full(k, 0.5)
        if with_name:
            cols["name"] = np.array([f"r{i}" for i in range(k)], dtype=object)
        rows.add(cols, k)
        rows.release()
        added.append(Chunk(k, cols))
        seq += k
    got = rows.chunk()
    assert got.n == seq
    dtypes = {"step": "int64", "loss": "float64", "lr": "float64", "name": "str"}
    for col in got.cols:
        want = concat_column(tuple(added), col, dtypes[col])
        if dtypes[col] == "float64":
            np.testing.assert_array_equal(got.cols[col].view(np.int64), want.view(np.int64))
        else:
            assert got.cols[col].tolist() == want.tolist()
    assert set(got.cols) == {c for chunk in added for c in chunk.cols}
