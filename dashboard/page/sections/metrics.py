"""The metric sections: the current metric cards and the metric history charts (a searchable
pick of metrics, log scale, EMA smoothing), with the page-wide caches of picker options and charts."""

from __future__ import annotations

import threading
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.analysis.series import CARD_METRICS, extra_metric_columns
from dashboard.analysis.series_pyramid import SeriesPyramid
from dashboard.page import chart_specs, charts, deep_links
from dashboard.page.sections.widgets import card, waiting
from dashboard.page.text import escape_markdown
from dashboard.page.views import metadata_cards, metric_cards
from dashboard.run_state import RunState

__all__ = ["metric_history", "metrics_now"]


def metrics_now(metrics: pd.DataFrame, metadata: dict[str, Any] | None = None) -> None:
    st.subheader("Current metrics")
    if metrics.empty:
        cards = metadata_cards(metadata)
        if cards is None:
            waiting(
                "No metric lines yet — the trainer logs them with log_metrics; the cards "
                "appear with the first one."
            )
            return
        step = (metadata or {}).get("step")
        where = f" at step {step:,}" if isinstance(step, int) and not isinstance(step, bool) else ""
        st.caption(f"From the checkpoint metadata{where} (no metric lines in the log yet).")
        for col, item in zip(st.columns(4), cards, strict=True):
            card(col, item.label, item.value)
        return
    for col, item in zip(st.columns(4), metric_cards(metrics), strict=True):
        card(col, item.label, item.value, item.delta, item.delta_color, item.delta_arrow)


_CORE_LABELS = dict(CARD_METRICS)  # the core metrics and their labels, in page order


#: page-wide caches of derived values (shared by the browser sessions of this server)
_CACHE_LOCK = threading.Lock()
_COLUMNS_CACHE: dict[tuple[object, ...], list[str]] = {}


def _chartable_columns(state: RunState, metrics: pd.DataFrame, rank: int) -> list[str]:
    """The picker's options: core columns, then extra ones with a logged value (finite or logged
    NaN/Inf). Scanning hundreds of columns costs more than the rest of an idle refresh, so the
    answer is kept per (directory, state version, rank, frame shapes): it only changes with new
    data (the shapes tell apart two watchers of one directory, whose versions both start at 0)."""
    nonfinite = state.nonfinite
    key = (str(state.checkpoint_dir), state.version, rank, metrics.shape, len(nonfinite))
    with _CACHE_LOCK:
        if key in _COLUMNS_CACHE:
            return list(_COLUMNS_CACHE[key])
    logged = set(nonfinite["column"][nonfinite["rank"] == rank].tolist())
    columns = [c for c in _CORE_LABELS if c in metrics.columns or c in logged]
    columns += extra_metric_columns(metrics, logged=logged)
    with _CACHE_LOCK:
        while len(_COLUMNS_CACHE) >= 16:
            _COLUMNS_CACHE.pop(next(iter(_COLUMNS_CACHE)))
        _COLUMNS_CACHE[key] = columns
    return list(columns)


_SERIES: dict[tuple[object, ...], SeriesPyramid] = {}


def _series(state: RunState, rank: int, column: str, smoothing: float) -> SeriesPyramid:
    """The column's pyramid kept across versions (extended from the rows appended since)."""
    key = (str(state.checkpoint_dir), rank, column, smoothing)
    with _CACHE_LOCK:
        pyramid = _SERIES.get(key)
        if pyramid is None:
            while len(_SERIES) >= 16:
                _SERIES.pop(next(iter(_SERIES)))
            pyramid = _SERIES[key] = SeriesPyramid(smoothing)
    return pyramid


