"""The report's charts: every chart of the run page built with the page's own Altair builders (metric history, train/validation panels, GPU memory, growth, capacity, consolidation), as Vega-Lite specs with a shared point budget, and their PNG images through vl-convert (no browser)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from dashboard.analysis.series import CARD_METRICS
from dashboard.analysis.trainval import train_val_panel, val_pairs
from dashboard.commands.report_facts import (
    RunFacts,
    metric_columns,
)
from dashboard.page import charts, charts_trainval

__all__ = [
    "MAIN_CHARTS",
    "MAX_METRIC_CHARTS",
    "MAX_PAIRS",
    "MAX_POINTS",
    "MIN_POINTS",
    "POINT_BUDGET",
    "ReportChart",
    "javascript_bundle",
    "report_charts",
    "vl_version",
    "write_pngs",
]


_LABELS = dict(CARD_METRICS)


#: Points the metric charts share (each gets ``budget // charts``, between the two bounds).
POINT_BUDGET = 40_000


MIN_POINTS = 300


MAX_POINTS = 2_000


MAX_METRIC_CHARTS = 60


MAX_PAIRS = 6  # train/validation pairs drawn, as many as the run page shows


#: The charts written as PNG with ``--png`` (keys of :class:`ReportChart`).
MAIN_CHARTS = (
    "metric:loss",
    "metric:performance",
    "metric:firing_rate",
    "metric:capacity",
    "growth:neurons",
    "growth:capacity",
    "consolidation",
)


@dataclass(frozen=True)
class ReportChart:
    """One chart of the report: a stable ``key`` (also the PNG name), the section it belongs to,
    its title (run text: escape it) and its Vega-Lite spec."""

    key: str
    section: str
    title: str
    spec: dict[str, Any]


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    spec = chart.to_dict()
    if "width" not in spec and "hconcat" not in spec and "facet" not in spec:
        spec["width"] = "container"  # fill the report's chart box, as on the page
    return spec


def _train_val_charts(metrics: pd.DataFrame) -> list[ReportChart]:
    """The run page's train/validation panels (train and val on one chart, gap, improvement per
    evaluation with NEW BEST marks, stability), for each ``val_X`` the run logs next to ``X``."""
    out: list[ReportChart] = []
    if metrics.empty:
        return out
    pairs = [p for p in val_pairs(metrics.columns) if metrics[p.val].notna().any()]
    for pair in pairs[:MAX_PAIRS]:
        panel = train_val_panel(metrics, pair)
        if panel is None:
            continue
        title = f"{_LABELS.get(pair.train, pair.train)} / {pair.val}"
        for kind, build in (
            ("train-val", charts_trainval.train_val_chart),
            ("gap", charts_trainval.gap_chart),
            ("improvement", charts_trainval.improvement_chart),
            ("stability", charts_trainval.stability_chart),
        ):
            spec = _spec(build(panel))
            out.append(
                ReportChart(f"{kind}:{pair.val}", "Train / validation", f"{title}: {kind}", spec)
            )
    return out


def _event_charts(facts: RunFacts) -> list[ReportChart]:
    """GPU memory, neurons and capacity per region, consolidation: the page's other charts."""
    state, metrics = facts.state, facts.metrics
    builders: list[tuple[str, str, str, Callable[[], Any]]] = [
        ("gpu", "Metric history", "GPU memory",
         lambda: charts.gpu_memory_chart(metrics, max_points=MAX_POINTS)),
        ("growth:neurons", "Growth", "Neuron count per region",
         lambda: charts.neuron_count_chart(metrics, state.growth_events, max_points=MAX_POINTS)),
        ("growth:capacity", "Growth", "Capacity by region (latest)",
         lambda: charts.capacity_by_region_chart(metrics)),
        ("consolidation", "Consolidation", "Consolidation events",
         lambda: charts.consolidation_chart(state.consolidation_events, max_points=MAX_POINTS)),
    ]  # fmt: skip
    out = []
    for key, section, title, build in builders:
        chart = build()
        if chart is not None:
            out.append(ReportChart(key, section, title, _spec(chart)))
    return out


def report_charts(facts: RunFacts) -> tuple[list[ReportChart], int]:
    """Every chart of the run page for ``facts``, and how many metric columns were left out
    (beyond :data:`MAX_METRIC_CHARTS`; they are still in the tables and the JSON)."""
    state, metrics = facts.state, facts.metrics
    out: list[ReportChart] = []
    columns = metric_columns(state, metrics) if not metrics.empty else []
    plan = [("Metric history", c) for c in columns]
    left_out = max(0, len(plan) - MAX_METRIC_CHARTS)
    plan = plan[:MAX_METRIC_CHARTS]
    points = int(min(MAX_POINTS, max(MIN_POINTS, POINT_BUDGET // max(1, len(plan)))))
    for section, column in plan:
        chart = charts.metric_chart(
            metrics,
            column,
            title=_LABELS.get(column, column),
            smoothing=0.6,
            restarts=state.restarts,
            stage_events=state.stage_events,
            nonfinite=state.nonfinite_rows(column, 0),
            max_points=points,
        )
        if chart is not None:
            out.append(
                ReportChart(f"metric:{column}", section, _LABELS.get(column, column), _spec(chart))
            )
    out += _train_val_charts(metrics)
    out += _event_charts(facts)
    return out, left_out


def _png_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key.replace(":", "_")).strip("._") or "chart"


def write_pngs(facts: RunFacts, directory: str | Path, *, scale: float = 1.0) -> list[Path]:
    """PNGs of the main charts (:data:`MAIN_CHARTS`, plus every train/val chart) through
    vl-convert (no browser); returns the written paths."""
    import vl_convert as vlc

    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    chart_list, _ = report_charts(facts)
    written = []
    version = vl_version()
    for c in chart_list:
        if c.key not in MAIN_CHARTS and c.section != "Train / validation":
            continue
        png = vlc.vegalite_to_png(c.spec, vl_version=version, scale=scale)
        path = out_dir / f"{_png_name(c.key)}.png"
        path.write_bytes(png)
        written.append(path)
    return written


def vl_version() -> str:
    """The Vega-Lite version vl-convert renders with (the one altair targets)."""
    from altair.utils._importers import vl_version_for_vl_convert

    return vl_version_for_vl_convert()


def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one classic script (``window.vegaEmbed``), from
    ``vl-convert-python`` (offline). Raises ImportError with the install hint when missing."""
    try:
        import vl_convert as vlc
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "thalia-report needs vl-convert-python: pip install 'thalia-monitor[report]'"
        ) from exc
    bundle: str = vlc.javascript_bundle(vl_version=vl_version())  # type: ignore[call-arg]
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)
