"""The offline report: one self-contained HTML file (and PNGs) of a run's facts and charts.

The charts are the run page's own builders (:mod:`dashboard.page.charts`), down-sampled to a
per-chart point budget so a long run stays small, their Vega-Lite specs embedded as JSON and
drawn by the Vega/Vega-Lite/vega-embed bundle that ``vl-convert-python`` ships, inlined: the file
needs no network. Every text from the run goes through :func:`html.escape` (HTML) or
:func:`_script_json` (JSON inside ``<script>``: ``<``, ``>``, ``&`` and U+2028/9 escaped), so
no run text can become markup or script.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from dashboard.analysis.trainval import train_val_panel, val_pairs
from dashboard.commands.report_facts import (
    RunFacts,
    diagnosis_lines,
    exit_code,
    metric_columns,
)
from dashboard.page import charts, charts_trainval
from dashboard.page.text import plain

__all__ = ["MAIN_CHARTS", "MAX_METRIC_CHARTS", "MAX_PAIRS", "POINT_BUDGET", "ReportChart", "javascript_bundle", "render_html", "report_charts", "write_pngs"]

_LABELS = {
    "firing_rate": "Firing rate",
    "capacity": "Capacity",
    "performance": "Performance",
    "loss": "Loss",
}
#: Points the metric charts share (each gets ``budget // charts``, between the two bounds).
POINT_BUDGET = 40_000
MIN_POINTS, MAX_POINTS = 300, 2_000
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
            out.append(ReportChart(f"{kind}:{pair.val}", "Train / validation", f"{title}: {kind}", spec))
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
    builders: list[tuple[str, str, str, Callable[[], Any]]] = [
        (
            "gpu",
            "Metric history",
            "GPU memory",
            lambda: charts.gpu_memory_chart(metrics, max_points=MAX_POINTS),
        ),
        (
            "growth:neurons",
            "Growth",
            "Neuron count per region",
            lambda: charts.neuron_count_chart(metrics, state.growth_events, max_points=MAX_POINTS),
        ),
        (
            "growth:capacity",
            "Growth",
            "Capacity by region (latest)",
            lambda: charts.capacity_by_region_chart(metrics),
        ),
        (
            "consolidation",
            "Consolidation",
            "Consolidation events",
            lambda: charts.consolidation_chart(state.consolidation_events, max_points=MAX_POINTS),
        ),
    ]
    for key, section, title, build in builders:
        chart = build()
        if chart is not None:
            out.append(ReportChart(key, section, title, _spec(chart)))
    return out, left_out


def _vl_version() -> str:
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
    bundle: str = vlc.javascript_bundle(vl_version=_vl_version())  # type: ignore[call-arg]
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


def _clean(value: Any) -> Any:
    """``value`` with non-finite floats as None (JSON has no NaN), containers walked."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _script_json(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element whatever strings it holds."""
    text = json.dumps(_clean(value), default=str, allow_nan=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _e(value: Any) -> str:
    """Run text (any type) as escaped HTML: bounded like the page's text, then escaped."""
    return html.escape(plain(value), quote=True)


def _num(value: float | None, name: str = "") -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.6g}"


