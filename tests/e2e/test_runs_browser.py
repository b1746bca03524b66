"""Many runs in one server, in headless Chromium: ``thalia-dashboard --root`` over three runs
(one finished, one live with a writer appending, one legacy-format run gone quiet).

The Runs table shows three rows with the right statuses and the live run's step moving; a
Compare deep link restores two runs overlaid stage-aligned; a view changed on the page is in the
URL and a fresh page opened on that URL shows it again. Screenshots go to ``artifacts/``.
Skipped without Debian's /usr/bin/chromium, unless CI=true.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve_dashboard

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))
from runs_helpers import append_metric, write_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
PAGE_TIMEOUT_MS = 90_000
LIVE_TIMEOUT_MS = 45_000

require_chromium()

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """The three runs, and a writer thread appending to the live one until the test ends."""
    base = tmp_path / "root"
    write_run(base / "done", end="finished", stages=(0, 400), config={"lr": 0.1},
              milestones=[(500, {"reading": True})])  # fmt: skip
    write_run(base / "sweep" / "live", stages=(0, 700), config={"lr": 0.01})
    old = write_run(base / "old", legacy=True)
    quiet = time.time() - 3_600
    os.utime(old / "training_log.json", (quiet, quiet))
    stop = threading.Event()

    def writer() -> None:
        step = 1_000
        while not stop.wait(0.3):
            append_metric(base / "sweep" / "live", step, 1.0 - step / 1e6)
            step += 10

    thread = threading.Thread(target=writer, name="live-run-writer")
    thread.start()
    try:
        yield base
    finally:
        stop.set()
        thread.join()


def _cell(page: Page, column: int, row: int) -> str:
    return page.get_by_test_id(f"glide-cell-{column}-{row}").inner_text()


def _rows(page: Page) -> dict[str, int]:
    """Run name -> row index in the Runs table (the grid's accessible cells)."""
    return {_cell(page, 0, r): r for r in range(3)}


def _runs_table(page: Page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
    expect(page.get_by_test_id("glide-cell-0-2")).to_be_attached(timeout=PAGE_TIMEOUT_MS)
    rows = _rows(page)
    assert sorted(rows) == ["done", "old", "sweep/live"]
    assert _cell(page, 1, rows["done"]) == "finished"
    assert _cell(page, 1, rows["sweep/live"]) == "running"
    assert _cell(page, 1, rows["old"]).startswith("stalled")
    step = page.get_by_test_id(f"glide-cell-4-{rows['sweep/live']}")
    first = step.inner_text()
    expect(step).not_to_have_text(first, timeout=LIVE_TIMEOUT_MS)  # the live step moves
    assert int(step.inner_text().replace(",", "")) > int(first.replace(",", ""))
    page.screenshot(path=str(ARTIFACTS / "e2e-runs-overview.png"), full_page=True)


def _compare(page: Page, url: str) -> None:
    page.goto(f"{url}compare?runs=done&runs=sweep%2Flive&x=stage&stage=1&metrics=loss",
              wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)  # fmt: skip
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    picked = page.get_by_test_id("stMultiSelect").first
    expect(picked).to_contain_text("done")
    expect(picked).to_contain_text("sweep/live")
    expect(page.get_by_role("radio", name="Step within stage")).to_be_checked()
    expect(page.get_by_role("combobox", name="Stage", exact=True)).to_have_value("1")
    page.screenshot(path=str(ARTIFACTS / "e2e-compare.png"), full_page=True)
    page.get_by_text("Hours since start", exact=True).click()
    expect(page).to_have_url(re.compile(r"x=relative"), timeout=PAGE_TIMEOUT_MS)


def test_many_runs_in_one_browser(root: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_dashboard(root, root=True) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True)  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            _runs_table(page, url)
            _compare(page, url)
            link = page.url
            again = browser.new_page(viewport={"width": 1600, "height": 1000})
            again.goto(link, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
            expect(again.get_by_role("radio", name="Hours since start")).to_be_checked(
                timeout=PAGE_TIMEOUT_MS
            )
            expect(again.get_by_test_id("stMultiSelect").first).to_contain_text("sweep/live")
            again.goto(f"{url}run?run=..%2F..%2Fetc", wait_until="domcontentloaded")
            expect(again.get_by_text("No run called")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
        finally:
            browser.close()
