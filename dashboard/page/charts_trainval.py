"""Altair builders for the train/validation panels (pure: a :class:`Panel` in, a chart out).

The four charts of ``train-dl-visualization.md``'s 2×2 grid: train and val on one chart (NEW
BEST evaluations as green points, the best one labelled, learning-rate changes as dashed rules
whose tooltip says ``"lr 0.001 → 0.0005 at step N"``), the generalisation gap (val − train) with
its zero line, the improvement per evaluation (bars, green = better) and the rolling standard
deviation of the training values (stability). The panel data is already down-sampled
(:func:`dashboard.analysis.trainval.train_val_panel`); as in :mod:`dashboard.page.charts`, names
from the run travel as data or titles only, and the builders skip validation while building
(the tests validate every spec).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.analysis.trainval import Panel
from dashboard.page.chart_base import POINT_STATS, page_chart, unvalidated

__all__ = [
    "BEST_COLOR",
    "GAP_COLOR",
    "LR_COLOR",
    "SERIES_COLORS",
    "WORSE_COLOR",
    "gap_chart",
    "improvement_chart",
    "stability_chart",
    "train_val_chart",
]

SERIES_COLORS = {"train": "#1f77b4", "val": "#d62728"}
BEST_COLOR = "#2ca02c"
WORSE_COLOR = "#d62728"
LR_COLOR = "#9467bd"
GAP_COLOR = "#e377c2"
_HEIGHT = 220
_X = alt.X("step:Q", title="Step")


def _lr_rules(panel: Panel) -> list[alt.Chart]:
    if panel.lr.empty:
        return []
    return [
        alt.Chart(panel.lr[["step", "label"]])
        .mark_rule(color=LR_COLOR, strokeDash=[2, 3], opacity=0.8)
        .encode(x=_X, tooltip=[alt.Tooltip("label:N", title="Learning rate")])
    ]


def _finish(layers: list[alt.Chart], points: int, series: int) -> alt.LayerChart:
    POINT_STATS.record(points, series)
    return page_chart(
        alt.LayerChart(layer=layers, height=_HEIGHT).interactive(name="x_zoom", bind_y=False)
    )


@unvalidated
def train_val_chart(panel: Panel) -> alt.LayerChart:
    """Train (line over every logged value) and val (line with points at the evaluations) on
    one chart; NEW BEST evaluations green, the best labelled; lr changes as dashed rules."""
    pair = panel.pair
    train = panel.train.assign(series="train")
    val = pd.DataFrame({"step": panel.evals["step"], "value": panel.evals["val"], "series": "val"})
    lines = pd.concat([train, val], ignore_index=True)
    color = alt.Color(
        "series:N",
        title="Series",
        scale=alt.Scale(domain=list(SERIES_COLORS), range=list(SERIES_COLORS.values())),
    )
    y = alt.Y("value:Q", title=pair.train, scale=alt.Scale(zero=False))
    tooltip = [
        alt.Tooltip("series:N", title="Series"),
        alt.Tooltip("step:Q", format=","),
        alt.Tooltip("value:Q", format=".4g", title="Value"),
    ]
    best = panel.evals.loc[panel.evals["new_best"], ["step", "val"]]
    top = panel.evals.loc[panel.evals["step"] == panel.best_step, ["step", "val"]].head(1)
    layers = [
        alt.Chart(lines)
        .mark_line(point=len(val) < 50)
        .encode(x=_X, y=y, color=color, tooltip=tooltip),
        alt.Chart(best)
        .mark_point(color=BEST_COLOR, filled=True, size=70, opacity=1)
        .encode(
            x=_X,
            y=alt.Y("val:Q"),
            tooltip=[
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("val:Q", format=".4g", title="NEW BEST"),
            ],
        ),
        alt.Chart(top.assign(text="best"))
        .mark_text(color=BEST_COLOR, dy=-12, fontWeight="bold")
        .encode(x=_X, y=alt.Y("val:Q"), text=alt.Text("text:N")),
        *_lr_rules(panel),
    ]
    return _finish(layers, len(lines) + len(best) + len(panel.lr), max(len(train), len(val)))


@unvalidated
def gap_chart(panel: Panel) -> alt.LayerChart:
    """The generalisation gap (val − train) at each evaluation, with the zero line."""
    data = panel.evals[["step", "gap"]]
    layers = [
        alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#7f7f7f").encode(y="zero:Q"),
        alt.Chart(data)
        .mark_line(color=GAP_COLOR, point=len(data) < 50)
        .encode(
            x=_X,
            y=alt.Y("gap:Q", title=f"Gap ({panel.pair.val} − {panel.pair.train})"),
            tooltip=[
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("gap:Q", format="+.4g", title="Gap"),
            ],
        ),
        *_lr_rules(panel),
    ]
    return _finish(layers, len(data) + 1 + len(panel.lr), len(data))


@unvalidated
def improvement_chart(panel: Panel) -> alt.LayerChart:
    """The improvement of the validation value on the previous evaluation (green = better).
    The step axis starts where the training curve does, as in the other panels (bars on a
    continuous axis are padded, which pushed it below the first step, to negative steps)."""
    data = panel.evals.loc[panel.evals["improvement"].notna(), ["step", "improvement"]]
    data = data.assign(kind=["better" if v > 0 else "worse" for v in data["improvement"]])
    first = panel.train["step"] if len(panel.train) else panel.evals["step"]
    x = alt.X("step:Q", title="Step", scale=alt.Scale(domainMin=float(first.min())))
    layers = [
        alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#7f7f7f").encode(y="zero:Q"),
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("improvement:Q", title="Improvement per evaluation"),
            color=alt.Color(
                "kind:N",
                title="Change",
                scale=alt.Scale(domain=["better", "worse"], range=[BEST_COLOR, WORSE_COLOR]),
            ),
            tooltip=[
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("improvement:Q", format="+.4g", title="Improvement"),
            ],
        ),
    ]
    return _finish(layers, len(data) + 1, len(data))


@unvalidated
def stability_chart(panel: Panel) -> alt.LayerChart:
    """The rolling standard deviation of the training values over ``panel.window`` points."""
    data = panel.stability
    title = f"Rolling std of {panel.pair.train} ({panel.window} points)"
    layers = [
        alt.Chart(data)
        .mark_line(color="#17becf")
        .encode(
            x=_X,
            y=alt.Y("std:Q", title=title),
            tooltip=[
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("std:Q", format=".4g", title="Rolling std"),
            ],
        ),
        *_lr_rules(panel),
    ]
    return _finish(layers, len(data) + len(panel.lr), len(data))
