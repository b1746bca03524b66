"""The run page's "Summary per metric": last, min, max, best and the step of the best for every
metric column, in the metric's good direction (:mod:`dashboard.analysis.metric_summary`, the
numbers the report and the Compare page show). Collapsed, as an aligned plain-text block
(``st.code``): a handful of rows that read as text whatever a metric is called, and no extra
table element on the page.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

import pandas as pd
import streamlit as st

from dashboard.analysis.metric_summary import SummaryTracker, metric_summaries
from dashboard.page.compare_tables import SUMMARY_ARROWS
from dashboard.page.text import plain
from dashboard.run_state import RunState

__all__ = ["HEADER", "summary_lines", "summary_section"]

HEADER = ("metric", "direction", "last", "min", "max", "best", "best step", "points")
_NAME_CHARS = 40


_TRACKERS: dict[tuple[str, int], tuple[threading.Lock, dict[Hashable, SummaryTracker]]] = {}
_TRACKERS_LOCK = threading.Lock()


def _trackers(state: RunState, rank: int) -> tuple[threading.Lock, dict[Hashable, SummaryTracker]]:
    """The run's summary trackers (kept across refreshes, shared by the sessions: one lock)."""
    key = (str(state.checkpoint_dir), rank)
    with _TRACKERS_LOCK:
        if key not in _TRACKERS:
            while len(_TRACKERS) >= 16:
                _TRACKERS.pop(next(iter(_TRACKERS)))
            _TRACKERS[key] = (threading.Lock(), {})
        return _TRACKERS[key]


def summary_lines(state: RunState, metrics: pd.DataFrame, rank: int = 0) -> list[str]:
    """The summary as aligned text lines (a header, then one line per metric); [] without rows.
    Each column's summary is extended from the rows appended since the last refresh."""
    lock, trackers = _trackers(state, rank)
    with lock:
        summaries = metric_summaries(state, metrics, rank, trackers)
    rows = [
        (
            plain(s.name, limit=_NAME_CHARS),
            SUMMARY_ARROWS[s.direction],
            *(plain(v) for v in (s.last, s.min, s.max, s.best, s.best_step, s.count)),
        )
        for s in summaries
    ]
    if not rows:
        return []
    table = [HEADER, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in table]  # fmt: skip


def summary_section(state: RunState, metrics: pd.DataFrame, rank: int = 0) -> None:
    """The summary in a collapsed expander (nothing before the first metric row)."""
    lines = summary_lines(state, metrics, rank)
    if not lines:
        return
    with st.expander("Summary per metric", expanded=False):
        st.code("\n".join(lines), language=None)
