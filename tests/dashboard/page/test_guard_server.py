"""The same-origin guard on real servers, both routes, with plain HTTP / WebSocket clients:
``thalia-dashboard DIR`` and ``streamlit run dashboard/app.py -- --checkpoint-dir DIR`` started
from another working directory (the page's own .streamlit/config.toml applies)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from server_helpers import wait_for_health
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from thalia_logging import CurriculumLogger

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
APP = REPO / "dashboard" / "app.py"
MARKER = "run-marker-7Q2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_run(directory: Path) -> None:
    with CurriculumLogger(directory, console_log=False, background_flush=False) as logger:
        logger.log_metrics(10, firing_rate=0.1, capacity=0.5, performance=0.7, loss=0.42,
                           neuron_counts={MARKER: 64})  # fmt: skip


def _handshake(port: int, host: str, origin: str | None = None) -> str:
    """The status line the server answers a WebSocket handshake for /_stcore/stream with."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET /_stcore/stream HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             "Sec-WebSocket-Protocol: streamlit"]  # fmt: skip
    if origin is not None:
        lines.append(f"Origin: {origin}")
    return _exchange(port, "\r\n".join(lines) + "\r\n\r\n")


def _http(port: int, host: str, path: str = "/") -> str:
    return _exchange(port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")


def _exchange(port: int, request: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode("latin-1"))
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def _first_run(port: int, origin: str) -> bytes:
    """Open a session like the page does (with ``origin``), ask for a script run, and return what
    the server sent until that run finished."""
    rerun = BackMsg()
    rerun.rerun_script.query_string = ""
    rerun.rerun_script.page_script_hash = ""
    received = b""
    with connect(f"ws://127.0.0.1:{port}/_stcore/stream", origin=origin,  # type: ignore[arg-type]
                 subprotocols=["streamlit"], proxy=None, compression=None) as ws:  # type: ignore[list-item]  # fmt: skip
        ws.send(rerun.SerializeToString())
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                message = ws.recv(timeout=5)
            except TimeoutError:
                continue
            if not isinstance(message, bytes):
                continue
            received += message
            forward = ForwardMsg()
            forward.ParseFromString(message)
            if forward.WhichOneof("type") == "script_finished":
                return received
    raise AssertionError("the script run did not finish")


def _session_sees_the_run(port: int) -> bool:
    """A same-origin session receives the run's data (a region name)."""
    return MARKER.encode() in _first_run(port, f"http://127.0.0.1:{port}")


def _stop(proc: subprocess.Popen[str], children: list[psutil.Process]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"leaked processes: {alive}"


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[int]:
    _write_run(tmp_path / "run")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.commands.launcher", str(tmp_path / "run"), "--port", str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    children: list[psutil.Process] = []
    try:
        assert wait_for_health(f"http://127.0.0.1:{port}/_stcore/health", proc) == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        yield port
    finally:
        _stop(proc, children)


def test_launched_server_refuses_foreign_hosts_and_origins_from_the_first_request(launched: int):
    port = launched
    here = f"127.0.0.1:{port}"
    # Before any session ran the page script: the guard is already installed (dashboard.page.serve).
    assert _http(port, f"evil.example:{port}") == "HTTP/1.1 403 Forbidden"
    assert _http(port, f"evil.example:{port}", "/_stcore/health") == "HTTP/1.1 403 Forbidden"
    assert _http(port, f"127.0.0.1:{port + 1}") == "HTTP/1.1 403 Forbidden"
    assert _http(port, here) == "HTTP/1.1 200 OK"
    assert _http(port, f"localhost:{port}") == "HTTP/1.1 200 OK"
    refused = [
        (f"evil.example:{port}", f"http://evil.example:{port}"),  # DNS rebinding
        (f"evil.example:{port}", None),
        (here, f"http://127.0.0.1:{port + 1}"),  # another localhost port
        (here, f"http://localhost:{port}"),  # another origin for the browser too
        (here, "http://evil.example"),
        (here, "null"),
    ]
    for host, origin in refused:
        assert _handshake(port, host, origin) == "HTTP/1.1 403 Forbidden", (host, origin)
    assert _handshake(port, here, f"http://{here}") == "HTTP/1.1 101 Switching Protocols"
    assert _session_sees_the_run(port)


def test_streamlit_run_route_binds_loopback_and_refuses_foreign_hosts(tmp_path: Path):
    _write_run(tmp_path / "run")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for key in [k for k in env if k.startswith("STREAMLIT_")]:
        del env[key]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
         "--", "--checkpoint-dir", str(tmp_path / "run")],
        cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    children: list[psutil.Process] = []
    try:
        assert wait_for_health(f"http://127.0.0.1:{port}/_stcore/health", proc) == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        listening = {
            c.laddr.ip
            for p in [psutil.Process(proc.pid), *children]
            for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        assert listening == {"127.0.0.1"}  # dashboard/.streamlit/config.toml, from another cwd
        here = f"127.0.0.1:{port}"
        # Streamlit's own allowedHosts (from the config file) refuses a foreign WebSocket Host
        # before the page script ever ran.
        assert _handshake(port, f"evil.example:{port}", f"http://evil.example:{port}").startswith(
            "HTTP/1.1 403"
        )
        # Streamlit lets any localhost origin open a session, and the guard is not installed
        # until the page script runs: the first session's script checks its own headers.
        foreign = f"http://127.0.0.1:{port + 1}"
        assert _handshake(port, here, foreign) == "HTTP/1.1 101 Switching Protocols"
        first = _first_run(port, foreign)
        assert b"Request refused" in first and MARKER.encode() not in first
        assert _session_sees_the_run(port)  # same origin works; the guard is now installed
        assert _http(port, f"evil.example:{port}") == "HTTP/1.1 403 Forbidden"
        assert _handshake(port, here, f"http://127.0.0.1:{port + 1}") == "HTTP/1.1 403 Forbidden"
        assert _handshake(port, here, f"http://{here}") == "HTTP/1.1 101 Switching Protocols"
    finally:
        _stop(proc, children)
