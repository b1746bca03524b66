"""The kept chart specs and the pyramid-fed metric chart draw what a fresh build draws."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.analysis.series_pyramid import SeriesPyramid
from dashboard.page import chart_specs, charts


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    loss = 2.0 + rng.normal(size=n)
    loss[rng.integers(0, n, max(1, n // 50))] = math.nan  # lines without a loss
    loss[0] = 1.0
    return pd.DataFrame({"step": np.arange(n, dtype=np.int64) * 10, "loss": loss})


def _line(chart: object) -> pd.DataFrame:
    return chart.data.reset_index(drop=True)  # type: ignore[attr-defined]


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 3_000), min_size=1, max_size=4),
    smoothing=st.sampled_from([0.0, 0.6, 0.99]),
    max_points=st.integers(40, 600),
)
def test_a_pyramid_grown_over_appends_draws_the_fresh_chart(
    sizes: list[int], smoothing: float, max_points: int
) -> None:
    whole = _frame(sum(sizes), seed=len(sizes))
    grown = SeriesPyramid(smoothing)
    end = 0
    for size in sizes:
        end += size
        chart = charts.metric_chart(
            whole.iloc[:end], "loss", smoothing=smoothing, max_points=max_points, pyramid=grown
        )
    fresh = charts.metric_chart(
        whole, "loss", smoothing=smoothing, max_points=max_points, pyramid=SeriesPyramid(smoothing)
    )
    assert chart is not None and fresh is not None
    got, want = _line(chart), _line(fresh)
    assert list(got.columns) == list(want.columns)
    assert got["step"].tolist() == want["step"].tolist()
    np.testing.assert_allclose(got.to_numpy(dtype=float), want.to_numpy(dtype=float), rtol=1e-9)
    plain = charts.metric_chart(whole, "loss", smoothing=smoothing, max_points=max_points)
    assert plain is not None
    line = _line(plain)  # the same promises as the down-sampled chart: ends and extremes
    assert len(got) <= max(max_points, 12)
    assert got["step"].iloc[0] == line["step"].iloc[0]
    assert got["step"].iloc[-1] == line["step"].iloc[-1]
    assert got["value"].max() == line["value"].max() and got["value"].min() == line["value"].min()


def test_a_kept_spec_is_built_once_per_key() -> None:
    chart_specs.clear()
    frame = _frame(500, seed=1)
    built: list[int] = []

    def build() -> object:
        built.append(1)
        return charts.metric_chart(frame, "loss")

    first = chart_specs.chart_spec(("run", 1, "loss"), build)  # type: ignore[arg-type]
    again = chart_specs.chart_spec(("run", 1, "loss"), build)  # type: ignore[arg-type]
    assert first is again and built == [1]
    assert first is not None and first["datasets"]  # the data travels with the spec
    assert chart_specs.chart_spec(("run", 2, "loss"), lambda: None) is None
    chart_specs.clear()


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 2_000), min_size=1, max_size=4),
    gaps=st.booleans(),
    rate=st.sampled_from([0.01, 0.3]),  # 0.3: more changes than the budget, so thinned
)
def test_kept_change_points_draw_the_fresh_neuron_chart(
    sizes: list[int], gaps: bool, rate: float
) -> None:
    n = sum(sizes)
    rng = np.random.default_rng(n)
    frame = pd.DataFrame({"step": np.arange(n, dtype=np.int64)})
    for k, region in enumerate(("cortex", "hippocampus")):
        counts = (1000 + k + np.cumsum(rng.random(n) < rate)).astype(np.float64)
        if gaps:
            counts[rng.random(n) < 0.1] = math.nan  # lines without this region's count
        frame[f"neuron_counts.{region}"] = counts
    kept: dict[str, object] = {}
    end = 0
    for size in sizes:
        end += size
        chart = charts.neuron_count_chart(frame.iloc[:end], max_points=300, kept=kept)  # type: ignore[arg-type]
    fresh = charts.neuron_count_chart(frame, max_points=300)
    assert chart is not None and fresh is not None
    pd.testing.assert_frame_equal(_line(chart), _line(fresh))
