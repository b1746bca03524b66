"""Altair chart builders for the page: pure functions from frames to charts (no Streamlit),
authored once per shape and filled with each build's frames (:mod:`dashboard.page.chart_templates`).

Every builder down-samples inside (:mod:`dashboard.analysis.downsample`), so a chart receives at most
``max_points`` rows per series whatever the history length, and records what it passed to Altair
in :data:`POINT_STATS` (the page benchmark reads it). Chart data always uses fixed field names
(``step``, ``value``, ``region``, ...): names from logs (regions, metric names) travel as data or
titles, never as field names, so a region called ``a.b`` or ``<img src=x>`` is just text.

Builders return ``None`` when there is nothing to draw (the page then shows a calm message).
The per-region charts are in :mod:`dashboard.page.region_charts`, re-exported here.

Speed: builders skip Altair's jsonschema validation (see :mod:`dashboard.page.chart_base`); the tests
validate every spec. Layers of one chart share one data set where they draw the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import altair as alt
import numpy as np
import pandas as pd

from dashboard.analysis.downsample import DEFAULT_MAX_POINTS, downsample, thin_evenly
from dashboard.analysis.series_pyramid import SeriesPyramid
from dashboard.analysis.smoothing import ema
from dashboard.page.chart_base import (
    LINE_COLOR,
    NAN_COLOR,
    POINT_STATS,
    PointStats,
    float_column,
    unvalidated,
)
from dashboard.page.chart_templates import templated
from dashboard.page.charts_events import consolidation_chart, gpu_memory_chart
from dashboard.page.metric_layers import EVENT_COLORS, metric_layers, scale_args
from dashboard.page.region_charts import (
    capacity_by_region_chart,
    latest_region_capacity,
    neuron_count_chart,
)
from dashboard.run_state import Restart

__all__ = [
    "EVENT_COLORS",
    "LINE_COLOR",
    "NAN_COLOR",
    "POINT_STATS",
    "PointStats",
    "capacity_by_region_chart",
    "consolidation_chart",
    "gpu_memory_chart",
    "latest_region_capacity",
    "metric_chart",
    "neuron_count_chart",
]


def _event_rules(restarts: Iterable[Restart], stage_events: pd.DataFrame | None) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    for r in restarts:
        if r.step is not None:
            rows.append(
                {
                    "step": r.step,
                    "kind": "restart",
                    "label": f"Restart ({r.kind}) to step {r.step:,} in {r.file}",
                }
            )
    if stage_events is not None and not stage_events.empty:
        for step, stage, name in (
            stage_events[["step", "stage", "name"]].tail(500).itertuples(index=False)
        ):
            title = f"Stage {stage}: {name}" if isinstance(name, str) and name else f"Stage {stage}"
            rows.append({"step": int(step), "kind": "stage change", "label": title})
    return pd.DataFrame(rows, columns=["step", "kind", "label"])


def _markers(nonfinite: pd.DataFrame | None, max_points: int) -> pd.DataFrame:
    """Marker rows (``step``, ``value`` as "NaN"/"Infinity"/"-Infinity"), evenly thinned to
    fewer than half of ``max_points`` (always the first and the last)."""
    if nonfinite is None or nonfinite.empty:
        return pd.DataFrame({"step": np.empty(0, dtype=np.int64), "value": np.empty(0, dtype=str)})
    pos = thin_evenly(np.arange(len(nonfinite)), max(max_points // 2 - 1, 2))
    bad = nonfinite["value"].to_numpy(dtype=np.float64)[pos]
    return pd.DataFrame(
        {
            "step": nonfinite["step"].to_numpy(dtype=np.int64)[pos],
            "value": np.where(np.isnan(bad), "NaN", np.where(bad > 0, "Infinity", "-Infinity")),
        }
    )


@unvalidated
def metric_chart(
    metrics: pd.DataFrame,
    column: str,
    *,
    title: str | None = None,
    log_scale: bool = False,
    smoothing: float = 0.0,
    restarts: Iterable[Restart] = (),
    stage_events: pd.DataFrame | None = None,
    nonfinite: pd.DataFrame | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
    pyramid: SeriesPyramid | None = None,
) -> alt.LayerChart | None:
    """A line of ``column`` over ``step``: raw series (faint when smoothed) + debiased EMA.

    The EMA is computed on the full-resolution series, then both lines are down-sampled (min/max
    per bucket, each keeping its own extremes), so the smoothed line is the trend of every point.
    A constant series draws flat, in the middle of a padded y domain.

    The line draws the finite values. ``nonfinite`` (``state.nonfinite_rows(column, rank)``:
    ``step`` and ``value`` of what the trainer explicitly logged as NaN/±Inf) become red triangles
    at the top edge, for any column; a NaN in the frame alone means "not logged on that line" and
    is not marked. Restarts and stage changes are vertical dashed rules with tooltips. With
    ``log_scale`` the values ≤ 0 are left out (a log axis cannot show them).

    ``pyramid`` (a :class:`~dashboard.analysis.pyramid.SeriesPyramid` of weight ``smoothing``,
    kept across refreshes) makes the line cost O(points shown): it is extended from the appended
    rows and read from its min/max levels (not on a log scale).
    """
    if pyramid is not None and not log_scale:
        drawn = _pyramid_line(metrics, column, nonfinite, max_points, pyramid)
    else:
        drawn = _downsampled_line(metrics, column, nonfinite, max_points, log_scale, smoothing)
    if drawn is None:
        return None
    line, markers = drawn
    rules = _event_rules(restarts, stage_events)
    POINT_STATS.record(len(line) + len(markers) + len(rules), max(len(line), len(markers)))
    kinds = tuple(k for k in EVENT_COLORS if k in set(rules["kind"]))
    scale = scale_args(line["value"].to_numpy(), log_scale=log_scale)
    shape = (title or column, scale, "smoothed" in line.columns, len(line) < 50, kinds)
    data = {"line": line}
    if not markers.empty:
        data["markers"] = markers
    if kinds:
        data["rules"] = rules
    return templated(metric_layers, shape, data)


def _downsampled_line(
    metrics: pd.DataFrame,
    column: str,
    nonfinite: pd.DataFrame | None,
    max_points: int,
    log_scale: bool,
    smoothing: float,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(line rows, markers) from the whole series: smoothed and down-sampled on every call."""
    drawn = _drawn_values(metrics, column, nonfinite, max_points, log_scale=log_scale)
    if drawn is None:
        return None
    values, steps, markers = drawn
    budget = max(max_points - len(markers), 6)
    smoothed = ema(values, smoothing) if smoothing > 0 and values.size else None
    if smoothed is None:
        rows = downsample(values, budget).finite
    else:  # the raw line's and the smoothed line's own extremes, half the budget each
        half = max(budget // 2, 6)
        rows = np.union1d(downsample(values, half).finite, downsample(smoothed, half).finite)
    line = pd.DataFrame({"step": steps[rows], "value": values[rows]})
    if smoothed is not None:
        line = line.assign(smoothed=smoothed[rows])
    return line, markers


def _pyramid_line(
    metrics: pd.DataFrame,
    column: str,
    nonfinite: pd.DataFrame | None,
    max_points: int,
    pyramid: SeriesPyramid,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(line rows, markers) read from ``pyramid`` after extending it to the frame's column."""
    if column not in metrics.columns or metrics.empty:
        return None
    series = metrics[column]
    values = series.to_numpy() if series.dtype == np.float64 else float_column(metrics, column)
    pyramid.update(values, metrics["step"].to_numpy())
    markers = _markers(nonfinite, max_points)
    points = pyramid.points(max(max_points - len(markers), 6))
    if points["at"].size == 0 and markers.empty:
        return None
    line = pd.DataFrame({"step": points["step"], "value": points["value"]})
    if pyramid.weight > 0:
        line = line.assign(smoothed=points["smoothed"])
    return line, markers


def _drawn_values(
    metrics: pd.DataFrame,
    column: str,
    nonfinite: pd.DataFrame | None,
    max_points: int,
    *,
    log_scale: bool,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame] | None:
    """(values, steps, markers) of what :func:`metric_chart` draws: the finite values (> 0 on a
    log scale) with their steps, and the non-finite markers; None when there is nothing at all."""
    if column not in metrics.columns or metrics.empty:
        return None
    values = float_column(metrics, column)
    steps = metrics["step"].to_numpy(dtype=np.int64)
    ok = np.isfinite(values)
    if not ok.all():
        values, steps = values[ok], steps[ok]
    markers = _markers(nonfinite, max_points)
    if values.size == 0 and markers.empty:
        return None
    if log_scale:
        positive = values > 0
        if not positive.all():
            values, steps = values[positive], steps[positive]
    return values, steps, markers
