"""Same-origin guard for the dashboard's server: refuse requests a DNS-rebinding page could make.

The server binds 127.0.0.1, but a web page whose domain is rebound to 127.0.0.1 reaches it with
``Host: evil.example``; another page on this machine (another port) reaches it with its own
``Origin``. Streamlit's options cover part of this (``server.allowedHosts`` checks the WebSocket's
Host name but not its port; ``server.enableCORS`` lets any *localhost* origin in, whatever its
port, and looks up this machine's public address to compare). This module adds the rest:

* every HTTP and WebSocket request whose ``Host`` is not one of the names this server answers to
  (the loopback names, the ``--host`` value, this machine's name on a wildcard bind, and the names
  in ``THALIA_ALLOWED_HOSTS``) *with the server's port* gets 403;
* every request with an ``Origin`` header that is not exactly ``http(s)://`` + that ``Host``
  gets 403 (a browser always sends ``Origin`` on a WebSocket; programs may leave it out).

:func:`install` wraps ``starlette.applications.Starlette.__call__`` once per process, so it
guards a server that is already running too (the ``streamlit run dashboard/app.py`` route,
where the page script is imported only after the first session connected: the page checks
that first session itself with :func:`session_refusal`). The checks are pure functions so
tests can call them directly.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ENV_ALLOWED_HOSTS",
    "LOOPBACK_NAMES",
    "WILDCARD_BINDS",
    "Receive",
    "Scope",
    "Send",
    "allowed_names",
    "guard_asgi",
    "install",
    "installed",
    "refusal",
    "scope_refusal",
    "session_refusal",
    "split_host",
]

ENV_ALLOWED_HOSTS = "THALIA_ALLOWED_HOSTS"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_BINDS = ("", "0.0.0.0", "::")
_MARK = "_thalia_same_origin_guard"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _norm(name: str) -> str:
    return name.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def allowed_names(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names (lower case, IPv6 without brackets) a server bound to ``bind_host`` answers
    to: the loopback names, ``bind_host`` itself, this machine's name on a wildcard bind, ``extra``."""
    names = set(LOOPBACK_NAMES)
    if bind_host.strip() in WILDCARD_BINDS:
        names.add(socket.gethostname())
    else:
        names.add(bind_host)
    names.update(extra)
    return frozenset(n for n in (_norm(x) for x in names) if n)


def split_host(value: str) -> tuple[str, int | None] | None:
    """``"name:port"`` -> (normalised name, port or None); None when it is not a plain host[:port]."""
    try:
        parts = urlsplit(f"//{value}")
        port = parts.port
    except ValueError:
        return None
    name = parts.hostname
    if not name or parts.username is not None or parts.password is not None:
        return None
    if parts.path or parts.query or parts.fragment or any(c.isspace() for c in value):
        return None
    return _norm(name), port


def refusal(
    host: str | None, origin: str | None, *, names: frozenset[str], port: int
) -> str | None:
    """Why a request with these ``Host`` / ``Origin`` headers is refused, or None to let it in."""
    if host is None:
        return "no Host header"
    parsed = split_host(host)
    if parsed is None:
        return f"malformed Host header {host!r}"
    name, host_port = parsed
    if name not in names:
        return f"Host {host!r} is not a name this dashboard serves (DNS rebinding?)"
    if (host_port if host_port is not None else 80) != port:
        return f"Host {host!r} names another port than {port}"
    if origin is not None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
            return f"Origin {origin!r} is another site than {host!r}"
    return None


def session_refusal(headers: Mapping[str, str], *, bind_host: str, port: int) -> str | None:
    """:func:`refusal` for a Streamlit session's headers (``st.context.headers``).

    Empty headers (no request behind the session: AppTest, a bare script run) are let in."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    names = _names_for(bind_host, os.environ.get(ENV_ALLOWED_HOSTS, ""))
    return refusal(lowered.get("host"), lowered.get("origin"), names=names, port=port)


@functools.lru_cache(maxsize=8)
def _names_for(bind_host: str, env_extra: str) -> frozenset[str]:
    return allowed_names(bind_host, env_extra.split(","))


def _server_policy() -> tuple[frozenset[str], int]:
    from streamlit import config

    bind_host = str(config.get_option("server.address") or "")
    port = int(config.get_option("server.port"))
    return _names_for(bind_host, os.environ.get(ENV_ALLOWED_HOSTS, "")), port


def _header(scope: Scope, name: bytes) -> str | bool | None:
    """The one value of header ``name`` (latin-1), None when absent, False when repeated."""
    values = [v for k, v in scope.get("headers", ()) if k.lower() == name]
    if len(values) > 1:
        return False
    return values[0].decode("latin-1") if values else None


def scope_refusal(scope: Scope, names: frozenset[str], port: int) -> str | None:
    """:func:`refusal` for an ASGI http/websocket scope (a repeated Host or Origin is refused)."""
    host, origin = _header(scope, b"host"), _header(scope, b"origin")
    if host is False or origin is False:
        return "repeated Host or Origin header"
    assert not isinstance(host, bool) and not isinstance(origin, bool)
    return refusal(host, origin, names=names, port=port)


async def _refuse(scope: Scope, receive: Receive, send: Send, reason: str) -> None:
    body = f"403 Forbidden: {reason}\n".encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:  # closing before accepting makes the server answer the handshake with 403
        await send({"type": "websocket.close", "code": 1008})


def guard_asgi(
    call: Callable[[Any, Scope, Receive, Send], Awaitable[None]],
    policy: Callable[[], tuple[frozenset[str], int]] = _server_policy,
) -> Callable[[Any, Scope, Receive, Send], Awaitable[None]]:
    """Wrap an ASGI ``__call__`` so refused http/websocket requests get 403 and go no further."""

    @functools.wraps(call)
    async def guarded(self: Any, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") in ("http", "websocket"):
            names, port = policy()
            reason = scope_refusal(scope, names, port)
            if reason is not None:
                await _refuse(scope, receive, send, reason)
                return
        await call(self, scope, receive, send)

    setattr(guarded, _MARK, True)
    return guarded


def installed() -> bool:
    from starlette.applications import Starlette

    return bool(getattr(Starlette.__call__, _MARK, False))


def install() -> None:
    """Guard every Starlette app in this process (Streamlit's server), running or not; idempotent."""
    from starlette.applications import Starlette

    if not installed():
        setattr(Starlette, "__call__", guard_asgi(Starlette.__call__))  # noqa: B010