def _step(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1280px;color:#1f2328;padding:0 16px}
h1{font-size:1.5em;margin:0 0 4px} h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;
margin-top:32px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px}
.card .l{color:#59636e;font-size:.85em} .card .v{font-size:1.35em;font-weight:600;
overflow-wrap:anywhere}
.badge{display:inline-block;border-radius:12px;padding:2px 10px;color:#fff;font-weight:600}
.running{background:#1a7f37}.stalled{background:#bc4c00}.finished{background:#0969da}
.waiting{background:#6e7781}
.alert{border-radius:6px;padding:6px 10px;margin:6px 0;overflow-wrap:anywhere}
.critical{background:#ffebe9;border:1px solid #ff8182}.warning{background:#fff8c5;
border:1px solid #d4a72c}.info{background:#ddf4ff;border:1px solid #54aeff}
table{border-collapse:collapse;font-size:.9em} td,th{border:1px solid #d0d7de;padding:3px 8px;
text-align:right} td:first-child,th:first-child{text-align:left;overflow-wrap:anywhere;
max-width:320px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
.chart{border:1px solid #eaeef2;border-radius:6px;padding:8px;min-height:120px}
.vis{width:100%}
.chart h3{margin:0 0 6px;font-size:1em;overflow-wrap:anywhere}
pre{background:#f6f8fa;padding:10px;border-radius:6px;white-space:pre-wrap;
overflow-wrap:anywhere}
.muted{color:#59636e}
"""


def _cards(items: list[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="l">{_e(label)}</div><div class="v">{_e(value)}</div></div>'
            for label, value in items
        )
        + "</div>"
    )


def _alerts_html(facts: RunFacts) -> str:
    if not facts.alerts:
        return '<p class="muted">No alerts: every check passed.</p>'
    return "".join(
        f'<div class="alert {a.severity if a.severity in ("critical", "warning", "info") else "warning"}">'
        f"<b>{_e(a.severity.upper())}</b> {_e(a.message)}</div>"
        for a in facts.alerts
    )


def _metrics_table(facts: RunFacts) -> str:
    if not facts.summaries:
        return '<p class="muted">No metric lines yet.</p>'
    rows = "".join(
        f'<tr data-metric="{_e(s.name)}"><td>{_e(s.name)}</td><td>{_e(s.direction)}</td>'
        f'<td class="last">{_num(s.last)}</td><td>{_step(s.last_step)}</td>'
        f'<td class="min">{_num(s.min)}</td><td class="max">{_num(s.max)}</td>'
        f'<td class="best">{_num(s.best)}</td><td>{_step(s.best_step)}</td>'
        f"<td>{s.count:,}</td></tr>"
        for s in facts.summaries
    )
    return (
        "<table><tr><th>Metric</th><th>Better</th><th>Last</th><th>at step</th><th>Min</th>"
        "<th>Max</th><th>Best</th><th>at step</th><th>Points</th></tr>" + rows + "</table>"
    )


def _milestones_html(facts: RunFacts) -> str:
    total, passed, items = facts.milestones
    if not total:
        return '<p class="muted">No milestones yet (they come with the checkpoint metadata).</p>'
    lis = "".join(f"<li>{'✅' if ok else '❌'} {_e(name)}</li>" for name, ok in items)
    return f"<p>{passed:,} of {total:,} passed ({passed / total:.0%})</p><ul>{lis}</ul>"


def _config_html(facts: RunFacts) -> str:
    if not facts.configs:
        return '<p class="muted">No run_start line with a config in the log.</p>'
    parts = []
    for c in facts.configs:
        head = (
            f"run {plain(c.get('run_id'))} at step {plain(c.get('step'))} ({plain(c.get('file'))})"
        )
        if c.get("resumed_from_step") is not None:
            head += f", resumed from step {plain(c.get('resumed_from_step'))}"
        body = json.dumps(c.get("config"), indent=2, default=str, ensure_ascii=False)
        if len(body) > 20_000:
            body = body[:20_000] + "\n… (cut)"
        parts.append(f"<h3>{html.escape(head)}</h3><pre>{html.escape(body)}</pre>")
    return "".join(parts)


_TABLE_ROWS = 20


def _events_html(facts: RunFacts) -> str:
    """The newest growth and consolidation events, as the page's detail tables."""
    parts = []
    growth = facts.state.growth_events
    if not growth.empty:
        rows = "".join(
            f"<tr><td>{int(r['step']):,}</td><td>{_e(r['region'])}</td>"
            f"<td>{int(r['neurons_added']):,}</td><td>{int(r['new_total']):,}</td>"
            f"<td>{_e(r['reason'])}</td></tr>"
            for r in growth.tail(_TABLE_ROWS).iloc[::-1].to_dict("records")
        )
        parts.append(
            f"<h3>Recent growth events ({len(growth):,} in total)</h3><table><tr>"
            "<th>Step</th><th>Region</th><th>Added</th><th>New total</th><th>Reason</th>"
            f"</tr>{rows}</table>"
        )
    cons = facts.state.consolidation_events
    if not cons.empty:
        rows = "".join(
            f"<tr><td>{int(r['step']):,}</td><td>{_e(r['sleep_stage'])}</td>"
            f"<td>{int(r['patterns_replayed']):,}</td><td>{int(r['duration_steps']):,}</td></tr>"
            for r in cons.tail(_TABLE_ROWS).iloc[::-1].to_dict("records")
        )
        parts.append(
            f"<h3>Recent consolidation events ({len(cons):,} in total)</h3><table><tr>"
            "<th>Step</th><th>Sleep stage</th><th>Patterns replayed</th>"
            f"<th>Duration (steps)</th></tr>{rows}</table>"
        )
    return "".join(parts)


def _bad_lines_html(facts: RunFacts) -> str:
    state = facts.state
    if not state.bad_lines:
        return ""
    rows = "".join(
        f"<tr><td>{_e(b.file)}</td><td>{b.offset:,}</td><td>{_e(b.reason)}</td>"
        f"<td>{_e(b.excerpt)}</td></tr>"
        for b in state.bad_lines[-_TABLE_ROWS:]
    )
    return (
        f"<h3>Bad lines ({state.bad_line_count:,} skipped, latest listed)</h3><table><tr>"
        f"<th>File</th><th>Byte offset</th><th>Reason</th><th>Line (start)</th></tr>{rows}"
        "</table>"
    )


def _history_html(facts: RunFacts) -> str:
    if not facts.alert_history:
        return ""
    items = "".join(f"<li>{_e(a)}</li>" for a in facts.alert_history[-200:])
    return f"<h2>Alert history</h2><ul>{items}</ul>"


def render_html(facts: RunFacts, *, bundle: str | None = None) -> str:
    """The report as one HTML document (``bundle``: the JS bundle, fetched when None)."""
    bundle = javascript_bundle() if bundle is None else bundle
    chart_list, left_out = report_charts(facts)
    state, h, s = facts.state, facts.header, facts.speed
    header = _cards(
        [
            ("Stage", h.stage + (f" — {h.stage_name}" if h.stage_name else "")),
            ("Week", h.week),
            ("Training step", _step(h.step)),
            ("Status", facts.status.text),
            ("Duration", s.duration),
            ("Steps/s", s.steps_per_s),
            ("ETA", s.eta),
            ("Growth events", f"{len(state.growth_events):,}"),
            ("Consolidations", f"{len(state.consolidation_events):,}"),
            ("Bad lines skipped", f"{state.bad_line_count:,}"),
            ("Restarts", f"{len(state.restarts):,}"),
        ]
    )
    sections: dict[str, list[tuple[int, ReportChart]]] = {}
    for i, c in enumerate(chart_list):
        sections.setdefault(c.section, []).append((i, c))
    chart_html = []
    for section in ("Metric history", "Train / validation", "Growth", "Consolidation"):
        if section not in sections:
            continue
        divs = "".join(
            f'<div class="chart"><h3>{_e(c.title)}</h3>'
            f'<div id="chart-{i}" class="vis" data-key="{_e(c.key)}"></div></div>'
            for i, c in sections[section]
        )
        chart_html.append(f'<h2>{html.escape(section)}</h2><div class="grid">{divs}</div>')
    if left_out:
        chart_html.append(
            f'<p class="muted">{left_out:,} more metric columns are not charted; '
            "they are in the metrics table and the JSON summary.</p>"
        )
    specs = _script_json([c.spec for c in chart_list])
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(facts.now))
    code = exit_code(facts.alerts)
    verdict = ["healthy", "warnings", "critical"][code]
    status_kind = (
        facts.status.kind
        if facts.status.kind in ("running", "stalled", "finished", "waiting")
        else "waiting"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:">
<title>Thalia run report — {_e(str(state.checkpoint_dir))}</title>
<style>{_CSS}</style>
<script>{bundle}</script>
</head><body>
<h1>Thalia run report</h1>
<p class="muted">{_e(str(state.checkpoint_dir))} · generated {html.escape(generated)} ·
<span class="badge {status_kind}">{_e(facts.status.text)}</span> · verdict: <b id="verdict">{verdict}</b></p>
{header}
<p>{_e(h.progress_text)}</p>
<h2>Alerts</h2>{_alerts_html(facts)}
{_history_html(facts)}
<h2>Current and best metrics</h2>{_metrics_table(facts)}
{"".join(chart_html) if chart_list else '<p class="muted">No charts yet: no metric lines or events.</p>'}
<h2>Events</h2>{_events_html(facts) or '<p class="muted">No growth or consolidation events yet.</p>'}
{_bad_lines_html(facts)}
<h2>Milestones</h2>{_milestones_html(facts)}
<h2>Diagnosis</h2><pre id="diagnosis">{html.escape(chr(10).join(diagnosis_lines(facts)))}</pre>
<h2>Configuration</h2>{_config_html(facts)}
<script>
const specs = {specs};
window.thaliaCharts = {{total: specs.length, rendered: 0, failed: 0}};
specs.forEach(function (spec, i) {{
  vegaEmbed("#chart-" + i, spec, {{actions: false, renderer: "svg"}})
    .then(function () {{ window.thaliaCharts.rendered += 1; }})
    .catch(function (err) {{ window.thaliaCharts.failed += 1; console.error(err); }});
}});
</script>
</body></html>
"""


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
    version = _vl_version()
    for c in chart_list:
        if c.key not in MAIN_CHARTS and c.section != "Train / validation":
            continue
        png = vlc.vegalite_to_png(c.spec, vl_version=version, scale=scale)
        path = out_dir / f"{_png_name(c.key)}.png"
        path.write_bytes(png)
        written.append(path)
    return written
