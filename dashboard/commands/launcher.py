"""``thalia-dashboard``: one Streamlit server per checkpoint directory, ports counting up.

    thalia-dashboard DIR [DIR ...] [--port 8501] [--host 127.0.0.1] [--poll]
    thalia-dashboard --root ROOT [--port 8501] ...

With ``--root`` one server shows every run under ROOT (Runs, Compare and Run pages; see
:mod:`dashboard.page.root_app`); a single DIR that holds no log but run folders below it is
served the same way, said on stderr.

Each directory gets its own ``python -m streamlit run dashboard/app.py`` child on the next free
port from ``--port`` (ports something else listens on are skipped, said in one line on stderr;
at most ``MAX_PORT_TRIES`` ports are tried, and a ``--host`` that cannot be bound at all is said
once before any port is tried). The launcher prints a table directory -> URL and waits. Ctrl-C or SIGTERM stops every
child (each child runs in its own process group, so Streamlit's own helpers go too); a child
that dies on its own is reported, and when all of them have died the launcher exits non-zero.

Servers bind 127.0.0.1 unless ``--host`` says otherwise, never open a browser and never send
usage statistics. Each child is ``python -m dashboard.page.serve run app.py``: Streamlit's command line
with the same-origin guard of :mod:`dashboard.page.guard` installed first, so a request whose Host is
not a name of this server (DNS rebinding) or whose Origin is another site gets 403. ``--host``
opens the dashboards to whoever can reach that address (no login, no TLS); the guard still
refuses other names than the loopback ones, the ``--host`` value, this machine's name on a
wildcard bind, and those listed in ``THALIA_ALLOWED_HOSTS`` (comma-separated).

A ``DIR`` may be an fsspec URL (``s3://bucket/run``, ``gs://...``, ``sftp://host/path``): its
child polls it (no filesystem events from there); ``--storage-option KEY=VALUE`` values reach the
child as JSON in ``THALIA_STORAGE_OPTIONS``, never on its command line or page.

This module holds the entry point and the child's command line; the pure helpers live apart so
tests can call them directly: :mod:`.launch_args` (the command line, host checks),
:mod:`.ports` (free ports, bindable host, URLs) and :mod:`.supervise` (the running children:
table, wait, stop). Their names are re-exported here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from dashboard.analysis.threshold_files import ENV_VAR as THRESHOLDS_ENV
from dashboard.commands.launch_args import LauncherArgs, parse_args, validate_host, wide_open_note
from dashboard.commands.ports import (
    MAX_PORT,
    MAX_PORT_TRIES,
    LauncherError,
    bind_problem,
    display_url,
    pick_ports,
    port_is_free,
)
from dashboard.commands.supervise import (
    POLL_INTERVAL_S,
    STOP_GRACE_S,
    Dashboard,
    format_table,
    stop_all,
    supervise,
)
from dashboard.page import guard
from dashboard.reading.runs import discover_runs, holds_run_files
from dashboard.reading.storage_options import STORAGE_OPTIONS_ENV

__all__ = [
    "APP_PATH",
    "MAX_PORT",
    "MAX_PORT_TRIES",
    "POLL_INTERVAL_S",
    "STOP_GRACE_S",
    "Dashboard",
    "LauncherArgs",
    "LauncherError",
    "as_root",
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


def build_command(
    directory: Path | str,
    port: int,
    host: str,
    *,
    poll: bool = False,
    python: str = sys.executable,
    app_path: Path = APP_PATH,
    allowed_hosts: Sequence[str] = (),
    root: bool = False,
) -> list[str]:
    """The argv of one Streamlit child (through :mod:`dashboard.page.serve`, which installs the
    same-origin guard first): headless, no usage stats, no file watcher on the code, the viewer
    toolbar (no "Deploy" button on a read-only monitor), XSRF and CORS protection on, and
    Streamlit's own WebSocket Host allow-list set to the names this server answers to.
    ``root``: ``directory`` is a root of runs (``--root``), not one run."""
    names = sorted(guard.allowed_names(host, allowed_hosts))
    cmd = [
        python, "-m", "dashboard.page.serve", "run", str(app_path),
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
        "--root" if root else "--checkpoint-dir", str(directory),
    ]  # fmt: skip
    if poll:
        cmd.append("--poll")
    return cmd


class _Stop(Exception):
    """Raised from the SIGTERM handler to leave the wait loop like Ctrl-C does."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Stop


