"""thalia-watch end to end: a real HTTP receiver on 127.0.0.1 behind an apprise json:// URL.

The runs are written by an independent writer (plain ``json`` lines, not our logger); the
watcher is driven one ``poll()`` at a time with an injected clock: no sleeps.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from dashboard.commands import watch
from dashboard.commands.watch import Channel, WatchLoop, find_runs

pytest.importorskip("apprise")


class Receiver:
    """A tiny JSON webhook: records every POST body; ``up`` False answers 503."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.up = True
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not receiver.up:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.messages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, name="receiver")
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def titles(self) -> list[str]:
        return [m["title"] for m in self.messages]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _append(path: Path, *records: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def _metric(step: int, loss: Any) -> dict[str, Any]:
    return {"event_type": "metric", "step": step, "wall_time": 1000.0 + step, "loss": loss}


def _start() -> dict[str, Any]:
    return {
        "event_type": "run_start",
        "step": 0,
        "wall_time": 1000.0,
        "schema_version": 2,
        "run_id": "r1",
        "resumed_from_step": None,
        "config": {},
        "host": "elsewhere",
        "pid": 1,
    }


def _loop(run: Path, state: Path, url: str, clock: Clock, severity: str = "critical") -> WatchLoop:
    ch = Channel(url, severity, watch._default_send)  # type: ignore[arg-type]
    return WatchLoop(
        [str(run)], [ch], state_file=state, clock=clock, cooldown_s=0, err=lambda text: None
    )


def test_nan_then_recovery_then_finish_sends_exactly_three_messages_across_a_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    run, state = tmp_path / "runs" / "a", tmp_path / "state" / "watch.json"
    run.mkdir(parents=True)
    log = run / "training_log.jsonl"
    _append(log, _start(), *(_metric(s, 1.0 / (s + 1)) for s in range(5)))
    clock = Clock(1010.0)
    loop = _loop(run, state, receiver.url, clock)
    assert loop.poll() == 0 and receiver.messages == []
    _append(log, _metric(5, "NaN"))
    clock.t += 5
    assert loop.poll() == 2
    assert loop.poll() == 2  # the same alarm again: nothing new
    _append(log, _metric(6, 0.1))
    clock.t += 5
    loop.poll()
    loop.close()
    # a restart: the state file says what was sent; nothing goes out twice
    loop = _loop(run, state, receiver.url, clock)
    loop.poll()
    _append(log, {"event_type": "run_end", "step": 6, "wall_time": 1006.5, "status": "finished"})
    clock.t += 5
    loop.poll()
    loop.poll()
    loop.close()
    titles = receiver.titles()
    assert titles == [
        "thalia a: 1 alarm(s) started",
        "thalia a: 1 alarm(s) resolved",
        "thalia a: run finished",
    ], titles
    assert "Loss became NaN at step 5" in receiver.messages[0]["message"]
    assert receiver.messages[0]["type"] == "failure"
    assert str(tmp_path / "runs") not in str(state.parent)  # never in the checkpoint directory


def test_a_failing_channel_loses_nothing_and_watching_goes_on(
    tmp_path: Path, receiver: Receiver
) -> None:
    run, state = tmp_path / "a", tmp_path / "watch.json"
    run.mkdir()
    log = run / "training_log.jsonl"
    _append(log, _start(), _metric(0, 1.0))
    errors: list[str] = []
    clock = Clock(1010.0)
    ch = Channel(receiver.url, "warning", watch._default_send)
    loop = WatchLoop(
        [str(run)], [ch], state_file=state, clock=clock, cooldown_s=0, err=errors.append
    )
    loop.poll()
    receiver.up = False
    _append(log, _metric(1, "NaN"))
    clock.t += 1
    loop.poll()
    assert receiver.messages == [] and len(ch.queue) == 1
    assert errors and "cannot send" in errors[0] and "kept" in errors[0]
    _append(
        log,
        {
            "event_type": "run_end",
            "step": 1,
            "wall_time": 1001.5,
            "status": "failed",
            "error_type": "RuntimeError",
            "message": "boom",
        },
    )
    clock.t += 1  # within the backoff: nothing tried, both kept
    loop.poll()
    assert len(ch.queue) == 2
    receiver.up = True
    clock.t += 3600
    loop.poll()
    loop.close()
    assert receiver.titles() == ["thalia a: 1 alarm(s) started", "thalia a: run failed"]
    assert "RuntimeError: boom" in receiver.messages[1]["message"]
    assert ch.queue == [] and any("works again" in e for e in errors)


def test_unsent_messages_survive_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    run, state = tmp_path / "a", tmp_path / "watch.json"
    run.mkdir()
    _append(run / "training_log.jsonl", _start(), _metric(0, "NaN"))
    receiver.up = False
    clock = Clock(1010.0)
    loop = _loop(run, state, receiver.url, clock)
    loop.poll()
    loop.close()
    receiver.up = True
    loop = _loop(run, state, receiver.url, clock)
    loop.poll()
    loop.close()
    assert receiver.titles() == ["thalia a: 1 alarm(s) started"]


def test_alarms_starting_in_one_poll_are_one_message(tmp_path: Path) -> None:
    run = tmp_path / "a"
    run.mkdir()
    _append(
        run / "training_log.jsonl",
        _start(),
        {**_metric(0, "NaN"), "grad_norm": "Infinity", "lr": "NaN"},
    )
    sent: list[watch.Message] = []
    ch = Channel("json://x/", "warning", lambda url, m: sent.append(m) or True)
    loop = WatchLoop(
        [str(run)], [ch], state_file=tmp_path / "s.json", clock=Clock(1010.0), err=lambda t: None
    )
    assert loop.poll() == 2
    assert len(sent) == 1 and sent[0].title == "thalia a: 3 alarm(s) started"
    assert sent[0].body.count("\n- started") == 3


def test_cooldown_keeps_a_flapping_check_quiet(tmp_path: Path) -> None:
    run = tmp_path / "a"
    run.mkdir()
    log = run / "training_log.jsonl"
    _append(log, _start(), _metric(0, 1.0))
    sent: list[watch.Message] = []
    ch = Channel("json://x/", "critical", lambda url, m: sent.append(m) or True)
    clock = Clock(1010.0)
    loop = WatchLoop(
        [str(run)],
        [ch],
        state_file=tmp_path / "s.json",
        clock=clock,
        cooldown_s=600,
        err=lambda t: None,
    )
    for step, loss in ((1, "NaN"), (2, 1.0), (3, "NaN"), (4, 1.0)):
        _append(log, _metric(step, loss))
        clock.t += 10
        loop.poll()
    assert [m.title for m in sent] == [
        "thalia a: 1 alarm(s) started",
        "thalia a: 1 alarm(s) resolved",
    ]


def test_once_exit_codes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    healthy, warned, nan = root / "x" / "ok", root / "warn", root / "y" / "z" / "nan"
    for d in (healthy, warned, nan):
        d.mkdir(parents=True)
    import time

    now = time.time()
    _append(healthy / "training_log.jsonl", {"step": 1, "wall_time": now, "loss": 1.0})
    _append(warned / "training_log.jsonl", {"step": 1, "wall_time": now, "firing_rate": 0.9})
    _append(nan / "training_log.jsonl", {"step": 1, "wall_time": now, "loss": "NaN"})
    state = ["--state", str(tmp_path / "s.json")]
    assert sorted(find_runs([root])) == sorted([healthy, warned, nan])
    assert watch.main([str(healthy), "--once", *state]) == 0
    assert watch.main([str(warned), "--once", *state]) == 1
    assert watch.main([str(root), "--once", *state]) == 2


def test_bad_thresholds_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "t.toml"
    bad.write_text("stall_minute = 5\n")
    assert watch.main([str(tmp_path), "--once", "--thresholds", str(bad)]) == 64
    assert "unknown key 'stall_minute'" in capsys.readouterr().err


def test_the_watcher_never_imports_streamlit() -> None:
    import subprocess
    import sys

    code = (
        "import sys, dashboard.commands.watch as w; w.build_parser(); "
        "assert 'streamlit' not in sys.modules, 'streamlit imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
