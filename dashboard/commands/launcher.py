"""``thalia-dashboard``: one Streamlit server per checkpoint directory, ports counting up.

    thalia-dashboard DIR [DIR ...] [--port 8501] [--host 127.0.0.1] [--poll]

Each directory gets its own ``python -m streamlit run dashboard/app.py`` child on the next free
port from ``--port`` (ports something else listens on are skipped, said in one line on stderr;
at most ``MAX_PORT_TRIES`` ports are tried, and a ``--host`` that cannot be bound at all is said
once before any port is tried). The launcher prints a table directory -> URL and waits. Ctrl-C or SIGTERM stops every
child (each child runs in its own process group, so Streamlit's own helpers go too); a child
that dies on its own is reported, and when all of them have died the launcher exits non-zero.

Servers bind 127.0.0.1 unless ``--host`` says otherwise, never open a browser and never send
usage statistics. Each child is ``python -m dashboard.commands.serve run app.py``: Streamlit's command line
with the same-origin guard of :mod:`dashboard.page.guard` installed first, so a request whose Host is
not a name of this server (DNS rebinding) or whose Origin is another site gets 403. ``--host``
opens the dashboards to whoever can reach that address (no login, no TLS); the guard still
refuses other names than the loopback ones, the ``--host`` value, this machine's name on a
wildcard bind, and those listed in ``THALIA_ALLOWED_HOSTS`` (comma-separated). The pure helpers (argument parsing, port picking, command building, the
table) are separate from the process handling so tests can call them directly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dashboard.analysis.threshold_files import ENV_VAR as THRESHOLDS_ENV
from dashboard.analysis.threshold_files import ThresholdsError, load_thresholds
from dashboard.page import guard

__all__ = [
    "APP_PATH",
    "Dashboard",
    "LauncherArgs",
    "LauncherError",
    "bind_problem",
    "build_command",
    "display_url",
    "format_table",
    "main",
    "parse_args",
    "pick_ports",
    "port_is_free",
    "stop_all",
    "supervise",
    "validate_host",
    "wide_open_note",
]

APP_PATH = Path(__file__).resolve().parent.parent / "app.py"
MAX_PORT = 65535
MAX_PORT_TRIES = 100
POLL_INTERVAL_S = 0.5
STOP_GRACE_S = 5.0


class LauncherError(RuntimeError):
    """A permanent problem the user has to fix (no free port, page file missing)."""


@dataclass(frozen=True)
class LauncherArgs:
    """Parsed command line: the directories in the order given, the first port, host, poll."""

    dirs: tuple[Path, ...]
    port: int
    host: str
    poll: bool
    thresholds: str | None = None  # a TOML file or preset name (analysis.threshold_files)


@dataclass(frozen=True)
class Dashboard:
    """One directory, the port its server got and the URL to print."""

    directory: Path
    port: int
    url: str


def parse_args(argv: Sequence[str] | None = None) -> LauncherArgs:
    """Parse ``DIR [DIR ...] [--port P] [--host H] [--poll]``; argparse exits 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="thalia-dashboard",
        usage="%(prog)s DIR [DIR ...] [--port P] [--host H] [--poll] [--thresholds FILE]",
        description="Start one read-only Thalia dashboard per checkpoint directory.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="checkpoint directory")
    parser.add_argument("--port", type=int, default=8501, help="first port (default 8501)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only). Another address, e.g. "
        "0.0.0.0, lets anyone who can reach it read these runs: no login, no TLS. Requests "
        "naming another host than this one (DNS rebinding) or from another origin still get 403; "
        f"more accepted host names go in {guard.ENV_ALLOWED_HOSTS}=name1,name2",
    )
    parser.add_argument(
        "--poll",
        action="store_true",
        help="poll the directory (network filesystems send no events)",
    )
    parser.add_argument(
        "--thresholds",
        metavar="FILE",
        help="health thresholds: a TOML file or a preset (conservative, moderate, aggressive)",
    )
    ns = parser.parse_args(argv)
    if ns.thresholds:
        try:
            load_thresholds(ns.thresholds)
        except ThresholdsError as exc:
            parser.error(str(exc))
    if not 1 <= ns.port <= MAX_PORT:
        parser.error(f"--port must be between 1 and {MAX_PORT}, got {ns.port}")
    problem = validate_host(ns.host)
    if problem:
        parser.error(problem)
    host = ns.host.strip().removeprefix("[").removesuffix("]")
    thresholds = ns.thresholds
    if thresholds and Path(thresholds).exists():
        thresholds = str(Path(thresholds).resolve())
    return LauncherArgs(dirs=tuple(ns.dirs), port=ns.port, host=host, poll=ns.poll,
                        thresholds=thresholds)


def validate_host(host: str) -> str | None:
    """Why ``host`` cannot be a ``--host`` value (empty, blanks, a URL...), or None when it can."""
    bare = host.strip().removeprefix("[").removesuffix("]")
    if not bare:
        return (
            "--host must name an address to bind, got an empty string (127.0.0.1: this machine "
            "only; 0.0.0.0: every interface)"
        )
    if (
        any(c.isspace() or c in "/?#@" for c in bare)
        or guard.split_host(f"[{bare}]" if ":" in bare else bare) is None
    ):
        return (
            f"--host must be a host name or IP address without scheme, port or path, got {host!r}"
        )
    return None


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


