"""The run page's nested fragments in headless Chromium: the System history expander sends its
charts only while open, stays open (with its charts) across live refreshes and across a click in
the charts' own fragment (Log scale), and that toggle stays on across refreshes.

Skipped without Debian's /usr/bin/chromium, unless CI=true.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve_log

pytestmark = pytest.mark.e2e

PAGE_TIMEOUT_MS = 90_000
LIVE_TIMEOUT_MS = 45_000

require_chromium()

from playwright.sync_api import expect, sync_playwright  # noqa: E402


def _line(step: int) -> str:
    return (
        json.dumps(
            {
                "event_type": "metric",
                "step": step,
                "wall_time": time.time(),
                "firing_rate": 0.12,
                "capacity": 0.6,
                "performance": 0.5 + step / 1e5,
                "loss": 2.0 - step / 1e4,
                "sys_cpu_percent": 40.0 + step % 7,
                "proc_rss_bytes": 1e9,
                "gpu0_util_percent": 80.0,
                "gpu0_mem_bytes": 4.2e9,
                "gpu0_mem_total_bytes": 8e9,
            }
        )
        + "\n"
    )


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with serve_log(tmp_path, "".join(_line(s) for s in range(0, 2000, 10))) as served:
        yield served


def test_system_history_is_sent_only_while_open_and_stays_open(
    dashboard: tuple[str, Path],
) -> None:
    url, directory = dashboard
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
            box = page.get_by_test_id("stExpander").filter(has_text="System history")
            expect(box).to_have_count(1, timeout=PAGE_TIMEOUT_MS)
            charts = box.get_by_test_id("stVegaLiteChart")
            expect(charts).to_have_count(0)  # closed: nothing hidden was sent

            box.locator("summary").click()
            expect(charts.first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
            shown = charts.count()
            assert shown >= 3  # CPU, memory, GPU utilisation, GPU memory

            # a live refresh: the new step shows, the expander is still open with its charts
            with (directory / "training_log.jsonl").open("a", encoding="utf-8") as fh:
                fh.write(_line(5000))
            expect(page.get_by_text("5,000", exact=True).first).to_be_visible(
                timeout=LIVE_TIMEOUT_MS
            )
            expect(box.locator("details")).to_have_attribute("open", "")
            expect(charts).to_have_count(shown)

            # a click in the charts' fragment reruns that fragment: the history stays open,
            # and the toggle stays on through the next refresh
            toggle = page.get_by_test_id("stCheckbox").filter(has_text="Log scale")
            toggle.locator("label").click()
            expect(toggle.locator("input")).to_be_checked(timeout=LIVE_TIMEOUT_MS)
            with (directory / "training_log.jsonl").open("a", encoding="utf-8") as fh:
                fh.write(_line(6000))
            expect(page.get_by_text("6,000", exact=True).first).to_be_visible(
                timeout=LIVE_TIMEOUT_MS
            )
            expect(toggle.locator("input")).to_be_checked()
            expect(box.locator("details")).to_have_attribute("open", "")
            expect(charts).to_have_count(shown)

            box.locator("summary").click()  # closed again: its charts are no longer sent
            expect(charts).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
        finally:
            browser.close()
