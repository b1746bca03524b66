"""The page's sections: thin Streamlit renderers over :mod:`summary`, :mod:`health`, :mod:`charts`.

Each function draws one section of the page from a :class:`~dashboard.run_state.RunState`. Text that
comes from the run (paths, region names, reasons, warnings, milestone names, metadata values, log
lines) goes through :mod:`dashboard.page.text` only: ``plain`` for ``st.text``/``st.code``/
``st.dataframe`` cells, ``md_text`` wherever a Streamlit call renders markdown (metric cards,
alerts, tab and expander labels, captions, tooltips). An empty section says what it waits for.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.analysis.health import DEFAULT_THRESHOLDS
from dashboard.analysis.series import extra_metric_columns
from dashboard.analysis.status import run_status, speed_info
from dashboard.analysis.units import format_age
from dashboard.page import charts
from dashboard.page.text import escape_markdown, md_text, plain
from dashboard.page.views import (
    DeltaArrow,
    DeltaColor,
    header_facts,
    metadata_cards,
    metric_cards,
    milestone_summary,
)
from dashboard.reading.console_tail import read_log_tail
from dashboard.run_state import HealthWarning, RunState

__all__ = [
    "Options",
    "consolidation",
    "empty_state",
    "growth",
    "header",
    "health_warnings",
    "metric_history",
    "metrics_now",
    "milestones",
    "training_info",
]

_ALERT = {"critical": st.error, "warning": st.warning, "info": st.info}
_SEVERITY_TITLES = (("critical", "Critical"), ("warning", "Warnings"), ("info", "Info"))
_OPEN_WARNINGS = 3  # warnings are listed open when there is no critical one and at most this many
_TABLE_ROWS = 20
_CARD_CHARS = 14  # a longer card value may be cut at 1280 px: it goes into the tooltip too
_LOG_TAIL_HEIGHT = 320  # px: the console tail scrolls inside this, opened at the newest line
#: step and count columns of the tables: thousands separators, like the header's "50,000"
_INT = st.column_config.NumberColumn(format="localized")
_STATUS_BADGE = {"running": ("green", ":material/play_circle:"),
                 "stalled": ("orange", ":material/pause_circle:"),
                 "finished": ("blue", ":material/check_circle:"),
                 "waiting": ("gray", ":material/hourglass_empty:"),
                 "failed": ("red", ":material/error:"),
                 "killed": ("violet", ":material/cancel:"),
                 "crashed": ("red", ":material/dangerous:")}


@dataclass(frozen=True)
class Options:
    """What the sidebar decided for this run of the page."""

    checkpoint_dir: str
    auto_refresh: bool
    interval_s: int
    show_metrics: bool
    show_growth: bool
    show_consolidation: bool


def _card(target: Any, label: str, value: object, delta: object = None,
          delta_color: DeltaColor = "normal", delta_arrow: DeltaArrow = "auto") -> None:
    """A metric card: ``st.metric`` renders markdown in label, value and delta, so all three go
    through the safe path (our own numbers come out unchanged). A value too long for a card
    (run text) is also in the card's tooltip, whole."""
    shown = md_text(value)
    target.metric(md_text(label), shown,
                  None if delta is None else md_text(delta), delta_color=delta_color,
                  delta_arrow=delta_arrow, help=shown if len(str(value)) > _CARD_CHARS else None)


def _waiting(what: str) -> None:
    """The one look of an empty section: what it waits for, in a caption."""
    st.caption(md_text(what))


def empty_state(state: RunState) -> bool:
    """Show a calm message when there is nothing to draw yet; True if the page should stop."""
    where = str(state.checkpoint_dir)
    if state.not_a_directory:
        st.error("This path is a file, not a directory. Give the checkpoint directory the trainer "
                 "writes into (the folder holding training_log.jsonl), in the sidebar or on the "
                 "command line.")
        st.code(where, language=None)
        return True
    if not state.exists:
        st.info("Waiting for the checkpoint directory to appear. Start the trainer with a "
                "CurriculumLogger writing there; this page updates by itself.")
        st.code(where, language=None)
        return True
    if not state.log_files and state.metadata is None:
        st.info("No training logs yet. Expecting training_log.jsonl (or training_log.json) and "
                "metadata_*.json in this directory; this page updates by itself.")
        st.code(where, language=None)
        return True
    if state.metadata is None:
        st.info("No checkpoint metadata yet (metadata_*.json): stage, week and milestones appear "
                "with the first checkpoint. Metrics below come from the training log.")
    return False


