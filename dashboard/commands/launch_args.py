"""The command line of ``thalia-dashboard``: directories, first port, host (checked to be a bare
host name or address), polling; and the caution printed when the host is not a loopback one."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.analysis.threshold_files import ThresholdsError, load_thresholds
from dashboard.commands.ports import MAX_PORT
from dashboard.commands.remote_args import add_storage_option, is_remote, storage_options
from dashboard.page import guard

__all__ = ["LauncherArgs", "parse_args", "validate_host", "wide_open_note"]


@dataclass(frozen=True)
class LauncherArgs:
    """Parsed command line: the directories in the order given (a URL such as ``s3://bucket/run``
    stays a string), the first port, host, poll, and the fsspec storage options for URLs."""

    dirs: tuple[Path | str, ...]
    port: int
    host: str
    poll: bool
    thresholds: str | None = None  # a TOML file or preset name (analysis.threshold_files)
    root: Path | None = None  # --root: one server over every run under it (dirs is then empty)
    storage_options: dict[str, Any] = field(default_factory=dict)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thalia-dashboard",
        usage="%(prog)s (DIR [DIR ...] | --root ROOT) [--port P] [--host H] [--poll] "
        "[--thresholds FILE]",
        description="Start one read-only Thalia dashboard per checkpoint directory, or one "
        "dashboard over every run under ROOT (--root).",
    )
    parser.add_argument(
        "dirs", nargs="*", metavar="DIR", help="checkpoint directory or URL (s3://, gs://, sftp://)"
    )
    parser.add_argument(
        "--root",
        help="one server for every run under ROOT (folders holding training_log* or "
        "metadata_*.json, up to 4 levels down): Runs, Compare and Run pages",
    )
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
    add_storage_option(parser)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> LauncherArgs:
    """Parse ``DIR [DIR ...] | --root ROOT`` and ``[--port P] [--host H] [--poll]``; argparse
    exits 2 on bad input (no directory and no root, or both)."""
    parser = _parser()
    ns = parser.parse_args(argv)
    if bool(ns.dirs) == (ns.root is not None):
        parser.error("give checkpoint directories (DIR ...) or --root ROOT, not both"
                     if ns.dirs else "give a checkpoint directory (DIR) or --root ROOT")  # fmt: skip
    options = storage_options(parser, ns, ns.dirs)
    if not 1 <= ns.port <= MAX_PORT:
        parser.error(f"--port must be between 1 and {MAX_PORT}, got {ns.port}")
    problem = validate_host(ns.host)
    if problem:
        parser.error(problem)
    host = ns.host.strip().removeprefix("[").removesuffix("]")
    thresholds = ns.thresholds
    if thresholds:
        try:
            load_thresholds(thresholds)
        except ThresholdsError as exc:
            parser.error(str(exc))
        if Path(thresholds).exists():
            thresholds = str(Path(thresholds).resolve())
    dirs = tuple(d if is_remote(d) else Path(d) for d in ns.dirs)
    if ns.root is not None and is_remote(ns.root):
        parser.error("--root takes a local directory; give a remote run as DIR (s3://bucket/run)")
    root = None if ns.root is None else Path(ns.root)
    return LauncherArgs(dirs, ns.port, host, ns.poll, thresholds, root, options)


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


def wide_open_note(host: str) -> str | None:
    """A caution for stderr when ``host`` is not a loopback address, else None."""
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        return None
    return (
        f"thalia-dashboard: serving on {host}: anyone who can reach this machine can read these "
        "runs (leave out --host to keep the dashboards on 127.0.0.1)"
    )
