"""Helpers for tests that start a real dashboard server as a child process, and the Chromium
that the browser tests drive."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]


def wait_for_health(url: str, proc: subprocess.Popen[str], deadline_s: float = 60.0) -> int:
    """Poll ``url`` until it answers (returns the HTTP status); fail if ``proc`` exits first or
    nothing answers before the deadline. Polling with a deadline, never a timed assertion."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server process exited early: {proc.communicate()}"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return int(resp.status)
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {deadline_s} s")


def free_port() -> int:
    """A TCP port nothing listens on now (bound once on 127.0.0.1, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_dashboard(
    run: Path | str,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    *,
    root: bool = False,
) -> Iterator[str]:
    """``thalia-dashboard RUN [extra_args]`` (``--root RUN`` with ``root``) on ``port`` (a free
    one by default) until the block ends; yields the page URL. On exit: SIGTERM, a clean exit
    code, and no child process left behind."""
    port = free_port() if port is None else port
    where = ["--root", str(run)] if root else [str(run)]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard.commands.launcher",
            *where,
            "--port",
            str(port),
            *extra_args,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: list[psutil.Process] = []
    try:
        assert wait_for_health(f"http://127.0.0.1:{port}/_stcore/health", proc) == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"leaked processes: {alive}"
        assert proc.returncode == 0, err


#: Debian's Chromium, which Playwright drives (it cannot download its own here).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def serve_log(tmp_path: Path, log: str) -> Iterator[tuple[str, Path]]:
    """A run directory under ``tmp_path`` whose ``training_log.jsonl`` holds ``log``, served:
    (url, directory)."""
    directory = tmp_path / "run"
    directory.mkdir()
    (directory / "training_log.jsonl").write_text(log, encoding="utf-8")
    with serve_dashboard(directory) as url:
        yield url, directory


def require_chromium() -> None:
    """Skip the calling test module without Chromium, except in CI, where that is a failure."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{CHROMIUM} is missing; CI installs it with scripts/ensure-chromium.sh", pytrace=False
        )
    pytest.skip(f"{CHROMIUM} is missing (make browser installs it)", allow_module_level=True)
