"""The growth section (neuron count per region, capacity by region, growth events) and the
consolidation section (sleep replay events: chart, averages, table)."""

from __future__ import annotations

import threading

import pandas as pd
import streamlit as st

from dashboard.analysis.change_points import ChangePoints
from dashboard.page import chart_specs, charts
from dashboard.page.sections.frame_keys import content_key
from dashboard.page.sections.widgets import INT_COLUMN, TABLE_ROWS, card, plain_columns, waiting
from dashboard.run_state import RunState

__all__ = ["consolidation", "growth"]


_KEPT: dict[tuple[str, int], dict[str, ChangePoints]] = {}
_KEPT_LOCK = threading.Lock()


def _change_points(directory: str, rank: int) -> dict[str, ChangePoints]:
    """The neuron-count columns' change points of one run and rank, kept across refreshes."""
    with _KEPT_LOCK:
        kept = _KEPT.get((directory, rank))
        if kept is None:
            while len(_KEPT) >= 8:
                _KEPT.pop(next(iter(_KEPT)))
            kept = _KEPT[(directory, rank)] = {}
    return kept


def growth(state: RunState, metrics: pd.DataFrame, *, details: bool, rank: int = 0) -> None:
    """Charts kept per state version (:mod:`dashboard.page.chart_specs`); ``metrics`` holds the
    rows of ``rank``."""
    st.subheader("Growth")
    st.caption("Neuron count per region")
    key = chart_specs.state_key(state, metrics, rank)
    kept = _change_points(str(state.checkpoint_dir), rank)
    chart = chart_specs.chart_spec(
        (*key, "neurons"),
        lambda: charts.neuron_count_chart(metrics, state.growth_events, kept=kept),
    )
    if chart is not None:
        chart_specs.draw(chart)
    else:
        waiting(
            "No neuron counts yet — the trainer logs them with "
            "log_metrics(neuron_counts={region: count}) or log_growth."
        )
    st.caption("Capacity by region (latest)")
    bars = chart_specs.chart_spec(
        (*key, "capacity"), lambda: charts.capacity_by_region_chart(metrics)
    )
    if bars is not None:
        chart_specs.draw(bars)
    else:
        waiting(
            "No per-region capacity yet — the trainer logs it with "
            "log_metrics(capacity_by_region={region: fraction})."
        )
    if details:
        _growth_table(state.growth_events)


def _growth_table(events: pd.DataFrame) -> None:
    st.caption(f"Recent growth events ({len(events):,} in total)")
    if events.empty:
        waiting("No growth events yet — the trainer logs them with log_growth.")
        return
    table = plain_columns(
        events.tail(TABLE_ROWS).iloc[::-1][
            ["step", "region", "neurons_added", "new_total", "reason"]
        ],
        "region",
        "reason",
    )
    st.dataframe(
        table.rename(
            columns={
                "step": "Step",
                "region": "Region",
                "neurons_added": "Added",
                "new_total": "New total",
                "reason": "Reason",
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"Step": INT_COLUMN, "Added": INT_COLUMN, "New total": INT_COLUMN},
    )


def consolidation(state: RunState, *, details: bool) -> None:
    st.subheader("Consolidation")
    events = state.consolidation_events
    if events.empty:
        waiting(
            "No consolidation (sleep replay) events yet — the trainer logs them with "
            "log_consolidation."
        )
        return
    left, right = st.columns([3, 1])
    with left:
        # keyed by the events themselves: a refresh that brought only metric lines sends the
        # same kept spec (a cached reference for the browser) without rebuilding it
        key = content_key(state, events, "consolidation")
        chart = chart_specs.chart_spec(key, lambda: charts.consolidation_chart(events))
        if chart is not None:
            chart_specs.draw(chart)
    with right:
        card(st, "Total events", f"{len(events):,}")
        card(st, "Avg patterns replayed", f"{events['patterns_replayed'].mean():,.1f}")
        card(st, "Avg duration (steps)", f"{events['duration_steps'].mean():,.1f}")
    if details:
        st.caption("Recent consolidation events")
        table = plain_columns(
            events.tail(TABLE_ROWS).iloc[::-1][
                ["step", "sleep_stage", "patterns_replayed", "duration_steps"]
            ],
            "sleep_stage",
        )
        st.dataframe(
            table.rename(
                columns={
                    "step": "Step",
                    "sleep_stage": "Sleep stage",
                    "patterns_replayed": "Patterns replayed",
                    "duration_steps": "Duration (steps)",
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "Step": INT_COLUMN,
                "Patterns replayed": INT_COLUMN,
                "Duration (steps)": INT_COLUMN,
            },
        )
