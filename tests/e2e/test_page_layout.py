"""The page at 1280 px in a real browser: card values whole, the console tail scrolled to its end.

A running run (durations like "4 min 10 s", an ETA), a 500-line console.log; a screenshot goes
to ``artifacts/e2e-layout-1280.png`` to look at. Skipped without Debian's /usr/bin/chromium,
unless CI=true.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve_dashboard

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
PAGE_TIMEOUT_MS = 90_000

require_chromium()

from playwright.sync_api import sync_playwright  # noqa: E402


def _write_run(directory: Path) -> None:
    directory.mkdir()
    now = time.time()
    regions = ("cortex", "hippocampus", "thalamus")
    with (directory / "training_log.jsonl").open("w", encoding="utf-8") as f:
        for i in range(26):  # 250 s of training up to a few seconds ago: "4 min 10 s"
            f.write(
                json.dumps(
                    {
                        "event_type": "metric",
                        "step": i * 100,
                        "wall_time": now - 252 + i * 10,
                        "firing_rate": 0.1,
                        "capacity": 0.5,
                        "performance": 0.5 + i / 100,
                        "loss": 2.0 - i / 50,
                        "neuron_counts": {r: 100 + i for r in regions},
                        "capacity_by_region": {r: 0.3 + 0.3 * j for j, r in enumerate(regions)},
                        "gpu_mem_bytes": 2e9,
                        "gpu_mem_total_bytes": 8e9,
                    }
                )
                + "\n"
            )
    (directory / "metadata_2500.json").write_text(
        json.dumps(
            {
                "current_stage": 2,
                "step": 2500,
                "current_week": 3,
                "total_weeks": 4,
                "stage_name": "phonology",
                "total_steps": 1_000_000,
                "metrics": {},
                "milestones": {},
                "warnings": [],
            }
        ),
        encoding="utf-8",
    )
    (directory / "console.log").write_text(
        "".join(f"INFO step {i} | loss {2 - i / 500:.4f}\n" for i in range(500)), encoding="utf-8"
    )


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    _write_run(tmp_path / "run")
    with serve_dashboard(tmp_path / "run") as url:
        yield url


_CUT_VALUES = """() => Array.from(document.querySelectorAll('[data-testid="stMetricValue"]'))
  .filter(v => [v, ...v.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1))
  .map(v => v.closest('[data-testid="stMetric"]').innerText.replace(/\\n/g, ' '))"""
_CONSOLE = """() => { const box = document.querySelector('.st-key-console_tail');
  const el = [box, ...box.querySelectorAll('*')].find(
      e => e.scrollHeight > e.clientHeight + 5 && getComputedStyle(e).overflowY !== 'visible');
  return {box: box.getBoundingClientRect().height, top: el.scrollTop, client: el.clientHeight,
          height: el.scrollHeight}; }"""


def test_cards_whole_and_console_at_its_end_at_1280_px(dashboard: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(dashboard, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
            page.get_by_role("heading", name="Training information").wait_for(
                timeout=PAGE_TIMEOUT_MS
            )
            page.get_by_text("INFO step 499").wait_for(timeout=PAGE_TIMEOUT_MS)
            eta = page.get_by_test_id("stMetric").filter(has_text="ETA")
            assert " h " in eta.inner_text() or " d " in eta.inner_text()  # a long ETA
            assert (
                "4 min" in page.get_by_test_id("stMetric").filter(has_text="Duration").inner_text()
            )
            assert page.evaluate(_CUT_VALUES) == []
            console = page.evaluate(_CONSOLE)
            assert console["box"] <= 340  # height-bounded, not a 4,500-px block
            # it opens at its end (the newest line): wait for the (smooth) scroll to get there
            page.wait_for_function(
                f"(() => {{ const c = ({_CONSOLE})(); return c.top + c.client >= c.height - 2; }})()",
                timeout=15_000,
            )
            page.set_viewport_size({"width": 1280, "height": 4000})
            page.wait_for_timeout(1000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "e2e-layout-1280.png"), full_page=True)
        finally:
            browser.close()


def test_symlinks_out_of_the_run_are_not_followed(tmp_path: Path) -> None:
    """A log and a console.log that are symlinks to files outside the run directory: neither
    file's text reaches the browser; the page says the console is not shown and counts the
    refused log as a bad line."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jsonl").write_text(
        json.dumps({"event_type": "metric", "step": 5, "loss": 0.1, "secret_metric_xyz": 1.0})
        + "\n",
        encoding="utf-8",
    )
    (outside / "secret.log").write_text("SECRET_CONSOLE_LINE root:x:0:0\n", encoding="utf-8")
    run = tmp_path / "run"
    _write_run(run)
    (run / "console.log").unlink()
    (run / "console.log").symlink_to(outside / "secret.log")
    (run / "training_log.rank1.jsonl").symlink_to(outside / "secret.jsonl")
    with serve_dashboard(run) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 3000})
            page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
            page.get_by_text("log not shown").wait_for(timeout=PAGE_TIMEOUT_MS)
            page.get_by_text("bad line").first.wait_for(timeout=PAGE_TIMEOUT_MS)
            text = page.locator("body").inner_text()
            assert "SECRET_CONSOLE_LINE" not in text
            assert "secret_metric_xyz" not in text
            assert page.get_by_test_id("stSelectbox").count() == 0  # no rank 1 from outside
        finally:
            browser.close()
