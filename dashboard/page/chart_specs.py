"""Charts kept as ready-to-send Vega-Lite specs, per state version and options.

``st.altair_chart`` turns its chart into a Vega-Lite dict on every call (Altair's deep copies,
the datasets serialised to Arrow); on a run page that redraws every second the same charts until
new lines arrive, that conversion was most of an idle refresh. :func:`draw` builds a chart at most
once per ``key`` (the caller's state identity, version and options), converts it once, and sends
the kept spec with ``st.vega_lite_chart``: the same element, the same bytes (so Streamlit's
message cache lets the browser reuse an unchanged chart), none of the work.

The conversion is Streamlit's own (``streamlit.elements.vega_charts``), so the spec is exactly
what ``st.altair_chart`` would send; ``st.vega_lite_chart`` copies the spec before it takes the
Arrow datasets out (its only change inside, a null legend title made " ", is the same every
time). Should a later Streamlit drop that helper, the chart's ``to_dict()`` (data inline) is sent
instead. A chart from a template (:mod:`dashboard.page.chart_templates`) converts the template
once per shape; a new version of its data only adds the frames as Arrow data sets under the
template's fixed names, so the spec text stays the same and the browser updates the chart's data
in place.

The cache is page-wide (shared by the sessions of one server), bounded, and thread-safe.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import altair as alt
import streamlit as st

from dashboard.page.chart_templates import template_parts

__all__ = ["MAX_SPECS", "chart_spec", "clear", "draw", "state_key"]

MAX_SPECS = 96  # ~ a dozen charts × a few versions / option sets, for a few runs
_LOCK = threading.Lock()
_SPECS: OrderedDict[Hashable, dict[str, Any] | None] = OrderedDict()


def _to_spec(chart: Any) -> dict[str, Any]:
    """Streamlit's own Altair → Vega-Lite conversion (datasets as Arrow IPC bytes), or, should a
    later Streamlit drop it, the plain dict with the data inline. A chart from a template
    (:mod:`dashboard.page.chart_templates`) converts its template once; each new chart of that
    shape only adds its frames as Arrow data sets under their fixed names."""
    try:
        from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec
    except ImportError:  # pragma: no cover - depends on the Streamlit version
        return dict(chart.to_dict())
    parts = template_parts(chart)
    if parts is None:
        return dict(_convert_altair_to_vega_lite_spec(chart))
    template, frames = parts
    kept = template.spec(("streamlit", alt.theme.active), _convert_altair_to_vega_lite_spec)
    spec = copy.deepcopy(kept)  # st.vega_lite_chart patches nested parts of what it is given
    spec["datasets"] = {
        **spec.get("datasets", {}),
        **{name: _arrow_bytes(frame) for name, frame in frames.items()},
    }
    return spec


def _arrow_bytes(frame: Any) -> bytes:
    """Streamlit's Arrow IPC bytes of ``frame``, converted in this thread: pyarrow would start a
    thread pool for a frame this long (``nthreads``), costlier than converting a few thousand rows."""
    import pyarrow as pa
    from streamlit import dataframe_util

    try:
        table = pa.Table.from_pandas(frame, nthreads=1)
    except dataframe_util.get_arrow_conversion_errors():
        return dataframe_util.convert_anything_to_arrow_bytes(frame)  # with Streamlit's fixes
    return dataframe_util.convert_arrow_table_to_arrow_bytes(table)


def state_key(state: Any, frame: Any = None, rank: int = 0) -> tuple[object, ...]:
    """What identifies the data a chart of ``state`` draws: its directory and version, the rank and
    the shape of ``frame`` (two watchers of one directory both start their versions at 0)."""
    shape = None if frame is None else frame.shape
    return (str(state.checkpoint_dir), state.version, rank, shape)


def chart_spec(
    key: Hashable, build: Callable[[], alt.TopLevelMixin | None]
) -> dict[str, Any] | None:
    """The Vega-Lite spec of ``build()`` for ``key`` (built and converted on the first call for
    that key only), or None when ``build`` returned None."""
    with _LOCK:
        if key in _SPECS:
            _SPECS.move_to_end(key)
            return _SPECS[key]
    chart = build()
    spec = None if chart is None else _to_spec(chart)
    with _LOCK:
        _SPECS[key] = spec
        while len(_SPECS) > MAX_SPECS:
            _SPECS.popitem(last=False)
    return spec


def draw(spec: dict[str, Any], target: Any = None) -> None:
    """Send ``spec`` (from :func:`chart_spec`) as a full-width chart, in ``target`` if given."""
    (target or st).vega_lite_chart(spec, width="stretch")


def clear() -> None:
    """Forget every kept spec (tests)."""
    with _LOCK:
        _SPECS.clear()
