"""Helpers for tests that start a real dashboard server as a child process."""

from __future__ import annotations

import subprocess
import time
import urllib.request


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
