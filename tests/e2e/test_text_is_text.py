"""Text is text, in a real browser: a run whose every field of every file holds injection strings.

Markdown, links, autolinks, images, HTML, icons, emoji, colour directives, maths, code and
headings written by a run must show literally. A local HTTP listener on 127.0.0.1 counts the
requests that an image or a prefetched link would make; the page's own requests are watched too.
A 1280-px screenshot goes to ``artifacts/`` (the data grids are canvas: the eye checks those).
Skipped without Debian's /usr/bin/chromium, unless CI=true.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve_dashboard

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
PAGE_TIMEOUT_MS = 90_000
WORD_JOINER = "\u2060"

require_chromium()

from playwright.sync_api import Page, Request, sync_playwright  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402


def corpus(port: int) -> list[str]:
    """One string per construct; each would become an element (or a request) if rendered."""
    base = f"http://127.0.0.1:{port}"
    return [
        "**bold**",
        f"[link]({base}/x)",
        f"![img]({base}/img.png)",
        f'<img src="{base}/tag.png" onerror="window.__xss=1">',
        f'<a href="{base}/a">a</a>',
        f"{base}/auto",
        "www.example.com",
        "mail@example.com",
        ":material/home:",
        ":red[red]",
        ":rocket:",
        "$x^2$",
        "`code`",
        "# heading",
        "- item",
        "1. first",
        "> quote",
        "***",
        "| a | b |",
        "~~strike~~",
        "&lt;b&gt;",
        "_em_",
    ]


class _Listener(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Listener,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="listener", daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _write_run(directory: Path, texts: list[str]) -> None:
    """Every file of a run, written by plain ``json`` (not our logger), holding ``texts``."""
    directory.mkdir()
    joined = " ".join(texts)
    now = time.time()
    lines: list[dict[str, Any]] = [
        {
            "event_type": "run_start",
            "step": 0,
            "wall_time": now - 300,
            "schema_version": 1,
            "run_id": joined,
            "resumed_from_step": None,
            "config": {t: t for t in texts},
        },
        {"event_type": "stage", "step": 0, "wall_time": now - 300, "stage": 1, "name": joined},
    ]
    regions = texts[:3]  # three regions: the capacity bars must still show every label
    for i, step in enumerate(range(0, 2000, 100)):
        line: dict[str, Any] = {
            "event_type": "metric",
            "step": step,
            "wall_time": now - 200 + i,
            "firing_rate": 0.1,
            "capacity": 0.5,
            "performance": 0.5 + i / 100,
            "loss": 1.0 - i / 100,
            "neuron_counts": {r: 100 + 10 * i + j for j, r in enumerate(regions)},
            "capacity_by_region": {r: 0.3 + 0.3 * j for j, r in enumerate(regions)},
            "gpu_mem_bytes": 2e9 + i * 1e7,
            "gpu_mem_total_bytes": 8e9,
        }
        line.update({t: float(j) for j, t in enumerate(texts[3:8])})  # metric names
        lines.append(line)
    for j, text in enumerate(texts):
        lines.append(
            {
                "event_type": "growth",
                "step": 100 + j,
                "wall_time": now - 100,
                "region": text,
                "neurons_added": 10,
                "new_total": 110,
                "reason": text,
            }
        )
    lines.append(
        {
            "event_type": "consolidation",
            "step": 1500,
            "wall_time": now - 50,
            "sleep_stage": "NREM",
            "patterns_replayed": 100,
            "duration_steps": 20,
        }
    )
    lines.append(
        {"event_type": "stage", "step": 1600, "wall_time": now - 40, "stage": 2, "name": texts[0]}
    )
    lines.sort(key=lambda r: r["step"])
    with (directory / "training_log.jsonl").open("w", encoding="utf-8") as f:
        for record in lines:
            f.write(json.dumps(record) + "\n")
        for text in texts[:6]:  # bad lines whose excerpts are injection strings
            f.write(text + "\n")
        f.write(
            json.dumps(
                {
                    "event_type": "consolidation",
                    "step": 1950,
                    "sleep_stage": joined,
                    "patterns_replayed": 1,
                    "duration_steps": 1,
                }
            )
            + "\n"
        )
        f.write(
            json.dumps(
                {
                    "event_type": "growth",
                    "step": 1960,
                    "region": {"x": joined},
                    "neurons_added": 1,
                    "new_total": 1,
                    "reason": [joined],
                }
            )
            + "\n"
        )
    metadata = {
        "current_stage": 1,
        "step": 1900,
        "current_week": joined,
        "total_weeks": [joined, 10**40, True],
        "stage_name": joined,
        "run_id": joined,
        "total_stages": joined,
        "started_at": joined,
        "updated_at": joined,
        "total_steps": joined,
        "metrics": {t: t for t in texts},
        "milestones": {t: j % 2 == 0 for j, t in enumerate(texts)},
        "warnings": [
            *texts[:6],
            *(
                {"severity": sev, "message": t}
                for sev, t in zip(("critical", "warning", "info") * 6, texts[6:], strict=False)
            ),
        ],
    }
    (directory / "metadata_1900.json").write_text(json.dumps(metadata), encoding="utf-8")
    # an older checkpoint with a stage the reader refuses: a bad line quoting the whole value
    (directory / "metadata_1800.json").write_text(
        json.dumps({**metadata, "step": 1800, "current_stage": {"name": joined}}), encoding="utf-8"
    )
    (directory / "console.log").write_text("\n".join(texts) + "\n", encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dashboard(tmp_path: Path, listener: tuple[int, list[str]]) -> Iterator[tuple[str, list[str]]]:
    texts = corpus(listener[0])
    _write_run(tmp_path / "run", texts)
    with serve_dashboard(tmp_path / "run") as url:
        yield url, texts


#: Elements that run text must never become, counted in the main area: links other than the
#: headings' own "#anchor" links, images, bold/emphasis/strike, lists, quotes, tables, maths,
#: headings and code with run text, the ``:material/home:`` icon (a ``role="img"`` span, made even
#: from a backslash-escaped ``\\:material/home\\:``), ``:red[...]`` coloured text.
_FORBIDDEN = """(texts) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const out = [];
  for (const a of main.querySelectorAll('a')) {
    if (!(a.getAttribute('href') || '').startsWith('#')) out.push('a: ' + a.outerHTML);
  }
  for (const el of main.querySelectorAll('img, picture, svg image, iframe, object, embed'))
    out.push('img: ' + el.outerHTML.slice(0, 200));
  for (const el of main.querySelectorAll('strong, b, em, i, del, s, blockquote, ul li, ol li, table:not([role=grid]), .katex, hr'))
    out.push(el.tagName + ': ' + el.outerHTML.slice(0, 200));
  for (const el of main.querySelectorAll('h1, h2, h3, h4, h5, h6'))
    if (/heading|bold/.test(el.textContent)) out.push('heading: ' + el.textContent);
  for (const el of main.querySelectorAll('code'))
    if (el.textContent.trim() === 'code') out.push('code: ' + el.outerHTML);
  // Streamlit draws a :material/...: code as <span role="img" aria-label="home icon">
  for (const el of main.querySelectorAll('[role="img"]'))
    if (/home/.test(el.getAttribute('aria-label') || '') || el.textContent.trim() === 'home')
      out.push('icon: ' + el.outerHTML.slice(0, 200));
  for (const el of main.querySelectorAll('.stMarkdownColoredText, span[style*="color"]'))
    if (el.textContent === 'red') out.push('colour: ' + el.outerHTML.slice(0, 200));
  return out;
}"""


def _hover_charts(page: Page) -> list[str]:
    """Hover a grid of points over each visible chart; the tooltips' texts (each checked to hold
    no image, link or bold element)."""
    tips = []
    charts = page.locator('[data-testid="stVegaLiteChart"]:visible')
    for i in range(charts.count()):
        charts.nth(i).scroll_into_view_if_needed()
        box = charts.nth(i).bounding_box()
        if box is None:
            continue
        for fx in (0.3, 0.5, 0.8):
            for fy in (0.2, 0.4, 0.6):
                page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                tip = page.locator("#vg-tooltip-element.visible")
                try:
                    tip.wait_for(state="visible", timeout=400)
                except PlaywrightTimeout:
                    continue  # no mark under this point
                assert tip.locator("img, a, strong, b, em").count() == 0
                tips.append(tip.inner_text())
    return tips


def _body_text(page: Page) -> str:
    return str(
        page.evaluate("document.querySelector('[data-testid=\"stMain\"]').innerText")
    ).replace(WORD_JOINER, "")


def test_injection_corpus_shows_literally(
    dashboard: tuple[str, list[str]], listener: tuple[int, list[str]]
) -> None:
    url, texts = dashboard
    _port, hits = listener
    origin = url.rstrip("/")
    foreign: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})

            def on_request(request: Request) -> None:
                if not request.url.startswith((origin, "data:", "blob:")):
                    foreign.append(request.url)

            page.on("request", on_request)
            page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
            page.get_by_role("heading", name="Training information").wait_for(
                timeout=PAGE_TIMEOUT_MS
            )
            # Open every closed expander (alerts, bad lines) so their contents are in the DOM.
            closed = page.locator('[data-testid="stExpander"] details:not([open]) summary')
            for _ in range(10):
                if closed.count() == 0:
                    break
                closed.first.click()
                page.wait_for_timeout(200)
            page.wait_for_timeout(1500)  # let images, if any had been made, be fetched
            shown = _body_text(page)
            # the alerts show each metadata warning literally
            for text in texts[:6]:
                assert text in shown, text
            # a string current_week / stage dict reach the cards as text, and the page says so
            assert " ".join(texts) + "/" in shown
            assert "unexpected type" in shown
            forbidden = page.evaluate(_FORBIDDEN, texts)
            assert forbidden == [], forbidden
            assert page.evaluate("typeof window.__xss") == "undefined"
            assert "🚀" not in shown
            # chart tooltips (vega-tooltip: an HTML table) show region names as text too
            tips = _hover_charts(page)
            assert any(text in tip for tip in tips for text in texts[:3]), tips
            page.set_viewport_size({"width": 1280, "height": 6000})
            page.wait_for_timeout(1000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "e2e-text-is-text.png"), full_page=True)
        finally:
            browser.close()
    assert hits == [], f"the page made requests to the outside listener: {hits}"
    assert foreign == [], f"the page requested other origins: {foreign}"
