"""The report in headless Chromium with every non-file request aborted: every chart renders
(an SVG each), no console errors, no network, and the numbers match ``load_training_state``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from report_helpers import make_run

from dashboard import load_training_state
from dashboard.commands import report
from dashboard.commands.report_facts import run_facts
from dashboard.commands.report_html import report_charts

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium"),
]


def test_report_renders_offline(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    run = make_run(tmp_path / "run", kind="warning", text="<b>x</b>")
    out = tmp_path / "report.html"
    assert report.main([str(run), "-o", str(out)]) == 1
    state = load_training_state(run)
    expected_charts = len(report_charts(run_facts(state))[0])
    assert expected_charts >= 8
    errors: list[str] = []
    blocked: list[str] = []

    def route(r: object) -> None:
        url = r.request.url  # type: ignore[attr-defined]
        if url.startswith("file:"):
            r.continue_()  # type: ignore[attr-defined]
        else:
            blocked.append(url)
            r.abort()  # type: ignore[attr-defined]

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", route)
            page.goto(out.as_uri())
            page.wait_for_function(
                "window.thaliaCharts && window.thaliaCharts.rendered"
                " + window.thaliaCharts.failed === window.thaliaCharts.total",
                timeout=60_000,
            )
            counts = page.evaluate("window.thaliaCharts")
            svgs = page.locator(".vis svg").count()
            rows = {
                f"{name}.{col}": page.locator(f'tr[data-metric="{name}"] td.{col}').inner_text()
                for name, col in (("loss", "last"), ("loss", "best"), ("performance", "max"))
            }
            bold = page.locator("b", has_text="x").count()  # run text "<b>x</b>" is not markup
            if os.environ.get("THALIA_REPORT_SCREENSHOT"):
                page.screenshot(path=os.environ["THALIA_REPORT_SCREENSHOT"], full_page=True)
        finally:
            browser.close()
    assert counts == {"total": expected_charts, "rendered": expected_charts, "failed": 0}
    assert svgs == expected_charts
    assert errors == [] and blocked == []
    frame = state.metrics_history
    assert rows["loss.last"] == f"{frame['loss'].iloc[-1]:,.6g}"
    assert rows["loss.best"] == f"{frame['loss'].min():,.6g}"
    assert rows["performance.max"] == f"{frame['performance'].max():,.6g}"
    assert bold == 0
