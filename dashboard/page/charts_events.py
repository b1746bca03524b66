"""Charts of what happens beside the metric curves: the consolidation (sleep replay) timeline and GPU memory use against the device total. Pure Altair builders, down-sampled like the metric charts; :mod:`dashboard.page.charts` re-exports them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from dashboard.analysis.downsample import DEFAULT_MAX_POINTS, downsample
from dashboard.page.chart_base import (
    POINT_STATS,
    float_column,
    page_chart,
    unvalidated,
)
from dashboard.page.chart_templates import templated

__all__ = ["consolidation_chart", "gpu_memory_chart"]


_GIB = 1024**3


@unvalidated
def consolidation_chart(
    events: pd.DataFrame, *, max_points: int = DEFAULT_MAX_POINTS
) -> alt.Chart | None:
    """Consolidation events over steps: patterns replayed, coloured by sleep stage (NREM/REM)."""
    if events is None or events.empty:
        return None
    data = events[["step", "sleep_stage", "patterns_replayed", "duration_steps"]]
    if len(data) > max_points:
        data = data.iloc[downsample(float_column(data, "patterns_replayed"), max_points).finite]
    POINT_STATS.record(len(data), len(data))
    return templated(_consolidation_points, (), {"events": data})


def _consolidation_points(shape: object, data: Mapping[str, Any]) -> alt.Chart:
    """:func:`consolidation_chart`'s chart."""
    return page_chart(
        alt.Chart(data["events"])
        .mark_circle(size=45, opacity=0.8)
        .encode(
            x=alt.X("step:Q", title="Step"),
            y=alt.Y("patterns_replayed:Q", title="Patterns replayed"),
            color=alt.Color(
                "sleep_stage:N",
                title="Sleep stage",
                scale=alt.Scale(domain=["NREM", "REM"], range=["#4c72b0", "#dd8452"]),
            ),
            tooltip=[
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("sleep_stage:N", title="Stage"),
                alt.Tooltip("patterns_replayed:Q", format=",", title="Patterns"),
                alt.Tooltip("duration_steps:Q", format=",", title="Duration (steps)"),
            ],
        )
        .properties(height=260)
    )


@unvalidated
def gpu_memory_chart(
    metrics: pd.DataFrame, *, max_points: int = DEFAULT_MAX_POINTS
) -> alt.Chart | None:
    """GPU memory in GiB over steps (used, and the total when ``gpu_mem_total_bytes`` exists),
    with a legend naming each line (colour and dash merged into one legend)."""
    if "gpu_mem_bytes" not in metrics.columns:
        return None
    steps = metrics["step"].to_numpy(dtype=np.int64)
    parts = []
    for column, series in (("gpu_mem_bytes", "used"), ("gpu_mem_total_bytes", "total")):
        if column not in metrics.columns:
            continue
        v = float_column(metrics, column)
        ok = np.isfinite(v)
        s, v = steps[ok], v[ok]
        if v.size:
            pos = downsample(v, max_points // 2).finite
            parts.append(pd.DataFrame({"step": s[pos], "gib": v[pos] / _GIB, "series": series}))
    if not parts:
        return None
    data = pd.concat(parts, ignore_index=True)
    POINT_STATS.record(len(data), max(len(p) for p in parts))
    return templated(_gpu_lines, (), {"memory": data})


def _gpu_lines(shape: object, data: Mapping[str, Any]) -> alt.Chart:
    """:func:`gpu_memory_chart`'s chart."""
    return page_chart(
        alt.Chart(data["memory"])
        .mark_line()
        .encode(
            x=alt.X("step:Q", title="Step"),
            y=alt.Y("gib:Q", title="GPU memory (GiB)"),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=["used", "total"]),
                legend=alt.Legend(orient="top", direction="horizontal"),
            ),
            strokeDash=alt.StrokeDash(
                "series:N", title=None, scale=alt.Scale(domain=["used", "total"])
            ),
            tooltip=[
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("series:N", title=""),
                alt.Tooltip("gib:Q", format=".2f", title="GiB"),
            ],
        )
        .properties(height=260)
    )
