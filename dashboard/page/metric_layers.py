"""The Altair layers of the metric chart (:func:`dashboard.page.charts.metric_chart`): the line
(faint under a smoothed line), the red non-finite markers, the restart and stage rules, and the
y scale. :func:`metric_layers` is the chart's template author
(:func:`dashboard.page.chart_templates.templated`): it sees the chart's shape and its data sets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import numpy as np

from dashboard.page.chart_base import LINE_COLOR, NAN_COLOR, page_chart

__all__ = ["EVENT_COLORS", "metric_layers", "scale_args"]

EVENT_COLORS = {"restart": "#ff7f0e", "stage change": "#7f7f7f"}


def metric_layers(shape: tuple[Any, ...], data: Mapping[str, Any]) -> alt.LayerChart:
    """The metric chart of ``shape`` (label, scale, smoothed, points, event kinds)
    drawing ``data`` (``line``, and ``markers`` and ``rules`` when there are any)."""
    label, scale, smoothed, points, kinds = shape
    layers = _line_layers(points, label, _value_scale(scale), smoothed=smoothed)
    if "markers" in data:
        layers.append(_marker_layer(data["markers"], label))
    if "rules" in data:
        layers.append(_rule_layer(data["rules"], kinds))
    chart = alt.LayerChart(layer=layers, data=data["line"], height=280)
    return page_chart(chart.interactive(name="x_zoom", bind_y=False))  # a fixed selection name


_X = alt.X("step:Q", title="Step")


def _line_layers(points: bool, label: str, scale: alt.Scale, *, smoothed: bool) -> list[alt.Chart]:
    """The line of the values (faint under a smoothed line when ``smoothed``), on the layer
    chart's data (columns ``step``, ``value`` and, smoothed, ``smoothed``)."""
    y = alt.Y("value:Q", title=label, scale=scale)
    tooltip = [alt.Tooltip("step:Q", format=","), alt.Tooltip("value:Q", format=".4g", title=label)]
    if not smoothed:
        return [
            alt.Chart().mark_line(color=LINE_COLOR, point=points).encode(x=_X, y=y, tooltip=tooltip)
        ]
    return [
        alt.Chart().mark_line(color=LINE_COLOR, opacity=0.25).encode(x=_X, y=y, tooltip=tooltip),
        alt.Chart()
        .mark_line(color=LINE_COLOR)
        .encode(
            x=_X,
            y=alt.Y("smoothed:Q", title=label, scale=scale),
            tooltip=[*tooltip, alt.Tooltip("smoothed:Q", format=".4g", title="smoothed")],
        ),
    ]


def _marker_layer(markers: Any, label: str) -> alt.Chart:
    """Red triangles at the top edge where the trainer logged NaN/±Inf."""
    return (
        alt.Chart(markers)
        .mark_point(
            shape="triangle-down",
            color=NAN_COLOR,
            filled=True,
            size=90,
            opacity=1,
        )
        .encode(
            x=_X,
            y=alt.value(6),
            tooltip=[alt.Tooltip("step:Q", format=","), alt.Tooltip("value:N", title=label)],
        )
    )


def _rule_layer(rules: Any, kinds: tuple[str, ...]) -> alt.Chart:
    """Dashed vertical rules at restarts and stage changes (legend: only the ``kinds`` present)."""
    return (
        alt.Chart(rules)
        .mark_rule(strokeDash=[4, 4], opacity=0.7)
        .encode(
            x=_X,
            color=alt.Color(
                "kind:N",
                title="Event",
                scale=alt.Scale(domain=list(kinds), range=[EVENT_COLORS[k] for k in kinds]),
            ),
            tooltip=[alt.Tooltip("label:N", title="Event")],
        )
    )


def scale_args(values: np.ndarray, *, log_scale: bool) -> tuple[str, tuple[float, float] | None]:
    """The y scale as (type, domain): log or linear (not from zero); a flat series gets a padded
    domain around its value, so it draws as a flat line in the middle with short axis labels."""
    kind = "log" if log_scale else "linear"
    if values.size and float(values.min()) == float(values.max()):
        c = float(values[0])
        if log_scale:
            return kind, (c / 2, c * 2)
        pad = abs(c) * 0.1 if c != 0 else 1.0
        return kind, (c - pad, c + pad)
    return kind, None


def _value_scale(args: tuple[str, tuple[float, float] | None]) -> alt.Scale:
    """The Altair scale of :func:`scale_args`' answer."""
    kind, domain = args
    if kind == "log":
        return (
            alt.Scale(type="log") if domain is None else alt.Scale(type="log", domain=list(domain))
        )
    return alt.Scale(zero=False) if domain is None else alt.Scale(zero=False, domain=list(domain))
