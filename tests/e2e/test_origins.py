"""Same-origin only, in headless Chromium: a DNS-rebinding page and a page of another origin get
nothing from ``thalia-dashboard``; the page itself loads, shows the run, and offers no way to
point the server at another directory. Skipped without Debian's /usr/bin/chromium, unless CI=true.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from server_helpers import CHROMIUM, CHROMIUM_ARGS, require_chromium, wait_for_health

from thalia_logging import CurriculumLogger

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PAGE_TIMEOUT_MS = 90_000
REGION = "region-marker-5K"

require_chromium()

from playwright.sync_api import expect, sync_playwright  # noqa: E402

# Opens a WebSocket to the dashboard from whatever page runs it; resolves "open" or "refused".
OPEN_SOCKET = """url => new Promise(resolve => {
    const ws = new WebSocket(url, ["streamlit"]);
    ws.onopen = () => { ws.close(); resolve("open"); };
    ws.onerror = () => resolve("refused");
    ws.onclose = () => resolve("refused");
})"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    run = tmp_path / "run"
    with CurriculumLogger(run, console_log=False, background_flush=False) as logger:
        logger.log_metrics(100, firing_rate=0.1, capacity=0.5, performance=0.7, loss=0.4321,
                           neuron_counts={REGION: 64}, capacity_by_region={REGION: 0.5})  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.commands.launcher", str(run), "--port", str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    children: list[psutil.Process] = []
    try:
        assert wait_for_health(f"http://127.0.0.1:{port}/_stcore/health", proc) == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        yield port, run
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"leaked processes: {alive}"
        assert proc.returncode == 0, err


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[str]:
    """Another site on this machine: a plain HTTP server on another port."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>another site</p>", encoding="utf-8")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(site)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for_health(f"http://127.0.0.1:{port}/", proc) == 200  # type: ignore[arg-type]
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_only_the_dashboards_own_origin_gets_in(
    served: tuple[int, Path], other_origin: str
) -> None:
    port, run = served
    stream = f"ws://127.0.0.1:{port}/_stcore/stream"
    with sync_playwright() as pw:
        # evil.example resolves to 127.0.0.1, as after a DNS rebinding.
        rebinding = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.example 127.0.0.1"]
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=rebinding, headless=True)
        try:
            page = browser.new_page()
            response = page.goto(f"http://evil.example:{port}/", timeout=PAGE_TIMEOUT_MS)
            assert response is not None and response.status == 403
            assert page.get_by_test_id("stApp").count() == 0
            assert (
                page.evaluate(OPEN_SOCKET, f"ws://evil.example:{port}/_stcore/stream") == "refused"
            )

            # A page of another origin on this machine (another local server) opens a socket to
            # the dashboard: Chromium lets it try (plain Streamlit lets it in), the guard refuses.
            other = browser.new_page()
            for origin in (other_origin, other_origin.replace("127.0.0.1", "localhost")):
                other.goto(origin + "/", timeout=PAGE_TIMEOUT_MS)
                expect(other.get_by_text("another site")).to_be_visible()
                assert other.evaluate(OPEN_SOCKET, stream) == "refused", origin

            # The dashboard's own page: loads, shows the run, and its own socket opens.
            own = browser.new_page(viewport={"width": 1400, "height": 1000})
            own.goto(f"http://127.0.0.1:{port}/", timeout=PAGE_TIMEOUT_MS)
            expect(own.get_by_role("heading", name="Current metrics", exact=True)).to_be_visible(
                timeout=PAGE_TIMEOUT_MS
            )
            expect(own.get_by_text(REGION).first).to_be_attached(timeout=PAGE_TIMEOUT_MS)
            assert own.evaluate(OPEN_SOCKET, stream) == "open"

            # The directory is shown, not editable; no "Deploy" button on a read-only monitor.
            sidebar = own.get_by_test_id("stSidebar")
            expect(sidebar.get_by_text(str(run.resolve()), exact=True)).to_be_visible()
            assert sidebar.get_by_test_id("stTextInput").count() == 0
            # no free-text box anywhere (the metric picker's search only filters metric names)
            free_text = (
                "xpath=//textarea | //input[@type='text' and "
                "not(ancestor::*[@data-testid='stMultiSelect'])]"
            )
            assert own.locator(free_text).count() == 0
            assert own.get_by_role("button", name="Deploy").count() == 0
        finally:
            browser.close()
