"""A chart filled into its shape's template is the chart Altair builds from the frames themselves:
the same Vega-Lite spec (data sets compared by content, not by name), on the plain path and on
the page's Streamlit path (Arrow data sets), however the data changes between builds."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec

from dashboard.page import chart_specs, chart_templates, charts
from dashboard.run_state import Restart


def _inline(spec: dict[str, Any]) -> Any:
    """``spec`` with every named data reference replaced by the data set's content."""
    sets = spec.get("datasets", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"name"} and node["name"] in sets:
                return {"values": sets[node["name"]]}
            return {k: walk(v) for k, v in node.items() if k != "datasets"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(spec)


def _same_as_fresh(chart: Any) -> None:
    fresh = chart.copy()  # built by the author with the frames (no template)
    assert chart_templates.template_parts(fresh) is None
    assert _inline(chart.to_dict()) == _inline(fresh.to_dict())
    assert chart.to_dict(validate=True) == chart.to_dict()
    page = chart_specs._to_spec(chart)
    assert _inline(page) == _inline(_convert_altair_to_vega_lite_spec(fresh))


def _metrics(n: int, seed: int, flat: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    loss = np.full(n, 0.5) if flat else 2.0 + rng.normal(size=n)
    if n > 3:
        loss[rng.integers(0, n, max(1, n // 20))] = math.nan
    frame = pd.DataFrame({"step": np.arange(n, dtype=np.int64) * 10, "loss": loss})
    for k, region in enumerate(("cortex", "<b>x</b>")):
        frame[f"neuron_counts.{region}"] = 100.0 + k + np.cumsum(rng.random(n) < 0.05)
        frame[f"capacity_by_region.{region}"] = rng.random(n)
    frame["gpu_mem_bytes"] = rng.random(n) * 2**33
    return frame


def _nonfinite(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[frame["loss"].isna()]
    return pd.DataFrame({"step": rows["step"], "value": np.nan})


@settings(max_examples=12, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 400), min_size=1, max_size=3),
    smoothing=st.sampled_from([0.0, 0.6]),
    log_scale=st.booleans(),
    flat=st.booleans(),
    marks=st.booleans(),
    restart=st.booleans(),
)
def test_template_charts_equal_fresh_ones_over_appends(
    sizes: list[int], smoothing: float, log_scale: bool, flat: bool, marks: bool, restart: bool
) -> None:
    whole = _metrics(sum(sizes), seed=len(sizes), flat=flat)
    restarts = (
        [Restart(file="training_log.jsonl", kind="resumed", step=30, wall_time=0.0)]
        if restart
        else []
    )
    stages = pd.DataFrame({"step": [0, 50], "stage": [0, 1], "name": ["warm-up", ""]})
    end = 0
    for size in sizes:
        end += size
        frame = whole.iloc[:end]
        chart = charts.metric_chart(
            frame,
            "loss",
            title="Loss <i>",
            smoothing=smoothing,
            log_scale=log_scale,
            restarts=restarts,
            stage_events=stages if restart else None,
            nonfinite=_nonfinite(frame) if marks else None,
            max_points=120,
        )
        if chart is not None:
            _same_as_fresh(chart)
        for other in (
            charts.neuron_count_chart(frame, max_points=60),
            charts.capacity_by_region_chart(frame),
            charts.gpu_memory_chart(frame, max_points=60),
        ):
            assert other is not None
            _same_as_fresh(other)


def test_consolidation_chart_from_a_template() -> None:
    events = pd.DataFrame(
        {
            "step": [10, 20, 30],
            "sleep_stage": ["NREM", "REM", "NREM"],
            "patterns_replayed": [5, 7, 9],
            "duration_steps": [1, 2, 3],
        }
    )
    chart = charts.consolidation_chart(events)
    assert chart is not None
    _same_as_fresh(chart)
    assert chart.data.equals(events)  # the frame, as on a chart built with it


def test_one_template_per_shape_and_derived_charts_are_independent() -> None:
    chart_templates.clear()
    a = charts.metric_chart(_metrics(300, 1, False), "loss")
    b = charts.metric_chart(_metrics(400, 2, False), "loss")
    assert a is not None and b is not None
    ta, tb = chart_templates.template_parts(a), chart_templates.template_parts(b)
    assert ta is not None and tb is not None and ta[0] is tb[0]
    assert a.to_dict()["datasets"] != b.to_dict()["datasets"]
    # the spec text stays the same for one shape: only the data sets differ
    assert {k: v for k, v in a.to_dict().items() if k != "datasets"} == {
        k: v for k, v in b.to_dict().items() if k != "datasets"
    }
    taller = a.properties(height=500)  # Altair derives from a fresh chart with the frames
    assert taller.to_dict()["height"] == 500 and a.to_dict()["height"] == 280
    assert _inline(taller.to_dict())["data"] == _inline(a.to_dict())["data"]


def test_what_streamlit_patches_in_a_sent_spec_never_reaches_the_template() -> None:
    """st.vega_lite_chart sets a null legend title to " " inside the spec it is given."""
    frame = _metrics(50, 3, False)
    first = chart_specs._to_spec(charts.neuron_count_chart(frame))
    first["encoding"]["color"]["legend"]["title"] = " "  # what Streamlit does to a sent spec
    chart = charts.neuron_count_chart(frame.iloc[:40])
    assert chart is not None
    _same_as_fresh(chart)
    assert chart_specs._to_spec(chart)["encoding"]["color"]["legend"]["title"] is None


def test_a_pickled_template_chart_is_the_fresh_chart() -> None:
    chart = charts.metric_chart(_metrics(80, 4, False), "loss", smoothing=0.6)
    assert chart is not None
    again = pickle.loads(pickle.dumps(chart))
    assert chart_templates.template_parts(again) is None
    assert _inline(again.to_dict()) == _inline(chart.to_dict())
