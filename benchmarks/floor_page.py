"""The floor page of ``bench_refresh.py``: the run page's visible payload, already built.

``streamlit run benchmarks/floor_page.py -- PAYLOAD.pickle FLAG`` draws, every second (one
``st.fragment(run_every=1)`` around the body, as the run page refreshes), the title, the metric
cards, the visible Altair charts and the tables that the real page showed at 1M events, from
frames already down-sampled (the pickled chart objects the real page handed to
``st.altair_chart``). It reads nothing and computes nothing: its cost is what Streamlit and Altair
take to serialise and send that payload, the floor any real page pays.

While the file ``FLAG`` exists (the benchmark's live phase), every chart's data gets a new last
value each run, so no payload is byte-identical to the previous one (as on a live run, where each
refresh draws new points) and Streamlit's message cache cannot skip it.

The benchmark serves it with the run page's own Streamlit settings (``FLOOR_FLAGS`` there: the
page's ``dashboard/.streamlit/config.toml`` is not read for a script in another folder).
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.page.chart_base import page_chart

_PAYLOAD_PATH, _FLAG = sys.argv[-2], sys.argv[-1]


@st.cache_resource
def _payload(path: str) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return dict(pickle.load(fh))


def _perturbed(chart: Any, tick: int) -> Any:
    """A copy of ``chart`` whose data frames' last numeric value moves by ``tick`` (a tiny
    fraction for a float column; for a chart whose columns are all integers, such as the
    consolidation events, the last integer moves by ``tick``, so it is re-sent too)."""
    copy = chart.copy(deep=False)
    for owner in (copy, *getattr(copy, "layer", ())):
        data = getattr(owner, "data", None)
        if isinstance(data, pd.DataFrame) and len(data):
            floats = data.select_dtypes("floating").columns
            numeric = floats if len(floats) else data.select_dtypes("integer").columns
            if len(numeric):
                data = data.copy()
                column = data.columns.get_loc(numeric[-1])
                step = tick * 1e-9 if len(floats) else tick
                data.iat[-1, column] = data.iat[-1, column] + step
                owner.data = data
    return copy


def _body() -> None:
    payload = _payload(_PAYLOAD_PATH)
    live = os.path.exists(_FLAG)
    tick = st.session_state.get("tick", 0) + 1
    st.session_state["tick"] = tick
    st.title("Thalia curriculum training monitor")
    cards = payload["cards"]
    for row in range(0, len(cards), 4):
        for col, (label, value) in zip(st.columns(4), cards[row : row + 4], strict=False):
            col.metric(label, value)
    for chart in payload["charts"]:
        drawn = _perturbed(chart, tick) if live else chart
        st.altair_chart(page_chart(drawn), width="stretch")  # no schema validation, as the page
    for table in payload["tables"]:
        st.dataframe(table, hide_index=True, width="stretch")


st.fragment(run_every=1)(_body)()
