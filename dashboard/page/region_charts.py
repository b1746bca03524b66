"""Altair charts of the brain regions: neurons per region over steps, latest capacity per region.

Pure functions from frames to charts (no Streamlit), down-sampled inside like every builder of
:mod:`dashboard.page.charts` (which re-exports them). Region names travel as data, never as field
names, and are cut at :data:`~dashboard.page.chart_base.LABEL_LIMIT` px in labels and legends
(whole in tooltips).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from dashboard.analysis.change_points import ChangePoints
from dashboard.analysis.downsample import DEFAULT_MAX_POINTS, last_finite
from dashboard.page.chart_base import (
    LABEL_LIMIT,
    LINE_COLOR,
    NAN_COLOR,
    POINT_STATS,
    float_column,
    page_chart,
    unvalidated,
)
from dashboard.page.chart_templates import templated

__all__ = ["capacity_by_region_chart", "latest_region_capacity", "neuron_count_chart"]

_PREFIX = "neuron_counts."


def _region_series(
    metrics: pd.DataFrame,
    growth: pd.DataFrame | None,
    kept: MutableMapping[str, ChangePoints] | None = None,
) -> list[tuple[str, ChangePoints]]:
    """(region, its change points brought up to date) for each region with a count: from the
    ``neuron_counts.<region>`` columns (through ``kept[column]`` when given, extended from
    appended rows), else from the growth events' ``new_total``."""
    cols = [c for c in metrics.columns if str(c).startswith(_PREFIX)]
    series: list[tuple[str, ChangePoints]] = []
    if cols:
        steps = metrics["step"].to_numpy()
        for c in cols:
            if kept is None:
                points = ChangePoints()
            else:  # setdefault: one object per column when two sessions draw at once
                points = kept.get(str(c)) or kept.setdefault(str(c), ChangePoints())
            with points.lock:
                if points.advance(float_column(metrics, c), steps):
                    series.append((str(c)[len(_PREFIX) :], points))
    elif growth is not None and not growth.empty:
        for region, g in growth.groupby("region", sort=False):
            points = ChangePoints()
            if points.advance(float_column(g, "new_total"), g["step"].to_numpy(dtype=np.int64)):
                series.append((str(region), points))
    return series


@unvalidated
def neuron_count_chart(
    metrics: pd.DataFrame,
    growth: pd.DataFrame | None = None,
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    kept: MutableMapping[str, ChangePoints] | None = None,
) -> alt.Chart | None:
    """Neurons per region over steps (step-after lines) from ``neuron_counts.<region>`` columns,
    or from the growth events' ``new_total`` when the metric lines carry no counts.

    The budget ``max_points`` is shared by all regions (at least 6 points each). ``kept`` (the
    caller's :class:`~dashboard.analysis.change_points.ChangePoints` per column, kept across
    refreshes) makes a growing run cost O(appended rows) instead of O(history) per region.
    """
    series = _region_series(metrics, growth, kept)
    if not series:
        return None
    per_series = max(max_points // len(series), 6)
    parts = []
    for region, points in series:
        with points.lock:
            steps, values = points.points(per_series)
        parts.append((region, steps, values))
    sizes = [p[1].size for p in parts]
    data = pd.DataFrame(  # one frame from the joined arrays: no frame per region to concatenate
        {
            "step": np.concatenate([p[1] for p in parts]),
            "neurons": np.concatenate([p[2] for p in parts]),
            "region": np.repeat(np.array([p[0] for p in parts], dtype=object), sizes),
        }
    )
    POINT_STATS.record(len(data), max(sizes))
    return templated(_neuron_lines, len(data) < 200, {"regions": data})


def _neuron_lines(points: bool, data: Mapping[str, Any]) -> alt.Chart:
    """:func:`neuron_count_chart`'s chart (dots on the lines when ``points``)."""
    legend = alt.Legend(
        orient="bottom", direction="horizontal", columns=3, labelLimit=LABEL_LIMIT, title=None
    )
    chart = (
        alt.Chart(data["regions"])
        .mark_line(interpolate="step-after", point=points)
        .encode(
            x=alt.X("step:Q", title="Step"),
            y=alt.Y("neurons:Q", title="Neurons"),
            color=alt.Color("region:N", title="Region", legend=legend),
            tooltip=[
                alt.Tooltip("region:N", title="Region"),
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("neurons:Q", format=",", title="Neurons"),
            ],
        )
        .properties(height=300)
    )
    return page_chart(chart)


def latest_region_capacity(metrics: pd.DataFrame) -> pd.DataFrame:
    """The latest finite ``capacity_by_region.<r>`` per region: columns ``region``, ``capacity``."""
    prefix = "capacity_by_region."
    rows = []
    for c in metrics.columns:
        if str(c).startswith(prefix):
            latest = last_finite(float_column(metrics, c))
            if latest is not None:
                rows.append({"region": str(c)[len(prefix) :], "capacity": latest})
    return pd.DataFrame(rows, columns=["region", "capacity"])


@unvalidated
def capacity_by_region_chart(
    metrics: pd.DataFrame, *, threshold: float = 0.95
) -> alt.LayerChart | None:
    """Horizontal bars of the latest capacity per region (names read left to right, cut at
    ``LABEL_LIMIT`` px with the full name in the tooltip), red above ``threshold``, a rule at it,
    the value at each bar's end. A fixed band per region (not a fixed chart height) and no label
    culling, so every region's name shows however many there are."""
    data = latest_region_capacity(metrics)
    if data.empty:
        return None
    POINT_STATS.record(len(data), len(data))
    data["colour"] = np.where(data["capacity"] > threshold, NAN_COLOR, LINE_COLOR)
    return templated(_capacity_bars, threshold, {"bars": data})


def _capacity_bars(threshold: float, data: Mapping[str, Any]) -> alt.LayerChart:
    """:func:`capacity_by_region_chart`'s chart: bars, their values, the rule at ``threshold``."""
    y = alt.Y(
        "region:N",
        title=None,
        sort=None,
        axis=alt.Axis(labelLimit=LABEL_LIMIT, labelOverlap=False, labelFontSize=12),
    )
    bars = (
        alt.Chart(data["bars"])
        .mark_bar(size=18)
        .encode(
            y=y,
            x=alt.X(
                "capacity:Q",
                title="Capacity",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            # the colour as data (scale=None: the value is the colour), not alt.condition
            color=alt.Color("colour:N", scale=None, legend=None),
            tooltip=[
                alt.Tooltip("region:N", title="Region"),
                alt.Tooltip("capacity:Q", format=".1%", title="Capacity"),
            ],
        )
    )
    values = (
        alt.Chart(data["bars"])
        .mark_text(align="left", dx=4, fontSize=11)
        .encode(y=y, x=alt.X("capacity:Q"), text=alt.Text("capacity:Q", format=".1%"))
    )
    rule = (
        alt.Chart(pd.DataFrame({"threshold": [threshold]}))
        .mark_rule(color=NAN_COLOR, strokeDash=[4, 4])
        .encode(x="threshold:Q")
    )
    return page_chart(alt.LayerChart(layer=[bars, values, rule], height=alt.Step(30)))
