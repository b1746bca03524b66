"""Altair charts of the System section (pure: a long ``step``/``value``/``series`` frame in).

The rows come from :func:`dashboard.analysis.system.history_frame` (already down-sampled per
line); series names travel as data, never as field names. A legend on top names each line.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.analysis.downsample import DEFAULT_MAX_POINTS
from dashboard.analysis.system import HistoryChart, history_frame
from dashboard.page.chart_base import POINT_STATS, page_chart, unvalidated

__all__ = ["system_chart"]


@unvalidated
def system_chart(
    metrics: pd.DataFrame, chart: HistoryChart, *, max_points: int = DEFAULT_MAX_POINTS
) -> alt.Chart | None:
    """Lines of ``chart`` over steps with a legend, or None when none of them has a value."""
    data = history_frame(metrics, chart, max_points=max_points)
    if data.empty:
        return None
    per_series = int(data.groupby("series", sort=False).size().max())
    POINT_STATS.record(len(data), per_series)
    domain = [name for _col, name, _scale in chart.lines]
    return page_chart(
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("step:Q", title="Step"),
            y=alt.Y("value:Q", title=chart.y_title),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=domain),
                legend=alt.Legend(orient="top", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("series:N", title=""),
                alt.Tooltip("value:Q", format=".3~f", title=chart.y_title),
            ],
        )
        .properties(height=220, title=chart.title)
    )