def _metric_spec(
    state: RunState,
    metrics: pd.DataFrame,
    column: str,
    label: str,
    rank: int,
    log_scale: bool,
    smoothing: float,
) -> dict[str, Any] | None:
    """:func:`charts.metric_chart`'s spec, kept per state version and options
    (:mod:`dashboard.page.chart_specs`): an idle refresh (nothing new) sends the same chart
    without smoothing, down-sampling or converting a long series again, and a live one extends the
    column's pyramid (:func:`_series`) from the appended rows instead of reading the history."""
    key = (
        *chart_specs.state_key(state, metrics, rank),
        "metric",
        column,
        log_scale,
        smoothing,
        len(state.restarts),
    )
    pyramid = _series(state, rank, column, smoothing)

    def build() -> alt.LayerChart | None:
        with pyramid.lock:
            return charts.metric_chart(
                metrics,
                column,
                title=label,
                log_scale=log_scale,
                smoothing=smoothing,
                restarts=state.restarts,
                stage_events=state.stage_events,
                nonfinite=state.nonfinite_rows(column, rank),
                pyramid=pyramid,
            )

    return chart_specs.chart_spec(key, build)


def _seed_view(columns: list[str], default: list[str]) -> None:
    """The picked metrics, log scale and smoothing start from the URL (a pasted deep link:
    ``?metrics=loss&metrics=lr&log=1&smooth=0.9``), else the defaults."""
    deep_links.seed_list("metric_pick", "metrics", columns, default)
    if "log_scale" not in st.session_state:
        st.session_state["log_scale"] = st.query_params.get("log") == "1"
    deep_links.seed_float("ema_weight", "smooth", 0.0, 0.999, 0.6)


def _publish_view(picked: list[str], log_scale: bool, smoothing: float) -> None:
    """The view back into the URL, so the address bar always holds a link to it."""
    deep_links.publish_list("metrics", picked)
    deep_links.publish("log", "1" if log_scale else None)
    deep_links.publish("smooth", f"{smoothing:g}")


def metric_history(state: RunState, metrics: pd.DataFrame, *, rank: int = 0) -> None:
    """Charts of the metrics picked in a searchable multiselect (default: the core metrics; the
    options are every core and extra column, including one whose only values were logged NaN/Inf),
    red markers where the trainer logged a non-finite value (``state.nonfinite``).

    Every widget has a fixed key, so the pick, the scale and the smoothing survive refreshes
    whatever appears above them; only the picked metrics' charts are built."""
    st.subheader("Metric history")
    if metrics.empty:
        st.caption("Waiting for the first metric line; the charts appear with it.")
        return
    columns = _chartable_columns(state, metrics, rank)
    default = [c for c in columns if c in _CORE_LABELS] or columns[: len(_CORE_LABELS)]
    _seed_view(columns, default)
    picked = st.multiselect(
        "Metrics to chart",
        columns,
        key="metric_pick",
        format_func=lambda c: _CORE_LABELS.get(c, c),
        placeholder="Type to search metric names",
        help=f"{len(columns):,} metrics logged; type part of a name to find one.",
    )
    controls = st.columns([1, 3])
    log_scale = controls[0].toggle("Log scale", key="log_scale")
    smoothing = controls[1].slider(
        "EMA smoothing",
        0.0,
        0.999,
        step=0.001,
        format="%.3f",
        key="ema_weight",
        help="TensorBoard-style debiased EMA, over every point before down-sampling; 0 = off",
    )
    _publish_view(picked, log_scale, smoothing)
    if not picked:
        st.caption("Pick one or more metrics above to draw their history.")
    grid = st.columns(2) if len(picked) > 1 else [st.container()]
    for i, column in enumerate(picked):
        label = _CORE_LABELS.get(column, column)
        spec = _metric_spec(state, metrics, column, label, rank, log_scale, smoothing)
        with grid[i % len(grid)]:
            if spec is None:
                st.caption(f"{escape_markdown(label)}: no values logged yet.")
            else:
                chart_specs.draw(spec)
    key = (*chart_specs.state_key(state, metrics, rank), "gpu")
    gpu = chart_specs.chart_spec(key, lambda: charts.gpu_memory_chart(metrics))
    if gpu is not None:
        st.caption("GPU memory")
        chart_specs.draw(gpu)