def header(state: RunState, metrics: pd.DataFrame, *, now: float) -> None:
    facts = header_facts(state, metrics)
    status = run_status(state, facts.step, now=now,
                        stall_minutes=DEFAULT_THRESHOLDS.stall_minutes)
    top = st.columns([5, 1])
    top[0].text(f"Run: {plain(str(state.checkpoint_dir))}")
    if status.kind in _STATUS_BADGE:
        color, icon = _STATUS_BADGE[status.kind]
        label = status.kind if status.kind in ("failed", "killed", "crashed") else status.text
        top[1].badge(label.capitalize(), icon=icon, color=color)  # type: ignore[arg-type]
        if label != status.text:  # the run's own words (an exception message): plain text
            top[0].text(f"Run {plain(status.text)}")
    cols = st.columns(4)
    _card(cols[0], "Stage", facts.stage)
    if facts.stage_name:
        cols[0].text(facts.stage_name)  # the full name, as text (never cut like a card value)
    _card(cols[1], "Week", facts.week)
    _card(cols[2], "Training step", "—" if facts.step is None else f"{facts.step:,}")
    age = None if state.last_update is None else now - state.last_update
    _card(cols[3], "Last update", "—" if age is None else format_age(age))
    if facts.progress is not None:
        st.progress(facts.progress, text=md_text(facts.progress_text))
    else:
        _waiting(facts.progress_text)
    if facts.odd_fields:
        st.warning(md_text("The latest checkpoint metadata has fields of an unexpected type "
                           f"(shown as text above): {', '.join(facts.odd_fields)}."))
    if state.error:
        st.warning("The last read of this directory failed; showing the previous data: "
                   + escape_markdown(state.error))


def health_warnings(warnings: Sequence[HealthWarning]) -> None:
    """The alerts grouped by severity: one line of counts, then an expander per severity with
    its count in the label (critical first and open; warnings open only when there is no
    critical one and they are few; info closed), each alert text through the safe path."""
    if not warnings:
        return
    severity = [w.severity if w.severity in _ALERT else "warning" for w in warnings]
    counts: Counter[str] = Counter(severity)
    st.caption("Alerts: " + " · ".join(f"{counts[sev]:,} {title.lower()}"
                                       for sev, title in _SEVERITY_TITLES if counts[sev]))
    for sev, title in _SEVERITY_TITLES:
        if not counts[sev]:
            continue
        expanded = sev == "critical" or (
            sev == "warning" and not counts["critical"] and counts[sev] <= _OPEN_WARNINGS)
        with st.expander(f"{title} ({counts[sev]:,})", expanded=expanded):
            for w, w_sev in zip(warnings, severity, strict=True):
                if w_sev == sev:
                    _ALERT[sev](escape_markdown(w.message))


def metrics_now(metrics: pd.DataFrame, metadata: dict[str, Any] | None = None) -> None:
    st.subheader("Current metrics")
    if metrics.empty:
        cards = metadata_cards(metadata)
        if cards is None:
            _waiting("No metric lines yet — the trainer logs them with log_metrics; the cards "
                     "appear with the first one.")
            return
        step = (metadata or {}).get("step")
        where = f" at step {step:,}" if isinstance(step, int) and not isinstance(step, bool) else ""
        st.caption(f"From the checkpoint metadata{where} (no metric lines in the log yet).")
        for col, card in zip(st.columns(4), cards, strict=True):
            _card(col, card.label, card.value)
        return
    for col, card in zip(st.columns(4), metric_cards(metrics), strict=True):
        _card(col, card.label, card.value, card.delta, card.delta_color, card.delta_arrow)


_CORE_LABELS = {"firing_rate": "Firing rate", "capacity": "Capacity", "performance": "Performance",
                "loss": "Loss"}


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


