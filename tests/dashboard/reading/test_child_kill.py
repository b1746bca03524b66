"""A loader tailing a child process that is SIGKILLed in the middle of writing a line."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from dashboard import RunWatcher

CHILD = textwrap.dedent("""
    import json, os, sys
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    step = 0
    while True:
        data = (json.dumps({"event_type": "metric", "step": step, "wall_time": 1.0 * step,
                            "loss": 0.5, "neuron_counts": {"cortex": step}}) + "\\n").encode()
        for i in range(0, len(data), 7):  # partial writes: a reader often sees half a line
            os.write(fd, data[i:i + 7])
        step += 1
""")


def test_tailing_a_child_killed_mid_write(tmp_path: Path) -> None:
    log = tmp_path / "training_log.jsonl"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(log)])
    try:
        with RunWatcher(tmp_path, use_watchdog=False, poll_interval_s=0.0) as w:
            deadline = time.monotonic() + 30
            seen = 0
            while seen < 300:
                assert time.monotonic() < deadline, "child wrote too little"
                state = w.refresh()
                seen = len(state.metrics_history)
                assert state.bad_line_count == 0
                threading.Event().wait(0.005)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            state = w.refresh()
            data = log.read_bytes()
            complete = data.count(b"\n")
            m = state.metrics_history
            assert state.bad_line_count == 0
            assert m["step"].tolist() == list(range(complete))
            assert (m["neuron_counts.cortex"] == m["step"]).all()
            w.mark_dirty()
            assert w.refresh() is state  # the torn tail stays held back
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
