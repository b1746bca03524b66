"""Chart builders: the Vega-Lite spec says what the page promises, data stays within budget."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from page_helpers import logged_nonfinite, make_metrics

from dashboard.page import charts
from dashboard.run_state import Restart

XSS = "<img src=x onerror=alert(1)>"


def datasets(chart: Any) -> dict[str, list[dict[str, Any]]]:
    spec = chart.to_dict()
    return spec.get("datasets", {})


def layers(chart: Any) -> list[dict[str, Any]]:
    return chart.to_dict()["layer"]


@pytest.fixture(autouse=True)
def _reset_stats() -> None:
    charts.POINT_STATS.reset()


def test_metric_chart_downsamples_and_marks_nan() -> None:
    n = 200_000
    loss = np.linspace(3, 1, n)
    loss[150_000] = 40.0
    loss[190_000:190_010] = math.nan
    metrics = make_metrics(n, loss=loss)
    chart = charts.metric_chart(
        metrics, "loss", title="Loss", nonfinite=logged_nonfinite(metrics, "loss")
    )
    assert chart is not None
    sizes = sorted(len(rows) for rows in datasets(chart).values())
    assert max(sizes) <= 5000 and 10 in sizes
    assert charts.POINT_STATS.max_series_points <= 5000
    spec = layers(chart)
    marks = [layer["mark"]["type"] for layer in spec]
    assert marks == ["line", "point"]
    marker = spec[1]
    assert marker["mark"]["color"] == charts.NAN_COLOR and marker["encoding"]["y"] == {"value": 6}
    line_rows = next(rows for rows in datasets(chart).values() if len(rows) > 10)
    assert max(r["value"] for r in line_rows) == 40.0
    assert line_rows[-1]["step"] == (n - 1) * 100


def test_log_scale_and_ema_overlay() -> None:
    chart = charts.metric_chart(make_metrics(50), "loss", log_scale=True, smoothing=0.9)
    assert chart is not None
    raw, smooth = layers(chart)
    assert raw["mark"]["opacity"] < 0.5 and "opacity" not in smooth["mark"]
    assert raw["encoding"]["y"]["scale"]["type"] == "log"
    assert smooth["encoding"]["y"]["field"] == "smoothed"


def test_extra_column_nan_means_not_logged() -> None:
    lr = np.full(10, math.nan)
    lr[::2] = 1e-3
    chart = charts.metric_chart(make_metrics(10, lr=lr), "lr")
    assert chart is not None
    assert [layer["mark"]["type"] for layer in layers(chart)] == ["line"]
    assert charts.metric_chart(make_metrics(10, lr=math.nan), "lr") is None
    assert charts.metric_chart(make_metrics(10), "missing") is None


def test_restart_and_stage_rules_with_tooltips() -> None:
    stages = pd.DataFrame(
        {
            "step": [0, 500],
            "wall_time": [0.0, 1.0],
            "rank": [0, 0],
            "stage": [0, 1],
            "name": ["sensory", XSS],
        }
    )
    restart = Restart("training_log.jsonl", "resumed", 300, 0.0)
    chart = charts.metric_chart(make_metrics(10), "loss", restarts=[restart], stage_events=stages)
    assert chart is not None
    rule = layers(chart)[-1]
    assert rule["mark"]["type"] == "rule"
    labels = [r["label"] for rows in datasets(chart).values() for r in rows if "label" in r]
    assert labels == [
        "Restart (resumed) to step 300 in training_log.jsonl",
        "Stage 0: sensory",
        f"Stage 1: {XSS}",
    ]


def test_neuron_counts_from_columns_compresses_step_lines() -> None:
    n = 50_000
    counts = {f"neuron_counts.r{i}": np.repeat(np.arange(100) * 10 + i, n // 100) for i in range(3)}
    counts[f"neuron_counts.{XSS}"] = np.full(n, 7.0)
    chart = charts.neuron_count_chart(make_metrics(n, **counts))
    assert chart is not None
    spec = chart.to_dict()
    assert spec["mark"]["interpolate"] == "step-after"
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) <= 5000
    assert {r["region"] for r in rows} == {"r0", "r1", "r2", XSS}
    assert spec["encoding"]["color"]["field"] == "region"
    assert XSS not in json.dumps(spec["encoding"])


def test_neuron_counts_from_growth_events_when_no_columns() -> None:
    growth = pd.DataFrame(
        {
            "step": [100, 200, 300],
            "wall_time": [0.0] * 3,
            "rank": [0] * 3,
            "region": ["cortex", "hippocampus", "cortex"],
            "neurons_added": [10, 5, 10],
            "new_total": [110, 55, 120],
            "reason": ["capacity"] * 3,
        }
    )
    chart = charts.neuron_count_chart(make_metrics(5), growth)
    assert chart is not None
    rows = next(iter(datasets(chart).values()))
    assert [(r["region"], r["neurons"]) for r in rows] == [
        ("cortex", 110),
        ("cortex", 120),
        ("hippocampus", 55),
    ]
    assert charts.neuron_count_chart(make_metrics(5), None) is None


def test_capacity_by_region_latest_values_and_threshold_rule() -> None:
    metrics = make_metrics(
        5,
        **{
            "capacity_by_region.cortex": [0.1, 0.2, 0.3, 0.4, 0.97],
            f"capacity_by_region.{XSS}": [0.5, 0.5, 0.5, math.nan, math.nan],
        },
    )
    chart = charts.capacity_by_region_chart(metrics)
    assert chart is not None
    data = {
        r["region"]: r["capacity"]
        for rows in datasets(chart).values()
        for r in rows
        if "region" in r
    }
    assert data == {"cortex": 0.97, XSS: 0.5}
    colours = {r["region"]: r["colour"] for rows in datasets(chart).values() for r in rows
               if "region" in r}  # fmt: skip
    assert colours == {"cortex": charts.NAN_COLOR, XSS: charts.LINE_COLOR}  # red above 0.95
    thresholds = [
        r["threshold"] for rows in datasets(chart).values() for r in rows if "threshold" in r
    ]
    assert thresholds == [0.95]
    assert charts.capacity_by_region_chart(make_metrics(5)) is None


def test_consolidation_timeline_colours_sleep_stages() -> None:
    n = 12_000
    events = pd.DataFrame(
        {
            "step": np.arange(n) * 10,
            "wall_time": 0.0,
            "rank": 0,
            "sleep_stage": np.where(np.arange(n) % 3, "NREM", "REM"),
            "patterns_replayed": np.arange(n) % 500,
            "duration_steps": 100,
        }
    )
    chart = charts.consolidation_chart(events)
    assert chart is not None
    spec = chart.to_dict()
    assert spec["encoding"]["color"]["scale"]["domain"] == ["NREM", "REM"]
    assert spec["encoding"]["y"]["field"] == "patterns_replayed"
    assert len(next(iter(spec["datasets"].values()))) <= 5000
    assert charts.consolidation_chart(events.iloc[:0]) is None


def test_gpu_memory_chart_only_when_column_exists() -> None:
    assert charts.gpu_memory_chart(make_metrics(5)) is None
    gib = 1024**3
    chart = charts.gpu_memory_chart(
        make_metrics(5, gpu_mem_bytes=2 * gib, gpu_mem_total_bytes=8 * gib)
    )
    assert chart is not None
    rows = next(iter(datasets(chart).values()))
    assert {(r["series"], r["gib"]) for r in rows} == {("used", 2.0), ("total", 8.0)}


def _all_builders() -> list[Any]:
    n = 300
    metrics = make_metrics(
        n,
        **{
            "neuron_counts.cortex": np.arange(n) // 10 + 100.0,
            "capacity_by_region.cortex": np.full(n, 0.97),
            "gpu_mem_bytes": 1e9,
            "gpu_mem_total_bytes": 8e9,
        },
    )
    metrics.loc[150, "loss"] = math.nan
    stages = pd.DataFrame(
        {"step": [0], "wall_time": [0.0], "rank": [0], "stage": [0], "name": ["sensory"]}
    )
    events = pd.DataFrame(
        {
            "step": [10, 20],
            "wall_time": 0.0,
            "rank": 0,
            "sleep_stage": ["NREM", "REM"],
            "patterns_replayed": [5, 6],
            "duration_steps": [3, 4],
        }
    )
    restart = Restart("training_log.jsonl", "resumed", 300, 0.0)
    return [
        charts.metric_chart(
            metrics,
            "loss",
            restarts=[restart],
            stage_events=stages,
            nonfinite=logged_nonfinite(metrics, "loss"),
        ),
        charts.metric_chart(metrics, "loss", smoothing=0.6, log_scale=True),
        charts.neuron_count_chart(metrics),
        charts.capacity_by_region_chart(metrics),
        charts.consolidation_chart(events),
        charts.gpu_memory_chart(metrics),
    ]


def test_every_builder_makes_a_valid_vega_lite_spec() -> None:
    # the page skips Altair's validation (speed); this is where the specs are validated
    for chart in _all_builders():
        assert chart is not None
        chart.to_dict(validate=True)  # raises SchemaValidationError on an invalid spec
        assert chart.to_dict() == chart.to_dict(validate=True)


def test_event_legend_shows_only_kinds_that_exist() -> None:
    stages = pd.DataFrame(
        {
            "step": [0, 500],
            "wall_time": [0.0, 1.0],
            "rank": [0, 0],
            "stage": [0, 1],
            "name": ["a", "b"],
        }
    )
    restart = Restart("training_log.jsonl", "resumed", 300, 0.0)
    cases = [
        ((), stages, ["stage change"]),
        ([restart], None, ["restart"]),
        ([restart], stages, ["restart", "stage change"]),
    ]
    for restarts, stage_events, domain in cases:
        chart = charts.metric_chart(
            make_metrics(10), "loss", restarts=restarts, stage_events=stage_events
        )
        assert chart is not None
        scale = layers(chart)[-1]["encoding"]["color"]["scale"]
        assert scale == {"domain": domain, "range": [charts.EVENT_COLORS[k] for k in domain]}
    chart = charts.metric_chart(make_metrics(10), "loss")
    assert chart is not None and [la["mark"]["type"] for la in layers(chart)] == ["line"]


def test_growth_charts_keep_long_region_names_readable() -> None:
    long_name = "hippocampus_CA3_recurrent_collaterals_" * 3
    metrics = make_metrics(
        5, **{f"neuron_counts.{long_name}": 100.0, f"capacity_by_region.{long_name}": 0.5}
    )
    lines = charts.neuron_count_chart(metrics)
    assert lines is not None
    legend = lines.to_dict()["encoding"]["color"]["legend"]
    assert legend["orient"] == "bottom" and legend["labelLimit"] > 0
    bars = charts.capacity_by_region_chart(metrics)
    assert bars is not None
    enc = layers(bars)[0]["encoding"]
    assert enc["y"]["field"] == "region" and enc["x"]["field"] == "capacity"  # horizontal bars
    assert enc["y"]["axis"]["labelLimit"] > 0
    assert {"field": "region", "title": "Region", "type": "nominal"} in enc["tooltip"]


@pytest.mark.parametrize("smoothing", [0.0, 0.6, 0.999])
@pytest.mark.parametrize("log_scale", [False, True])
def test_a_constant_series_draws_flat_with_a_padded_domain(
    smoothing: float, log_scale: bool
) -> None:
    chart = charts.metric_chart(
        make_metrics(3000, lr=0.05), "lr", smoothing=smoothing, log_scale=log_scale
    )
    assert chart is not None
    rows = next(iter(datasets(chart).values()))
    assert {r["value"] for r in rows} == {0.05}
    if smoothing:
        assert {r["smoothed"] for r in rows} == {0.05}
    domain = layers(chart)[-1]["encoding"]["y"]["scale"]["domain"]
    assert domain[0] < 0.05 < domain[1] and domain == (
        [0.025, 0.1] if log_scale else pytest.approx([0.045, 0.055])
    )


def test_zero_constant_gets_a_domain_too() -> None:
    chart = charts.metric_chart(make_metrics(10, zeros=0.0), "zeros")
    assert chart is not None
    assert layers(chart)[0]["encoding"]["y"]["scale"]["domain"] == [-1.0, 1.0]


def test_smoothing_runs_on_the_full_series_before_downsampling() -> None:
    """1M noisy points around a falling trend: the drawn EMA follows the trend (no min/max band)."""
    n = 1_000_000
    trend = np.linspace(2.0, 1.0, n)
    noise = np.random.default_rng(3).normal(scale=0.5, size=n)
    chart = charts.metric_chart(make_metrics(n, loss=trend + noise), "loss", smoothing=0.999)
    assert chart is not None
    rows = next(iter(datasets(chart).values()))
    assert len(rows) <= 5000
    steps = np.array([r["step"] for r in rows]) // 100
    smoothed = np.array([r["smoothed"] for r in rows])
    raw = np.array([r["value"] for r in rows])
    late = steps > 10_000  # past the EMA's warm-up
    assert np.abs(smoothed[late] - trend[steps[late]]).max() < 0.15  # a trend, not a band
    assert raw.max() - raw.min() > 3  # the faint raw line keeps the min/max extremes
