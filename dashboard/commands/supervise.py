"""The running children of ``thalia-dashboard``: which directory each serves, the table printed
for them, waiting on them (each death reported) and stopping them, process group and all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["POLL_INTERVAL_S", "STOP_GRACE_S", "Dashboard", "format_table", "stop_all", "supervise"]

POLL_INTERVAL_S = 0.5
STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class Dashboard:
    """One directory (a path, or a remote URL as given), the port its server got and the URL to
    print."""

    directory: Path | str
    port: int
    url: str


def format_table(dashboards: Sequence[Dashboard]) -> str:
    """A two-column text table, directory -> URL, one line per dashboard."""
    header = ("directory", "URL")
    rows = [(str(d.directory), d.url) for d in dashboards]
    width = max(len(r[0]) for r in [header, *rows])
    url_width = max(len(r[1]) for r in [header, *rows])
    rule = ("-" * width, "-" * url_width)
    lines = [f"{a.ljust(width)}  {b}" for a, b in [header, rule, *rows]]
    return "\n".join(lines)


def stop_all(procs: Sequence[subprocess.Popen[bytes]], *, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM each child's process group, wait up to ``grace_s``, then SIGKILL what is left."""
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
    for proc in procs:  # helpers Streamlit may have left in the group
        _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def supervise(
    dashboards: Sequence[Dashboard],
    procs: Sequence[subprocess.Popen[bytes]],
    *,
    stderr: IO[str],
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Wait until every child has exited, reporting each death; 1 when all died on their own."""
    alive = dict(enumerate(procs))
    while alive:
        for i, proc in list(alive.items()):
            code = proc.poll()
            if code is not None:
                del alive[i]
                d = dashboards[i]
                print(
                    f"thalia-dashboard: the dashboard for {d.directory} ({d.url}) exited with "
                    f"code {code}; {len(alive)} still running",
                    file=stderr,
                    flush=True,
                )
        if alive:
            sleep(POLL_INTERVAL_S)
    print("thalia-dashboard: all dashboards have exited", file=stderr, flush=True)
    return 1
