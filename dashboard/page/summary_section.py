"""The run page's "Summary per metric": last, min, max, best and the step of the best for every
metric column, in the metric's good direction (:mod:`dashboard.analysis.metric_summary`, the
numbers the report and the Compare page show). Collapsed, as a static ``st.table`` (a handful of
rows; its cells render markdown, so every cell goes through
:func:`~dashboard.page.text.md_text`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.analysis.metric_summary import metric_summaries
from dashboard.page.compare_tables import SUMMARY_ARROWS
from dashboard.page.text import md_text
from dashboard.run_state import RunState

__all__ = ["summary_frame", "summary_section"]


def summary_frame(state: RunState, metrics: pd.DataFrame, rank: int = 0) -> pd.DataFrame:
    """One row per metric of ``metrics`` (one rank's rows), every cell as safe text."""
    return pd.DataFrame(
        [
            {
                "metric": md_text(s.name),
                "direction": md_text(SUMMARY_ARROWS[s.direction]),
                "last": md_text(s.last),
                "min": md_text(s.min),
                "max": md_text(s.max),
                "best": md_text(s.best),
                "best step": md_text(s.best_step),
                "points": md_text(s.count),
            }
            for s in metric_summaries(state, metrics, rank)
        ]
    )


def summary_section(state: RunState, metrics: pd.DataFrame, rank: int = 0) -> None:
    """The table in a collapsed expander (nothing before the first metric row)."""
    frame = summary_frame(state, metrics, rank)
    if frame.empty:
        return
    with st.expander("Summary per metric", expanded=False):
        st.table(frame.set_index("metric"))
