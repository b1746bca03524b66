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
import time
from typing import Any

from dashboard.commands.report_charts import (
    MAIN_CHARTS,
    MAX_METRIC_CHARTS,
    MAX_PAIRS,
    POINT_BUDGET,
    ReportChart,
    javascript_bundle,
    report_charts,
    write_pngs,
)
from dashboard.commands.report_facts import (
    RunFacts,
    diagnosis_lines,
    exit_code,
)
from dashboard.commands.report_style import CSS as _CSS
from dashboard.page.text import plain

__all__ = [
    "MAIN_CHARTS",
    "MAX_METRIC_CHARTS",
    "MAX_PAIRS",
    "POINT_BUDGET",
    "ReportChart",
    "javascript_bundle",
    "render_html",
    "report_charts",
    "write_pngs",
]


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


def _header_cards(facts: RunFacts) -> str:
    """The header facts as cards (the run page's header and training information)."""
    state, h, s = facts.state, facts.header, facts.speed
    return _cards(
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


def _charts_html(chart_list: list[ReportChart], left_out: int) -> list[str]:
    """One grid of chart placeholders per section, in the run page's order."""
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
    return chart_html


def render_html(facts: RunFacts, *, bundle: str | None = None) -> str:
    """The report as one HTML document (``bundle``: the JS bundle, fetched when None)."""
    bundle = javascript_bundle() if bundle is None else bundle
    chart_list, left_out = report_charts(facts)
    state, h = facts.state, facts.header
    header = _header_cards(facts)
    chart_html = _charts_html(chart_list, left_out)
    specs = _script_json([c.spec for c in chart_list])
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(facts.now))
    code = exit_code(facts.alerts)
    verdict = ["healthy", "warnings", "critical"][code]
    status_kind = facts.status.kind  # one CSS class per LifecycleKind (report_style)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:">
<title>Thalia run report — {_e(state.where)}</title>
<style>{_CSS}</style>
<script>{bundle}</script>
</head><body>
<h1>Thalia run report</h1>
<p class="muted">{_e(state.where)} · generated {html.escape(generated)} ·
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
