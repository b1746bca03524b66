"""The report's stylesheet: one inlined CSS block, light and print-friendly (no web fonts, no network)."""

from __future__ import annotations

__all__ = ["CSS"]


CSS = """
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
.failed,.crashed{background:#cf222e}.killed{background:#8250df}
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
