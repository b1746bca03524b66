"""Chart labels and legends: every capacity bar keeps its label, the GPU memory chart a legend."""

from __future__ import annotations

from typing import Any

from page_helpers import make_metrics

from dashboard.page import charts


def _layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("layer", [spec])


def test_capacity_bars_keep_every_label_and_show_values() -> None:
    regions = {
        f"capacity_by_region.{name}": 0.3 + 0.3 * i
        for i, name in enumerate(("cortex", "hippocampus", "thalamus"))
    }
    chart = charts.capacity_by_region_chart(make_metrics(3, **regions))
    assert chart is not None
    spec = chart.to_dict(validate=True)
    assert spec["height"] == {"step": 30}  # a band per region, not one fixed height for all
    bars, values, _rule = _layers(spec)
    assert bars["encoding"]["y"]["axis"]["labelOverlap"] is False  # no label culled
    assert values["mark"]["type"] == "text" and values["encoding"]["text"]["format"] == ".1%"


def test_gpu_memory_chart_has_a_legend() -> None:
    metrics = make_metrics(5, gpu_mem_bytes=2e9, gpu_mem_total_bytes=8e9)
    chart = charts.gpu_memory_chart(metrics)
    assert chart is not None
    encoding = chart.to_dict(validate=True)["encoding"]
    assert encoding["color"].get("legend", {}) is not None
    assert encoding["strokeDash"].get("legend", {}) is not None  # merged with colour, not hidden
    assert encoding["color"]["scale"]["domain"] == ["used", "total"]