_CHART_CACHE: dict[tuple[object, ...], alt.LayerChart | None] = {}


def _metric_chart(state: RunState, metrics: pd.DataFrame, column: str, label: str, rank: int,
                  log_scale: bool, smoothing: float) -> alt.LayerChart | None:
    """:func:`charts.metric_chart`, kept per state version and options: an idle refresh (nothing
    new) redraws the same chart without smoothing a long series again."""
    key = (str(state.checkpoint_dir), state.version, rank, metrics.shape, column, log_scale,
           smoothing, len(state.restarts))
    with _CACHE_LOCK:
        if key in _CHART_CACHE:
            return _CHART_CACHE[key]
    chart = charts.metric_chart(
        metrics, column, title=label, log_scale=log_scale, smoothing=smoothing,
        restarts=state.restarts, stage_events=state.stage_events,
        nonfinite=state.nonfinite_rows(column, rank))
    with _CACHE_LOCK:
        while len(_CHART_CACHE) >= 32:
            _CHART_CACHE.pop(next(iter(_CHART_CACHE)))
        _CHART_CACHE[key] = chart
    return chart


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
    default = [c for c in columns if c in _CORE_LABELS] or columns[:len(_CORE_LABELS)]
    picked = st.multiselect(
        "Metrics to chart", columns, default=default, key="metric_pick",
        format_func=lambda c: _CORE_LABELS.get(c, c), placeholder="Type to search metric names",
        help=f"{len(columns):,} metrics logged; type part of a name to find one.")
    controls = st.columns([1, 3])
    log_scale = controls[0].toggle("Log scale", key="log_scale")
    smoothing = controls[1].slider("EMA smoothing", 0.0, 0.999, 0.6, 0.001, format="%.3f",
                                   key="ema_weight", help="TensorBoard-style debiased EMA, over "
                                   "every point before down-sampling; 0 = off")
    if not picked:
        st.caption("Pick one or more metrics above to draw their history.")
    grid = st.columns(2) if len(picked) > 1 else [st.container()]
    for i, column in enumerate(picked):
        label = _CORE_LABELS.get(column, column)
        chart = _metric_chart(state, metrics, column, label, rank, log_scale, smoothing)
        with grid[i % len(grid)]:
            if chart is None:
                st.caption(f"{escape_markdown(label)}: no values logged yet.")
            else:
                st.altair_chart(chart, width="stretch")
    gpu = charts.gpu_memory_chart(metrics)
    if gpu is not None:
        st.caption("GPU memory")
        st.altair_chart(gpu, width="stretch")


def growth(state: RunState, metrics: pd.DataFrame, *, details: bool) -> None:
    st.subheader("Growth")
    st.caption("Neuron count per region")
    chart = charts.neuron_count_chart(metrics, state.growth_events)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    else:
        _waiting("No neuron counts yet — the trainer logs them with "
                 "log_metrics(neuron_counts={region: count}) or log_growth.")
    st.caption("Capacity by region (latest)")
    bars = charts.capacity_by_region_chart(metrics)
    if bars is not None:
        st.altair_chart(bars, width="stretch")
    else:
        _waiting("No per-region capacity yet — the trainer logs it with "
                 "log_metrics(capacity_by_region={region: fraction}).")
    events = state.growth_events
    if details:
        st.caption(f"Recent growth events ({len(events):,} in total)")
        if events.empty:
            _waiting("No growth events yet — the trainer logs them with log_growth.")
            return
        table = _plain_columns(events.tail(_TABLE_ROWS).iloc[::-1][
            ["step", "region", "neurons_added", "new_total", "reason"]], "region", "reason")
        st.dataframe(table.rename(columns={"step": "Step", "region": "Region",
                                           "neurons_added": "Added", "new_total": "New total",
                                           "reason": "Reason"}), hide_index=True, width="stretch",
                     column_config={"Step": _INT, "Added": _INT, "New total": _INT})