def build_command(
    directory: Path,
    port: int,
    host: str,
    *,
    poll: bool = False,
    python: str = sys.executable,
    app_path: Path = APP_PATH,
    allowed_hosts: Sequence[str] = (),
) -> list[str]:
    """The argv of one Streamlit child (through :mod:`dashboard.commands.serve`, which installs the
    same-origin guard first): headless, no usage stats, no file watcher on the code, the viewer
    toolbar (no "Deploy" button on a read-only monitor), XSRF and CORS protection on, and
    Streamlit's own WebSocket Host allow-list set to the names this server answers to."""
    names = sorted(guard.allowed_names(host, allowed_hosts))
    cmd = [
        python, "-m", "dashboard.commands.serve", "run", str(app_path),
        "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
        "--server.enableXsrfProtection", "true",
        "--server.enableCORS", "true",
        *[arg for name in names for arg in ("--server.allowedHosts", name)],
        "--",
        "--checkpoint-dir", str(directory),
    ]  # fmt: skip
    if poll:
        cmd.append("--poll")
    return cmd


def display_url(host: str, port: int) -> str:
    """The URL a person types: a wildcard bind shows this machine's name, IPv6 gets brackets."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def wide_open_note(host: str) -> str | None:
    """A caution for stderr when ``host`` is not a loopback address, else None."""
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        return None
    return (
        f"thalia-dashboard: serving on {host}: anyone who can reach this machine can read these "
        "runs (leave out --host to keep the dashboards on 127.0.0.1)"
    )


def format_table(dashboards: Sequence[Dashboard]) -> str:
    """A two-column text table, directory -> URL, one line per dashboard."""
    header = ("directory", "URL")
    rows = [(str(d.directory), d.url) for d in dashboards]
    width = max(len(r[0]) for r in [header, *rows])
    url_width = max(len(r[1]) for r in [header, *rows])
    rule = ("-" * width, "-" * url_width)
    lines = [f"{a.ljust(width)}  {b}" for a, b in [header, rule, *rows]]
    return "\n".join(lines)


class _Stop(Exception):
    """Raised from the SIGTERM handler to leave the wait loop like Ctrl-C does."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Stop


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


def main(
    argv: Sequence[str] | None = None,
    *,
    app_path: Path = APP_PATH,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Console script entry point; returns the process exit code (0 after Ctrl-C/SIGTERM)."""
    args = parse_args(argv)
    out, err = stdout or sys.stdout, stderr or sys.stderr
    if not app_path.is_file():
        print(
            f"thalia-dashboard: the page {app_path} is missing; reinstall thalia-monitor "
            "(pip install -e '.[dashboard]')",
            file=err,
        )
        return 2
    note = wide_open_note(args.host)
    if note:
        print(note, file=err)
    files = [d for d in args.dirs if d.exists() and not d.is_dir()]
    for d in files:
        print(
            f"thalia-dashboard: {d} is a file, not a directory; give the checkpoint directory "
            "the trainer writes into (the folder that holds training_log.jsonl)",
            file=err,
        )
    if files:
        return 2
    for d in args.dirs:
        if not d.is_dir():
            print(
                f"thalia-dashboard: {d} does not exist yet; its dashboard will wait for it",
                file=err,
            )
    problem = bind_problem(args.host)
    if problem:
        print(f"thalia-dashboard: cannot bind --host {args.host!r}: {problem}", file=err)
        return 2
    try:
        ports = pick_ports(
            len(args.dirs), args.port, args.host, warn=lambda msg: print(msg, file=err)
        )
    except LauncherError as exc:
        print(f"thalia-dashboard: {exc}", file=err)
        return 2
    dashboards = [
        Dashboard(d, p, display_url(args.host, p)) for d, p in zip(args.dirs, ports, strict=True)
    ]
    extra_hosts = os.environ.get(guard.ENV_ALLOWED_HOSTS, "").split(",")
    # The children import dashboard.commands.serve: make this checkout importable from any cwd.
    package_root = str(Path(guard.__file__).resolve().parents[2])
    child_env = {**os.environ,
                 "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                             os.environ.get("PYTHONPATH")]))}  # fmt: skip
    if args.thresholds:
        child_env[THRESHOLDS_ENV] = args.thresholds
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for dash in dashboards:
            cmd = build_command(
                dash.directory.resolve(), dash.port, args.host, poll=args.poll,
                app_path=app_path, allowed_hosts=extra_hosts,
            )  # fmt: skip
            # stdout only carries Streamlit's own "you can now view" banner: the table replaces
            # it. Errors and tracebacks go to stderr, which the child shares with us.
            procs.append(
                subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                    env=child_env,
                )
            )
        print(format_table(dashboards), file=out, flush=True)
        print("Ctrl-C stops all dashboards.", file=out, flush=True)
        return supervise(dashboards, procs, stderr=err)
    except (KeyboardInterrupt, _Stop):
        print("\nthalia-dashboard: stopping all dashboards", file=err, flush=True)
        return 0
    finally:
        # A second Ctrl-C or SIGTERM must not cut the (bounded) shutdown short and orphan children.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stop_all(procs)
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)


if __name__ == "__main__":
    sys.exit(main())
