"""``extra_metric_columns`` searching from the end equals counting every value of every column."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.analysis.series import CARD_METRICS, extra_metric_columns


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