def main(
    argv: Sequence[str] | None = None,
    *,
    app_path: Path = APP_PATH,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Console script entry point; returns the process exit code (0 after Ctrl-C/SIGTERM)."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = as_root(parse_args(argv), err)
    dashboards = _plan(args, app_path, err)
    if dashboards is None:
        return 2
    return _serve(dashboards, args, app_path, out, err)


def _refused(args: LauncherArgs, app_path: Path, err: IO[str]) -> bool:
    """Say why nothing can start (page missing, a file given as a directory); True if so."""
    if not app_path.is_file():
        print(
            f"thalia-dashboard: the page {app_path} is missing; reinstall thalia-monitor "
            "(pip install -e '.[dashboard]')",
            file=err,
        )
        return True
    note = wide_open_note(args.host)
    if note:
        print(note, file=err)
    files = [
        d
        for d in (*args.dirs, *filter(None, [args.root]))
        if isinstance(d, Path) and d.exists() and not d.is_dir()
    ]
    for d in files:
        print(
            f"thalia-dashboard: {d} is a file, not a directory; give the checkpoint directory "
            "the trainer writes into (the folder that holds training_log.jsonl)",
            file=err,
        )
    return bool(files)


def as_root(args: LauncherArgs, err: IO[str]) -> LauncherArgs:
    """``args`` in root mode when its one directory holds no run files but runs below it (said
    on stderr: the page would otherwise wait for logs that never come); else unchanged."""
    if args.root is not None or len(args.dirs) != 1:
        return args
    directory = args.dirs[0]
    if not isinstance(directory, Path) or not directory.is_dir():  # a URL is one run
        return args
    try:
        if holds_run_files(os.listdir(directory)):
            return args
    except OSError:
        return args
    runs = discover_runs(str(directory)).runs
    if not runs:
        return args
    print(
        f"thalia-dashboard: {directory} holds no training log but {len(runs)} run "
        "folder(s) below it; serving them all in one dashboard (as with --root)",
        file=err,
    )
    return dataclasses.replace(args, dirs=(), root=directory)


def _plan(args: LauncherArgs, app_path: Path, err: IO[str]) -> list[Dashboard] | None:
    """The dashboards to start (directory, port, URL), or None after saying why none can."""
    if _refused(args, app_path, err):
        return None
    dirs = args.dirs if args.root is None else (args.root,)
    for d in dirs:
        if isinstance(d, Path) and not d.is_dir():
            print(
                f"thalia-dashboard: {d} does not exist yet; its dashboard will wait for it",
                file=err,
            )
    problem = bind_problem(args.host)
    if problem:
        print(f"thalia-dashboard: cannot bind --host {args.host!r}: {problem}", file=err)
        return None
    try:
        ports = pick_ports(len(dirs), args.port, args.host, warn=lambda msg: print(msg, file=err))
    except LauncherError as exc:
        print(f"thalia-dashboard: {exc}", file=err)
        return None
    return [Dashboard(d, p, display_url(args.host, p)) for d, p in zip(dirs, ports, strict=True)]


def _resolved(directory: Path | str) -> Path | str:
    """A local directory made absolute; a URL as given."""
    return directory.resolve() if isinstance(directory, Path) else directory


def _child_env() -> dict[str, str]:
    """The children import dashboard.page.serve: make this checkout importable from any cwd."""
    package_root = str(Path(guard.__file__).resolve().parents[2])
    return {**os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                        os.environ.get("PYTHONPATH")]))}  # fmt: skip


def _serve(
    dashboards: Sequence[Dashboard], args: LauncherArgs, app_path: Path,
    out: IO[str], err: IO[str],
) -> int:  # fmt: skip
    """Start one child per dashboard, print the table, wait; stop them all however it ends."""
    extra_hosts = os.environ.get(guard.ENV_ALLOWED_HOSTS, "").split(",")
    child_env = _child_env()
    if args.thresholds:
        child_env[THRESHOLDS_ENV] = args.thresholds
    if args.storage_options:  # may hold secrets: the environment, never the command line
        child_env[STORAGE_OPTIONS_ENV] = json.dumps(args.storage_options)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for dash in dashboards:
            cmd = build_command(
                _resolved(dash.directory), dash.port, args.host, poll=args.poll,
                app_path=app_path, allowed_hosts=extra_hosts, root=args.root is not None,
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
