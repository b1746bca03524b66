"""Altair plumbing shared by the chart builders: validation off while building, point statistics,
and the shared look (colours, the label limit, a column as floats).

The specs the builders of :mod:`dashboard.page.charts` make are fixed in shape and checked against the
Vega-Lite schema by the tests (``to_dict(validate=True)``), so the builders skip Altair's
jsonschema validation: of every part as it is created (``altair.utils.schemapi.debug_mode(False)``
while building, :func:`unvalidated`) and of the whole spec when Streamlit serialises it
(:func:`page_chart`: ``to_dict()`` defaults to ``validate=False`` on the returned object).
Together that validation cost about 50 ms a chart, half of a live page run on a 1M-event history.

:data:`POINT_STATS` records the largest data sizes handed to Altair (the page benchmark reads it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import altair as alt
from altair.utils.schemapi import debug_mode

from dashboard.analysis.series import float_column

__all__ = [
    "LABEL_LIMIT",
    "LINE_COLOR",
    "NAN_COLOR",
    "POINT_STATS",
    "PointStats",
    "float_column",
    "page_chart",
    "unvalidated",
]

NAN_COLOR = "#d62728"
LINE_COLOR = "#1f77b4"
LABEL_LIMIT = 140  # px: longer region names are cut in axis labels and legends (full in tooltips)

_C = TypeVar("_C", bound=alt.TopLevelMixin)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def unvalidated(build: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a builder with Altair's validation-at-creation off (see the module docstring)."""

    @functools.wraps(build)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with debug_mode(False):
            return build(*args, **kwargs)

    return wrapper


def page_chart(chart: _C) -> _C:
    """``chart`` whose ``to_dict()`` skips jsonschema validation unless asked (see module doc)."""
    cls_to_dict = type(chart).to_dict

    def to_dict(validate: bool = False, **kwargs: Any) -> dict[str, Any]:
        return cls_to_dict(chart, validate, **kwargs)

    object.__setattr__(chart, "to_dict", to_dict)  # SchemaBase.__setattr__ would store a property
    return chart


@dataclass
class PointStats:
    """The largest data sizes handed to Altair since the last :meth:`reset` (instrumentation)."""

    max_series_points: int = 0
    max_chart_points: int = 0
    charts: int = 0

    def record(self, chart_points: int, series_points: int) -> None:
        self.max_chart_points = max(self.max_chart_points, chart_points)
        self.max_series_points = max(self.max_series_points, series_points)
        self.charts += 1

    def reset(self) -> None:
        self.max_series_points = self.max_chart_points = self.charts = 0


POINT_STATS = PointStats()
