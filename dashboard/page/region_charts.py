"""Altair charts of the brain regions: neurons per region over steps, latest capacity per region.

Pure functions from frames to charts (no Streamlit), down-sampled inside like every builder of
:mod:`dashboard.page.charts` (which re-exports them). Region names travel as data, never as field
names, and are cut at :data:`~dashboard.page.chart_base.LABEL_LIMIT` px in labels and legends
(whole in tooltips).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextlib import nullcontext
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from dashboard.analysis.change_points import ChangePoints, change_points
from dashboard.analysis.downsample import DEFAULT_MAX_POINTS, last_finite
from dashboard.analysis.series_pyramid import SeriesPyramid
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


def _change_points(values: np.ndarray) -> np.ndarray:
    """Positions where a step series changes (plus first and last): lossless for step lines."""
    if values.size <= 2:
        return np.arange(values.size)
    changed = np.flatnonzero(values[1:] != values[:-1]) + 1
    return np.unique(np.concatenate([[0], changed, [values.size - 1]]))


def _region_series(
    metrics: pd.DataFrame,
    growth: pd.DataFrame | None,
    kept: MutableMapping[str, ChangePoints] | None = None,
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(region, steps, counts) at the rows where each region's count changes (lossless for a
    step line): from the ``neuron_counts.<region>`` columns (through ``kept[column]`` when
    given, extended from appended rows), else from the growth events."""
    cols = [c for c in metrics.columns if str(c).startswith(_PREFIX)]
    series: list[tuple[str, np.ndarray, np.ndarray]] = []
    if cols:
        steps = metrics["step"].to_numpy()
        for c in cols:
            v = float_column(metrics, c)
            points = kept.setdefault(str(c), ChangePoints()) if kept is not None else None
            if points is None:
                pos = change_points(v)
                at_steps, at_values = steps[pos].astype(np.int64), v[pos]
            else:
                with points.lock:
                    at_steps, at_values = points.series(v, steps)
            series.append((str(c)[len(_PREFIX) :], at_steps, at_values))
    elif growth is not None and not growth.empty:
        for region, g in growth.groupby("region", sort=False):
            v = float_column(g, "new_total")
            keep = _change_points(v)
            series.append((str(region), g["step"].to_numpy(dtype=np.int64)[keep], v[keep]))
    return [s for s in series if s[1].size]


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
    for region, steps, values in series:
        if values.size > per_series:
            points = None if kept is None else kept.get(f"{_PREFIX}{region}")
            steps, values = _thinned(steps, values, per_series, points)
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


def _thinned(
    steps: np.ndarray, values: np.ndarray, budget: int, points: ChangePoints | None
) -> tuple[np.ndarray, np.ndarray]:
    """The first and last change point, and the min/max picks of a pyramid over the ones between
    (``points.drawn``, kept across refreshes: the changes between only ever grow at their end,
    so a refresh extends it from the new ones; a fresh pyramid without ``points``)."""
    pyramid = SeriesPyramid() if points is None else points.drawn
    with nullcontext() if points is None else points.lock:
        pyramid.update(values[1:-1], steps[1:-1])
        inner = pyramid.points(max(budget - 2, 6))
    return (
        np.concatenate([steps[:1], inner["step"], steps[-1:]]),
        np.concatenate([values[:1], inner["value"], values[-1:]]),
    )


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
