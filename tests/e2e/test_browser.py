"""The real thing: ``thalia-dashboard`` on a demo directory, driven in headless Chromium.

Checks what a user sees: the sections with the numbers last written, new lines appearing
without a reload, and a hostile region name shown as text (no script runs). A full-page
screenshot goes to ``artifacts/``. Skipped without Debian's /usr/bin/chromium, unless CI=true.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_helpers import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve_dashboard

from thalia_logging import CurriculumLogger
from thalia_logging.demo import write_event
from thalia_logging.simulation import DemoConfig, simulate

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
XSS = '<img src=x onerror="window.__xss=1">'
PAGE_TIMEOUT_MS = 90_000
LIVE_TIMEOUT_MS = 45_000

require_chromium()

from playwright.sync_api import Locator, Page, expect, sync_playwright  # noqa: E402


@dataclass(frozen=True)
class Run:
    """What the fixture wrote, so the test knows the numbers the page must show."""

    directory: Path
    last_step: int
    last_loss: float
    growth_events: int
    consolidations: int
    milestones_total: int
    milestones_passed: int


def _write_run(directory: Path) -> Run:
    config = DemoConfig(total_steps=4_000, seed=11)
    events = list(simulate(config))
    step = config.total_steps + 100
    milestones = {"mnist_accuracy": True, "sequence_prediction": True, XSS: False}
    with CurriculumLogger(directory, console_log=False, background_flush=False) as logger:
        for event in events:
            write_event(logger, event)
        logger.log_growth(step, XSS, 64, 192, reason="capacity 0.95 > 0.92")
        logger.log_metrics(step, firing_rate=0.104, capacity=0.61, performance=0.87, loss=0.3456,
                           neuron_counts={XSS: 192}, capacity_by_region={XSS: 0.5})  # fmt: skip
        logger.write_metadata(step, current_stage=3, current_week=4, total_weeks=4,
                              metrics={"loss": 0.3456}, milestones=milestones,
                              warnings=[{"severity": "warning", "message": f"region {XSS} is new"}],
                              stage_name="reading", total_stages=4, total_steps=20_000)  # fmt: skip
    return Run(
        directory=directory,
        last_step=step,
        last_loss=0.3456,
        growth_events=sum(e.kind == "growth" for e in events) + 1,
        consolidations=sum(e.kind == "consolidation" for e in events),
        milestones_total=len(milestones),
        milestones_passed=sum(milestones.values()),
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, Run]]:
    run = _write_run(tmp_path / "run")
    with serve_dashboard(run.directory) as url:
        yield url, run


def _metric(page: Page, label: str) -> Locator:
    card = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    return card.first.get_by_test_id("stMetricValue")


def _append_metric(directory: Path, step: int, loss: float) -> None:
    line = {"event_type": "metric", "step": step, "wall_time": time.time(), "firing_rate": 0.101,
            "capacity": 0.62, "performance": 0.88, "loss": loss}  # fmt: skip
    with (directory / "training_log.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


def test_dashboard_in_a_real_browser(dashboard: tuple[str, Run]) -> None:
    url, run = dashboard
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True)  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)

            # The sections, with the numbers last written.
            for title in ("Current metrics", "Metric history", "Growth", "Consolidation",
                          "Milestone checklist", "Training information"):  # fmt: skip
                expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(
                    timeout=PAGE_TIMEOUT_MS
                )
            expect(_metric(page, "Loss")).to_have_text(f"{run.last_loss:.4g}")
            expect(_metric(page, "Training step")).to_have_text(f"{run.last_step:,}")
            expect(_metric(page, "Total")).to_have_text(str(run.milestones_total))
            expect(_metric(page, "Passed")).to_have_text(str(run.milestones_passed))
            expect(_metric(page, "Growth events")).to_have_text(f"{run.growth_events:,}")
            expect(_metric(page, "Consolidations")).to_have_text(f"{run.consolidations:,}")
            expect(page.get_by_text("✅ mnist_accuracy")).to_be_visible()

            # A hostile region / milestone / warning text is shown as text; no script ran.
            expect(page.get_by_text(XSS).first).to_be_visible()
            assert page.evaluate("typeof window.__xss") == "undefined"
            assert page.locator('img[src="x"]').count() == 0

            # New lines appear without a reload (the marker would vanish on a reload).
            page.evaluate("window.__noReload = 42")
            step, loss = run.last_step + 100, 0.2222
            _append_metric(run.directory, step, loss)
            expect(_metric(page, "Training step")).to_have_text(f"{step:,}",
                                                                timeout=LIVE_TIMEOUT_MS)  # fmt: skip
            expect(_metric(page, "Loss")).to_have_text(f"{loss:.4g}")
            assert page.evaluate("window.__noReload") == 42
            assert page.evaluate("typeof window.__xss") == "undefined"

            # A tall viewport so Streamlit's scrolling main area fits in the full-page shot.
            page.set_viewport_size({"width": 1400, "height": 5200})  # + the train/val panels
            expect(page.get_by_role("heading", name="Training information")).to_be_in_viewport()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "e2e-dashboard.png"), full_page=True)
        finally:
            browser.close()
