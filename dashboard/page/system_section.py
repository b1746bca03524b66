"""The page's System section and Config expander: thin Streamlit over
:mod:`dashboard.analysis.system` and :mod:`dashboard.analysis.config`.

``system(metrics)`` draws nothing at all when the run logged no system metric (see
``thalia_logging.system_metrics``); otherwise the current values as cards (host and process, then
per GPU utilisation and memory as ``"4.2 / 8.0 GB"`` with a bar) and the history charts in a
collapsed expander, built only while it is open. ``config(state)`` shows the ``run_start`` config as a key / value table in a
collapsed expander. Every text goes through :mod:`dashboard.page.text`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.analysis.config import config_rows
from dashboard.analysis.system import Reading, history_charts, latest_system
from dashboard.page import chart_specs
from dashboard.page.charts_system import system_chart
from dashboard.page.text import md_text, plain
from dashboard.run_state import RunState

__all__ = ["HISTORY_KEY", "config", "system"]

_PER_ROW = 3
HISTORY_KEY = "system_history"  # the System history expander's state (open or closed)


def _card(target: Any, reading: Reading) -> None:
    target.metric(
        md_text(reading.label),
        md_text(reading.text),
        help=md_text(f"logged at step {reading.step:,}"),
    )


def system(metrics: pd.DataFrame, data_key: tuple[object, ...] | None = None) -> None:
    """The System section, or nothing when ``metrics`` (one rank's rows) has no system column.
    ``data_key`` identifies the data (:func:`dashboard.page.chart_specs.state_key`): the history
    charts are then kept per data version."""
    now = latest_system(metrics)
    if now is None:
        return
    st.subheader("System")
    host = list(now.host)
    for start in range(0, len(host), _PER_ROW):
        for col, reading in zip(st.columns(_PER_ROW), host[start : start + _PER_ROW], strict=False):
            _card(col, reading)
    for gpu in now.gpus:
        util_col, mem_col = st.columns([1, 2])
        if gpu.util is not None:
            _card(util_col, gpu.util)
        if gpu.memory is not None:
            _card(mem_col, gpu.memory)
            if gpu.fraction is not None:
                mem_col.progress(gpu.fraction, text=md_text(f"{gpu.fraction:.0%} of GPU memory"))
    _history(metrics, data_key)


def _history(metrics: pd.DataFrame, data_key: tuple[object, ...] | None) -> None:
    """The history charts in a collapsed expander that tracks its state (key ``system_history``):
    they are built and sent only while it is open (opening it reruns the live fragment), and
    kept per ``data_key`` (the caller's state identity) when one is given."""
    charts = history_charts(metrics.columns)
    if not charts:
        return
    box = st.expander("System history", expanded=False, key=HISTORY_KEY, on_change="rerun")
    if not box.open:
        return
    with box:
        for chart in charts:
            if data_key is None:
                built = system_chart(metrics, chart)
                if built is not None:
                    st.altair_chart(built, width="stretch")
                continue
            key = (*data_key, "system", chart.title)
            spec = chart_specs.chart_spec(key, partial(system_chart, metrics, chart))
            if spec is not None:
                chart_specs.draw(spec)


def config(state: RunState) -> None:
    """The run's config (the newest ``run_start``'s) as a key / value table, collapsed."""
    rows = config_rows(state.config)
    if not rows.rows:
        return
    with st.expander("Config", expanded=False):
        st.dataframe(
            pd.DataFrame([(plain(k), plain(v)) for k, v in rows.rows], columns=["Key", "Value"]),
            hide_index=True,
            width="stretch",
        )
        if rows.more:
            st.caption(md_text(f"{rows.more:,} more entries not shown."))
