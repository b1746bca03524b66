"""``thalia-dashboard s3://...`` in headless Chromium: a run the logger writes in segment mode to
a real S3-protocol server (moto on 127.0.0.1) shows up, and new segments appear without a
reload. Skipped without Debian's /usr/bin/chromium (unless CI=true) or without moto/s3fs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from server_helpers import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve_dashboard

from tests.s3_server import S3, s3_server
from thalia_logging import CurriculumLogger

pytestmark = pytest.mark.e2e
PAGE_TIMEOUT_MS = 90_000
LIVE_TIMEOUT_MS = 60_000
URL = "s3://runs/browser-run"
SECRET = "option-value-never-shown"

require_chromium()

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    with s3_server(monkeypatch) as server:
        yield server


def _step_card(page: Page) -> object:
    card = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text("Training step", exact=True)
    )
    return card.first.get_by_test_id("stMetricValue")


def _log(logger: CurriculumLogger, steps: range) -> None:
    for step in steps:
        logger.log_metrics(step, firing_rate=0.1, capacity=0.5, performance=0.8,
                           loss=1.0 / (step + 1))  # fmt: skip
    logger.flush()  # closes the open segment: one upload


def test_a_segmented_s3_run_in_a_real_browser(s3: S3) -> None:
    logger = CurriculumLogger(URL, segment_every_s=3600, console_log=False,
                              background_flush=False)  # fmt: skip
    try:
        _log(logger, range(0, 500))
        logger.write_metadata(499, current_stage=1, total_weeks=4, current_week=1)
        # a harmless storage option (s3fs's user agent suffix) that must never reach the page
        extra = ["--storage-option", f"config_kwargs.user_agent_extra={SECRET}"]
        with serve_dashboard(URL, extra_args=extra) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                         headless=True)  # fmt: skip
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
                expect(_step_card(page)).to_have_text("499", timeout=PAGE_TIMEOUT_MS)  # type: ignore[attr-defined]
                expect(page.get_by_text(f"Run: {URL}")).to_be_visible()
                page.evaluate("window.__noReload = 42")
                _log(logger, range(500, 750))  # a new segment
                expect(_step_card(page)).to_have_text("749", timeout=LIVE_TIMEOUT_MS)  # type: ignore[attr-defined]
                assert page.evaluate("window.__noReload") == 42
                assert SECRET not in page.content()
                assert "Reading this directory hit a problem" not in page.content()
            finally:
                browser.close()
    finally:
        logger.close()
