"""The Compare page's tables: summary per metric, config diff with final/best metrics, growth
per region, consolidation counts and the milestone matrix (thin shells over
:mod:`dashboard.analysis.compare`, :mod:`~dashboard.analysis.config_diff` and
:mod:`~dashboard.analysis.metric_summary`). Run texts are shown in ``st.dataframe`` cells only,
after :func:`~dashboard.page.text.plain`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from dashboard.analysis.compare import consolidation_table, growth_table, milestone_matrix
from dashboard.analysis.config_diff import config_diff
from dashboard.analysis.metric_summary import MetricSummary, metric_summaries
from dashboard.page.text import plain
from dashboard.reading.overview import Checkpoint
from dashboard.run_state import RunState

__all__ = [
    "MAX_DIFF_COLUMNS",
    "SUMMARY_ARROWS",
    "config_section",
    "events_section",
    "milestones_section",
    "summary_frame",
    "summary_section",
    "unique_labels",
]

SUMMARY_ARROWS = {"down": "↓ lower is better", "up": "↑ higher is better", "neutral": "—"}
#: differing config keys shown at most (a sweep over thousands of keys is said, not drawn)
MAX_DIFF_COLUMNS = 200


def summary_frame(
    summaries: Mapping[str, Sequence[MetricSummary]], metrics: Sequence[str]
) -> pd.DataFrame:
    """One row per (metric, run): last, min, max, best and the step of the best."""
    rows = []
    for metric in metrics:
        for run, items in summaries.items():
            for s in items:
                if s.name == metric:
                    rows.append(
                        {
                            "metric": plain(metric),
                            "run": plain(run),
                            "direction": SUMMARY_ARROWS[s.direction],
                            "last": s.last,
                            "min": s.min,
                            "max": s.max,
                            "best": s.best,
                            "best step": s.best_step,
                            "points": s.count,
                        }
                    )
    return pd.DataFrame(rows)


def summary_section(
    runs: Mapping[str, tuple[RunState, pd.DataFrame]], metrics: Sequence[str]
) -> dict[str, list[MetricSummary]]:
    """The per-metric summary table; returns the summaries (the config table reuses them)."""
    summaries = {name: metric_summaries(state, rows) for name, (state, rows) in runs.items()}
    st.subheader("Summary per metric")
    frame = summary_frame(summaries, metrics)
    if frame.empty:
        st.caption("No values of the chosen metrics yet.")
    else:
        st.dataframe(frame, hide_index=True, width="stretch", key="cmp_summary")
    return summaries


def _final_best(items: Sequence[MetricSummary], metrics: Sequence[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for s in items:
        if s.name in metrics:
            out[f"{s.name} (last)"] = s.last
            if s.direction != "neutral":
                out[f"{s.name} (best)"] = s.best
    return out


def config_section(
    states: Mapping[str, RunState],
    summaries: Mapping[str, Sequence[MetricSummary]],
    metrics: Sequence[str],
) -> None:
    """Config keys that differ between the runs, each run's final/best metrics next to them."""
    st.subheader("Config differences")
    diff = config_diff({name: state.config for name, state in states.items()})
    if not any(state.config for state in states.values()):
        st.caption("These runs logged no config (run_start lines).")
    elif diff.shape[1] == 0:
        st.caption("The chosen runs have the same config.")
    if diff.shape[1] > MAX_DIFF_COLUMNS:
        st.caption(f"{diff.shape[1]:,} config keys differ: the first {MAX_DIFF_COLUMNS} are shown.")
        diff = diff.iloc[:, :MAX_DIFF_COLUMNS]
    table = diff.map(plain)
    results = pd.DataFrame(
        [_final_best(summaries.get(name, ()), metrics) for name in diff.index], index=diff.index
    )
    table = pd.concat([table, results], axis=1)
    table.index = [plain(name) for name in table.index]
    table.columns = unique_labels([plain(c, limit=200) for c in table.columns])
    if table.shape[1]:  # not an empty grid of run names under the caption
        st.dataframe(table, width="stretch", key="cmp_config")


def unique_labels(labels: Sequence[str]) -> list[str]:
    """``labels`` made distinct (a config key may be called ``loss (last)`` too, or two long keys
    be cut alike): a repeated label gets `` (2)``, `` (3)``... after it."""
    seen: set[str] = set()
    out = []
    for label in labels:
        name, n = label, 1
        while name in seen:
            n += 1
            name = f"{label} ({n})"
        seen.add(name)
        out.append(name)
    return out


def events_section(states: Mapping[str, RunState]) -> None:
    """Neurons added per region, and consolidation counts, side by side."""
    left, right = st.columns(2)
    with left:
        st.subheader("Growth per region")
        growth = growth_table(states)
        if growth.empty:
            st.caption("No growth events in these runs.")
        else:
            growth.index = [plain(r) for r in growth.index]
            growth.columns = [plain(c) for c in growth.columns]
            st.dataframe(growth, width="stretch", key="cmp_growth")
    with right:
        st.subheader("Consolidation")
        table = consolidation_table(states)
        table["run"] = table["run"].map(plain)
        st.dataframe(table, hide_index=True, width="stretch", key="cmp_consolidation")


def milestones_section(checkpoints: Mapping[str, Sequence[Checkpoint]]) -> None:
    """Runs × milestones: passed (and the first checkpoint step that said so) or not."""
    st.subheader("Milestones")
    matrix = milestone_matrix(checkpoints)
    if matrix.shape[1] == 0:
        st.caption("No milestones in these runs' checkpoint metadata.")
        return
    matrix.index = [plain(r) for r in matrix.index]
    matrix.columns = [plain(c) for c in matrix.columns]
    st.dataframe(matrix, width="stretch", key="cmp_milestones")
