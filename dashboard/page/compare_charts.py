"""The Compare page's overlay chart: one line per run, stable colours, legend highlighting.

Built from :func:`dashboard.analysis.compare.overlay_frame` (already smoothed and down-sampled).
Each run keeps its colour (:func:`~dashboard.analysis.compare.run_colour`, a hash of its name);
clicking a run in the legend highlights it (an Altair point selection bound to the legend) and
fades the others. A non-finite value (NaN/Inf) cannot be a point on a line: it is drawn as a
dashed vertical rule in the run's colour at its x, so a divergence stays visible.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from dashboard.analysis.compare import X_AXES, XAxis, run_colour
from dashboard.page.chart_base import LABEL_LIMIT, page_chart, unvalidated

__all__ = ["overlay_chart"]


def _x(axis: XAxis) -> alt.X:
    if axis == "wall":
        return alt.X("x:T", title=X_AXES[axis])
    return alt.X("x:Q", title=X_AXES[axis])


@unvalidated
def overlay_chart(
    frame: pd.DataFrame, runs: Sequence[str], metric: str, axis: XAxis, *, log_scale: bool = False
) -> alt.LayerChart:
    """The overlay of ``metric`` for ``runs`` (their order is the legend's)."""
    data = frame.copy()
    if axis == "wall":
        data["x"] = pd.to_datetime(data["x"], unit="s", utc=True)
    values = data["value"].to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    if log_scale:
        finite &= values > 0
    names = list(runs)
    colour = alt.Color(
        "run:N",
        scale=alt.Scale(domain=names, range=[run_colour(n) for n in names]),
        legend=alt.Legend(
            title="Run (click to highlight)", labelLimit=LABEL_LIMIT, orient="bottom"
        ),
    )
    pick = alt.selection_point(fields=["run"], bind="legend")
    y = alt.Y(
        "value:Q", title=metric, scale=alt.Scale(type="log" if log_scale else "linear", zero=False)
    )
    tooltip = [
        alt.Tooltip("run:N"),
        alt.Tooltip("step:Q", format=","),
        alt.Tooltip("value:Q", title=metric, format=".5g"),
        alt.Tooltip("raw:Q", title="logged", format=".5g"),
    ]
    line = (
        alt.Chart(data[finite])
        .mark_line(strokeWidth=1.6)
        .encode(
            x=_x(axis),
            y=y,
            color=colour,
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
            tooltip=tooltip,
        )
        .add_params(pick)
        .interactive(bind_y=False)
    )
    marks = (
        alt.Chart(data[~np.isfinite(values)].assign(value=0.0))
        .mark_rule(strokeDash=[4, 3])
        .encode(x=_x(axis), color=colour, tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q")])
    )
    return page_chart(alt.LayerChart(layer=[line, marks], height=300, title=metric))
