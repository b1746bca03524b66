"""A steady page in headless Chromium: the metric pick survives a live refresh in which an alert
appears, and a constant series (the example trainer's ``lr`` of 0.05) draws as a flat line.

Skipped without Debian's /usr/bin/chromium, unless CI=true. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from server_helpers import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve_log

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
PAGE_TIMEOUT_MS = 90_000
LIVE_TIMEOUT_MS = 45_000
LINE_RGB = np.array([0x1F, 0x77, 0xB4])  # dashboard.page.charts.LINE_COLOR

require_chromium()

from PIL import Image  # noqa: E402
from playwright.sync_api import Locator, Page, expect, sync_playwright  # noqa: E402


def _line(step: int, *, firing_rate: float = 0.12) -> str:
    return (
        json.dumps(
            {
                "event_type": "metric",
                "step": step,
                "wall_time": time.time(),
                "firing_rate": firing_rate,
                "capacity": 0.6,
                "performance": 0.5 + step / 1e5,
                "loss": 2.0 - step / 1e4 + 0.05 * ((step // 10) % 3),
                "lr": 0.05,
                "grad_norm": 1.0 + (step % 7) / 10,
            }
        )
        + "\n"
    )


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with serve_log(tmp_path, "".join(_line(s) for s in range(0, 3000, 10))) as served:
        yield served


def _tags(page: Page) -> Locator:
    return page.get_by_test_id("stMultiSelectTagsContainer").locator("[data-tag]")


def _picked(page: Page) -> list[str]:
    return [str(tag.get_attribute("aria-label")) for tag in _tags(page).all()]


def _line_rows(page: Page) -> np.ndarray:
    """Pixel rows of the first chart where the line colour is drawn (the metric history chart)."""
    png = page.get_by_test_id("stVegaLiteChart").first.screenshot()
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int64)
    close = np.abs(rgb - LINE_RGB).sum(axis=2) < 40
    return np.flatnonzero(close.any(axis=1))


def _drawn_line_rows(page: Page, deadline_s: float = 30.0) -> np.ndarray:
    """:func:`_line_rows` once Vega has drawn the line (polled with a deadline)."""
    deadline = time.monotonic() + deadline_s
    while True:
        rows = _line_rows(page)
        if rows.size or time.monotonic() > deadline:
            return rows


def test_pick_survives_an_alert_and_a_constant_draws_flat(dashboard: tuple[str, Path]) -> None:
    url, directory = dashboard
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
            expect(page.get_by_role("heading", name="Metric history", exact=True)).to_be_visible(
                timeout=PAGE_TIMEOUT_MS
            )
            expect(_tags(page)).to_have_count(4, timeout=PAGE_TIMEOUT_MS)
            assert _picked(page) == ["Firing rate", "Capacity", "Performance", "Loss"]

            # Pick only lr: empty the pick, search "lr", take it.
            box = page.get_by_test_id("stMultiSelect").locator("input")
            box.click()
            for _ in range(4):
                box.press("Backspace")
            box.fill("lr")
            page.get_by_role("option", name="lr", exact=True).click()
            box.press("Escape")
            expect(_tags(page)).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
            assert _picked(page) == ["lr"]
            page.evaluate("window.__noReload = 42")

            # A live refresh in which an alert appears: the pick stays.
            with (directory / "training_log.jsonl").open("a", encoding="utf-8") as fh:
                fh.write(_line(3000, firing_rate=0.9))
            expect(
                page.get_by_test_id("stAlertContentWarning").get_by_text("above the healthy band")
            ).to_be_visible(timeout=LIVE_TIMEOUT_MS)
            assert _picked(page) == ["lr"]
            assert page.evaluate("window.__noReload") == 42

            # The constant lr draws flat: the line colour covers a band of a few pixel rows,
            # in the middle of the plot (a padded domain), not spikes from edge to edge.
            chart = page.get_by_test_id("stVegaLiteChart").first
            expect(chart).to_be_visible()
            chart.scroll_into_view_if_needed()
            rows = _drawn_line_rows(page)
            height = chart.bounding_box()["height"]  # type: ignore[index]
            assert rows.size > 0, "no line drawn"
            assert rows.max() - rows.min() <= 4, rows
            assert 0.2 * height < rows.mean() < 0.8 * height
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "e2e-steady-lr.png"), full_page=True)
        finally:
            browser.close()
