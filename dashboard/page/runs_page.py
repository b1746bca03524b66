"""The Runs page: one sortable row per run under the root, refreshed live, each row linking to
its Run page (``run?run=NAME``).

The rows come from :func:`dashboard.analysis.run_table.overview_rows` over the shared
:class:`~dashboard.reading.overview.OverviewReader` (metadata, log tails, incremental counts):
opening this page never loads a run's history. Run names and texts are shown in
``st.dataframe`` cells (plain text) after :func:`~dashboard.page.text.plain`.
"""

from __future__ import annotations

import time
from collections import Counter
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard.analysis.run_table import OverviewRow
from dashboard.analysis.threshold_files import ThresholdsError, thresholds_from_env
from dashboard.analysis.thresholds import DEFAULT_THRESHOLDS, HealthThresholds
from dashboard.page import root_app
from dashboard.page.text import md_text, plain

__all__ = ["COLUMNS", "live", "render", "rows_frame", "run_link", "thresholds"]

COLUMNS = {
    "run": st.column_config.TextColumn("Run", help="Path under the root", pinned=True),
    "status": st.column_config.TextColumn("Status"),
    "stage": st.column_config.TextColumn("Stage"),
    "week": st.column_config.TextColumn("Week"),
    "step": st.column_config.NumberColumn("Step", format="localized"),
    "updated": st.column_config.DatetimeColumn("Last update", format="distance"),
    "loss": st.column_config.NumberColumn("Loss", format="%.4g"),
    "performance": st.column_config.NumberColumn("Performance", format="%.4g"),
    "best": st.column_config.NumberColumn(
        "Best perf.", format="%.4g", help="Best of the log's tail and every checkpoint"
    ),
    "best_step": st.column_config.NumberColumn("Best at step", format="localized"),
    "critical": st.column_config.NumberColumn("Critical", help="Critical alerts now"),
    "warnings": st.column_config.NumberColumn("Warnings", help="Warnings now"),
    "growth": st.column_config.NumberColumn("Growth", help="Growth events (counting...: empty)"),
    "consolidation": st.column_config.NumberColumn("Consolidation"),
    "open": st.column_config.LinkColumn("Open", display_text="Open run page"),
}


def run_link(name: str) -> str:
    """The relative URL of ``name``'s Run page."""
    return f"run?run={quote(name, safe='')}"


def rows_frame(rows: list[OverviewRow]) -> pd.DataFrame:
    """The table of ``rows`` (columns as :data:`COLUMNS`)."""
    data = [
        {
            "run": plain(r.name),
            "status": plain(r.status_text),
            "stage": plain(r.stage),
            "week": r.week,
            "step": r.step,
            "updated": pd.to_datetime(r.last_update, unit="s", utc=True)
            if r.last_update is not None
            else pd.NaT,
            "loss": r.loss,
            "performance": r.performance,
            "best": r.best_performance,
            "best_step": r.best_step,
            "critical": r.critical,
            "warnings": r.warnings,
            "growth": r.growth,
            "consolidation": r.consolidation,
            "open": run_link(r.name),
        }
        for r in rows
    ]
    return pd.DataFrame(data, columns=list(COLUMNS))


def thresholds() -> HealthThresholds:
    """The thresholds of the run page (``THALIA_THRESHOLDS``), the defaults when it is bad (the
    run page says why)."""
    try:
        return thresholds_from_env()
    except ThresholdsError:
        return DEFAULT_THRESHOLDS


def live(root: str) -> None:
    """The part that refreshes: find the runs again, summarise, draw the table."""
    summaries = root_app.summaries(root)
    discovery = root_app.overview_reader(root).discovery
    rows = root_app.row_cache(root).rows(summaries, now=time.time(), thresholds=thresholds())
    if root_app.root_warning(root) and not rows:
        return
    if not rows:
        st.info(
            md_text(
                f"No runs under {root} yet: a run is a folder (up to 4 levels down) holding a "
                "training_log.jsonl or metadata_*.json. New runs appear here by themselves."
            )
        )
        return
    counts = Counter(r.status for r in rows)
    st.caption(
        md_text(f"{len(rows)} runs: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    )
    st.dataframe(
        rows_frame(rows), column_config=COLUMNS, hide_index=True, width="stretch", key="runs_table"
    )
    problems = [(r.name, r.problems) for r in rows if r.problems]
    for name, text in problems[:10]:
        st.warning(md_text(f"{name}: {text}"), icon=":material/warning:")
    if discovery.capped:
        st.warning("The search for runs stopped at its limit; some runs may be missing.")
    for error in discovery.errors[:10]:
        st.caption(md_text(error))
    if len(discovery.errors) > 10:
        st.caption(f"... and {len(discovery.errors) - 10:,} more folders not searched.")


def render() -> None:
    """The Runs page (a page script of :mod:`dashboard.page.root_app` calls it)."""
    root, _polling = root_app.root_args()
    st.title("Runs")
    st.caption(md_text(f"Root: {root}"))
    with st.sidebar:
        auto = st.toggle("Auto-refresh", value=True, key="runs_auto")
        interval = st.slider("Refresh every (s)", 1, 60, 5, key="runs_interval", disabled=not auto)
    st.fragment(run_every=interval if auto else None)(live)(root)
