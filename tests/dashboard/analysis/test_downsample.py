"""Min/max down-sampling keeps first, last, extremes and every NaN/Inf within the budget."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dashboard.analysis.downsample import downsample

values_strategy = hnp.arrays(
    np.float64,
    st.integers(min_value=0, max_value=3_000),
    elements=st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.sampled_from([math.nan, math.inf, -math.inf]),
    ),
)


@settings(max_examples=60, deadline=None)
@given(values=values_strategy, max_points=st.integers(min_value=6, max_value=400))
def test_invariants(values: np.ndarray, max_points: int) -> None:
    out = downsample(values, max_points)
    kept = np.concatenate([out.finite, out.nonfinite])
    assert kept.size <= max_points
    assert np.unique(kept).size == kept.size
    assert np.isfinite(values[out.finite]).all()
    assert not np.isfinite(values[out.nonfinite]).any()
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size:
        fin = values[finite]
        assert finite[0] in out.finite and finite[-1] in out.finite
        assert values[out.finite].max() == fin.max()
        assert values[out.finite].min() == fin.min()
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        assert bad[0] in out.nonfinite and bad[-1] in out.nonfinite
        if bad.size <= max_points // 2 - 1:
            assert set(bad.tolist()) <= set(out.nonfinite.tolist())


def test_small_series_is_kept_whole() -> None:
    out = downsample(np.arange(10.0), 5000)
    assert out.finite.tolist() == list(range(10)) and out.nonfinite.size == 0


def test_million_points_keep_a_single_spike_and_nan() -> None:
    y = np.sin(np.linspace(0, 100, 1_000_000))
    y[654_321] = 1e9
    y[999_000] = math.nan
    out = downsample(y, 5000)
    assert out.size <= 5000
    assert 654_321 in out.finite and 999_000 in out.nonfinite
    assert 999_999 in out.finite and 0 in out.finite


def test_frame_split() -> None:
    # (the frame-level wrapper nothing but this test used is gone: the same split, by position)
    frame = pd.DataFrame({"step": np.arange(20), "loss": [1.0] * 19 + [math.nan]})
    picked = downsample(frame["loss"].to_numpy(dtype=np.float64), 8)
    line, markers = frame.iloc[picked.finite], frame.iloc[picked.nonfinite]
    assert len(line) + len(markers) <= 8
    assert markers["step"].tolist() == [19]
    assert line["step"].iloc[0] == 0 and line["step"].iloc[-1] == 18


def test_too_small_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 6"):
        downsample([1.0, 2.0], 3)
