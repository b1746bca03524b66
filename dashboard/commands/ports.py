"""Ports and addresses for ``thalia-dashboard``: is a port free, can the host be bound at all,
the next free ports counting up (busy ones said in one line), and the URL a person types."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

from dashboard.errors import LauncherError

__all__ = [
    "MAX_PORT",
    "MAX_PORT_TRIES",
    "LauncherError",
    "bind_problem",
    "display_url",
    "pick_ports",
    "port_is_free",
]

MAX_PORT = 65535
MAX_PORT_TRIES = 100


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a listening socket could bind ``host:port`` now (tries it, then lets go).

    SO_REUSEADDR is set like Tornado does, so a port only in TIME_WAIT counts as free while one
    something listens on does not.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    family, socktype, proto, _, sockaddr = infos[0]
    with socket.socket(family, socktype, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(sockaddr)
        except OSError:
            return False
    return True


def bind_problem(host: str) -> str | None:
    """Why no server can listen on ``host`` at all (unknown name, not an address of this
    machine), or None: tried once on a free port, so a bad host is not reported port by port."""
    try:
        family, socktype, proto, _, sockaddr = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[
            0
        ]
    except (socket.gaierror, UnicodeError) as exc:
        return f"unknown host ({exc})"
    with socket.socket(family, socktype, proto) as sock:
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            return f"{exc.strerror or exc} (is it an address of this machine?)"
    return None


def pick_ports(
    count: int,
    start: int,
    host: str = "127.0.0.1",
    *,
    is_free: Callable[[int, str], bool] = port_is_free,
    warn: Callable[[str], None] = lambda _msg: None,
    max_port: int = MAX_PORT,
    max_tries: int = MAX_PORT_TRIES,
) -> list[int]:
    """``count`` distinct free ports counting up from ``start``, trying at most
    ``max_tries + count - 1`` ports; the ports skipped as busy are said in one ``warn`` line.

    Raises LauncherError when the range or the tries run out before ``count`` ports are found.
    """
    ports: list[int] = []
    skipped: list[int] = []
    port = start
    budget = max_tries + count - 1
    while len(ports) < count:
        if port > max_port or port - start >= budget:
            last = min(port - 1, max_port)
            if skipped:
                warn(_skipped_line(skipped, host))
            raise LauncherError(
                f"no free port between {start} and {last} for {count} dashboard(s) "
                f"({len(skipped)} in use on {host}); stop what uses those ports or pass a "
                "different --port"
            )
        if is_free(port, host):
            ports.append(port)
        else:
            skipped.append(port)
        port += 1
    if skipped:
        warn(_skipped_line(skipped, host) + f"; using {', '.join(map(str, ports))}")
    return ports


def _skipped_line(skipped: Sequence[int], host: str) -> str:
    """``thalia-dashboard: ports 8501-8503, 8505 are already in use on HOST`` (runs as ranges)."""
    runs: list[list[int]] = []
    for port in skipped:
        if runs and port == runs[-1][1] + 1:
            runs[-1][1] = port
        else:
            runs.append([port, port])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
    noun = "port" if len(skipped) == 1 else "ports"
    verb = "is" if len(skipped) == 1 else "are"
    return f"thalia-dashboard: {noun} {text} {verb} already in use on {host}"


def display_url(host: str, port: int) -> str:
    """The URL a person types: a wildcard bind shows this machine's name, IPv6 gets brackets."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"
