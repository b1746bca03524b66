"""dashboard.page.guard: which Host / Origin headers get in, the ASGI wrapper, and the page's fixed
directory (no sidebar input can reach another one)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.page import guard
from dashboard.page.guard import allowed_names, refusal, scope_refusal, session_refusal, split_host

APP = str(Path(__file__).resolve().parents[3] / "dashboard" / "app.py")
NAMES = allowed_names("127.0.0.1")
PORT = 8501


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8501", ("127.0.0.1", 8501)),
        ("LocalHost.:8501", ("localhost", 8501)),
        ("[::1]:8501", ("::1", 8501)),
        ("localhost", ("localhost", None)),
        ("evil.example:8501", ("evil.example", 8501)),
        ("a@127.0.0.1:8501", None),
        ("127.0.0.1:99999", None),
        ("127.0.0.1:x", None),
        ("127.0.0.1/x", None),
        ("127.0.0.1 :8501", None),
        ("", None),
    ],
)
def test_split_host(value: str, expected: tuple[str, int | None] | None):
    assert split_host(value) == expected


def test_allowed_names_loopback_bind_host_wildcard_and_extra():
    assert {"127.0.0.1", "localhost", "::1"} == NAMES
    assert "192.168.1.5" in allowed_names("192.168.1.5")
    assert "::1" in allowed_names("[::1]")
    assert socket.gethostname().lower() in allowed_names("0.0.0.0")
    assert "0.0.0.0" not in allowed_names("0.0.0.0")  # the wildcard is not a name to visit
    assert {"box.lan", "other"} <= allowed_names("127.0.0.1", ["Box.Lan", " other ", ""])


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("127.0.0.1:8501", None),
        ("localhost:8501", "http://localhost:8501"),
        ("[::1]:8501", "http://[::1]:8501"),
        ("127.0.0.1:8501", "https://127.0.0.1:8501"),
    ],
)
def test_same_origin_requests_get_in(host: str, origin: str | None):
    assert refusal(host, origin, names=NAMES, port=PORT) is None


@pytest.mark.parametrize(
    ("host", "origin", "why"),
    [
        (None, None, "no Host"),
        ("evil.example:8501", None, "DNS rebinding"),
        ("evil.example:8501", "http://evil.example:8501", "DNS rebinding"),
        ("127.0.0.1:8502", None, "another port"),
        ("127.0.0.1", None, "another port"),  # no port means 80
        ("127.0.0.1:8501", "http://127.0.0.1:9999", "another site"),
        ("127.0.0.1:8501", "http://localhost:8501", "another site"),
        ("127.0.0.1:8501", "http://evil.example", "another site"),
        ("127.0.0.1:8501", "null", "another site"),
        ("127.0.0.1:8501", "file://", "another site"),
        ("127.0.0.1:8501@evil", None, "malformed"),
    ],
)
def test_foreign_requests_are_refused(host: str | None, origin: str | None, why: str):
    reason = refusal(host, origin, names=NAMES, port=PORT)
    assert reason is not None and why in reason


def test_a_repeated_host_or_origin_header_is_refused():
    ok = [(b"host", b"127.0.0.1:8501")]
    assert scope_refusal({"headers": ok}, NAMES, PORT) is None
    twice = [*ok, (b"host", b"evil.example:8501")]
    assert "repeated" in str(scope_refusal({"headers": twice}, NAMES, PORT))
    origins = [*ok, (b"origin", b"http://127.0.0.1:8501"), (b"origin", b"http://x")]
    assert "repeated" in str(scope_refusal({"headers": origins}, NAMES, PORT))


def test_session_refusal_reads_streamlit_headers_and_lets_header_less_sessions_in(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv(guard.ENV_ALLOWED_HOSTS, raising=False)
    assert session_refusal({}, bind_host="127.0.0.1", port=PORT) is None  # AppTest, bare run
    good = {"Host": "127.0.0.1:8501", "Origin": "http://127.0.0.1:8501"}
    assert session_refusal(good, bind_host="127.0.0.1", port=PORT) is None
    bad = {"Host": "evil.example:8501", "Origin": "http://evil.example:8501"}
    assert session_refusal(bad, bind_host="127.0.0.1", port=PORT) is not None
    monkeypatch.setenv(guard.ENV_ALLOWED_HOSTS, "evil.example")
    assert session_refusal(bad, bind_host="127.0.0.1", port=PORT) is None


# --- the ASGI wrapper ------------------------------------------------------------------------


class _App:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})


def _drive(scope: dict[str, Any]) -> tuple[_App, list[dict[str, Any]]]:
    app = _App()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    async def call(self: _App, scope: Any, receive: Any, send: Any) -> None:
        await _App.__call__(self, scope, receive, send)

    wrapped = guard.guard_asgi(call, lambda: (NAMES, PORT))
    asyncio.run(wrapped(app, scope, receive, send))
    return app, sent


def _scope(kind: str, host: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "headers": [(b"host", host.encode())], **extra}


def test_wrapper_passes_same_origin_and_lifespan_through():
    for scope in (_scope("http", "127.0.0.1:8501"), _scope("websocket", "localhost:8501"),
                  {"type": "lifespan"}):  # fmt: skip
        app, sent = _drive(scope)
        assert app.calls == 1 and sent[0]["status"] == 200


def test_wrapper_answers_a_foreign_http_host_with_403():
    app, sent = _drive(_scope("http", "evil.example:8501"))
    assert app.calls == 0
    assert sent[0] == {"type": "http.response.start", "status": 403, "headers": sent[0]["headers"]}
    assert b"403 Forbidden" in sent[1]["body"] and b"DNS rebinding" in sent[1]["body"]


def test_wrapper_refuses_a_foreign_websocket_handshake():
    app, sent = _drive(_scope("websocket", "evil.example:8501"))
    assert app.calls == 0 and sent == [{"type": "websocket.close", "code": 1008}]
    ext = {"extensions": {"websocket.http.response": {}}}
    app, sent = _drive(_scope("websocket", "evil.example:8501", **ext))
    assert app.calls == 0
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start", "websocket.http.response.body",
    ]  # fmt: skip
    assert sent[0]["status"] == 403


def test_install_wraps_starlette_once():
    from starlette.applications import Starlette

    guard.install()
    first = Starlette.__call__
    guard.install()
    assert guard.installed() and Starlette.__call__ is first


# --- the page's directory is fixed at launch --------------------------------------------------


def test_sidebar_shows_the_directory_and_offers_no_way_to_change_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(tmp_path / "run"))
    try:
        at = AppTest.from_file(APP, default_timeout=60).run()
    finally:
        st.cache_resource.clear()  # on_release closes the cached RunWatcher (its threads stop)
    assert not at.exception
    assert len(at.text_input) == 0 and len(at.sidebar.text_input) == 0
    assert len(at.text_area) == 0 and len(at.selectbox) == 0  # no other way to type a path
    assert str((tmp_path / "run").resolve()) in [t.value for t in at.sidebar.text]