def consolidation(state: RunState, *, details: bool) -> None:
    st.subheader("Consolidation")
    events = state.consolidation_events
    if events.empty:
        _waiting("No consolidation (sleep replay) events yet — the trainer logs them with "
                 "log_consolidation.")
        return
    left, right = st.columns([3, 1])
    with left:
        chart = charts.consolidation_chart(events)
        if chart is not None:
            st.altair_chart(chart, width="stretch")
    with right:
        _card(st, "Total events", f"{len(events):,}")
        _card(st, "Avg patterns replayed", f"{events['patterns_replayed'].mean():,.1f}")
        _card(st, "Avg duration (steps)", f"{events['duration_steps'].mean():,.1f}")
    if details:
        st.caption("Recent consolidation events")
        table = _plain_columns(events.tail(_TABLE_ROWS).iloc[::-1][
            ["step", "sleep_stage", "patterns_replayed", "duration_steps"]], "sleep_stage")
        st.dataframe(table.rename(columns={"step": "Step", "sleep_stage": "Sleep stage",
                                           "patterns_replayed": "Patterns replayed",
                                           "duration_steps": "Duration (steps)"}),
                     hide_index=True, width="stretch",
                     column_config={"Step": _INT, "Patterns replayed": _INT,
                                    "Duration (steps)": _INT})


def milestones(state: RunState) -> None:
    st.subheader("Milestone checklist")
    total, passed, items = milestone_summary(state.metadata)
    if total == 0:
        _waiting("No milestones yet — they come with the checkpoint metadata "
                 "(write_metadata(milestones={name: passed})).")
        return
    cols = st.columns(3)
    _card(cols[0], "Total", f"{total:,}")
    _card(cols[1], "Passed", f"{passed:,}")
    _card(cols[2], "Completion", f"{passed / total:.0%}")
    st.progress(passed / total)
    grid = st.columns(min(3, total))
    for i, (name, ok) in enumerate(items):
        grid[i % len(grid)].text(f"{'✅' if ok else '❌'} {plain(name)}")


def training_info(state: RunState, metrics: pd.DataFrame, *, now: float) -> None:
    st.subheader("Training information")
    step = int(metrics["step"].iloc[-1]) if not metrics.empty else None
    meta_step = (state.metadata or {}).get("step")
    if isinstance(meta_step, int) and not isinstance(meta_step, bool):
        step = max(step or 0, meta_step)
    status = run_status(state, step, now=now, stall_minutes=DEFAULT_THRESHOLDS.stall_minutes)
    speed = speed_info(state, metrics, status=status.kind)
    # three cards a row: "4 min 10 s" or an ETA of "1 h 23 min" stays whole at 1280 px
    for row in ((("Duration", speed.duration), ("Steps/s", speed.steps_per_s),
                 ("ETA", speed.eta)),
                (("Growth events", f"{len(state.growth_events):,}"),
                 ("Consolidations", f"{len(state.consolidation_events):,}"),
                 ("Bad lines skipped", f"{state.bad_line_count:,}"))):
        for col, (label, value) in zip(st.columns(3), row, strict=True):
            _card(col, label, value)
    if state.bad_lines:
        with st.expander(f"Bad lines ({state.bad_line_count:,} skipped, latest "
                         f"{len(state.bad_lines):,} listed)"):
            st.dataframe(pd.DataFrame(
                [(plain(b.file), b.offset, plain(b.reason), plain(b.excerpt))
                 for b in state.bad_lines],
                columns=["File", "Byte offset", "Reason", "Line (start)"]),
                hide_index=True, width="stretch", column_config={"Byte offset": _INT})
    st.caption("Console log (last lines, newest at the bottom)")
    tail = read_log_tail(state.checkpoint_dir / "console.log")
    if tail is None:
        _waiting("No console.log yet — the logger writes it with file_log=True.")
        return
    # height-bounded and scrolled to its end: the newest line is what shows first
    with st.container(height=_LOG_TAIL_HEIGHT, autoscroll=True, key="console_tail"):
        st.code(tail or "(empty)", language=None)


def _plain_columns(table: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """``table`` with the run-text ``columns`` as bounded plain strings (any type logged)."""
    return table.assign(**{c: [plain(v) for v in table[c].tolist()] for c in columns})
