"""The remote-directory part of every command line: ``--storage-option KEY=VALUE`` (repeatable)
and what a command says when a remote directory (an fsspec URL) cannot be read.

A ``DIR`` argument may be an fsspec URL (``s3://bucket/run``, ``gs://...``, ``sftp://host/path``,
``file://...``); credentials and endpoints come from each backend's standard environment and
config (``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, ``GOOGLE_APPLICATION_CREDENTIALS``,
``~/.ssh/config``), and ``--storage-option`` gives the rest (see
:mod:`dashboard.reading.storage_options`).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from dashboard.errors import RemoteUnavailable
from dashboard.reading.remote_fs import filesystem_for, is_remote
from dashboard.reading.storage_options import parse_storage_options
from dashboard.run_state import RunState

__all__ = ["add_storage_option", "is_remote", "remote_problem", "storage_options"]

_HELP = (
    "fsspec storage option for a remote DIR (s3://, gs://, sftp://), repeatable: "
    "anon=true, client_kwargs.region_name=eu-west-1, ... (credentials and endpoints otherwise "
    "come from the backend's environment: AWS_ENDPOINT_URL, AWS_PROFILE, ~/.ssh/config)"
)


def add_storage_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--storage-option KEY=VALUE`` (repeatable) to ``parser``."""
    parser.add_argument(
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="storage_option",
        help=_HELP,
    )


def storage_options(
    parser: argparse.ArgumentParser, ns: argparse.Namespace, locations: Iterable[str] = ()
) -> dict[str, Any]:
    """The parsed ``--storage-option`` values; ``parser.error`` (exit 2) on a malformed one, or
    when one of the URLs in ``locations`` has no fsspec backend installed (naming the extra)."""
    try:
        options = parse_storage_options(ns.storage_option)
        for url in filter(is_remote, locations):
            filesystem_for(url, options)
    except (ValueError, RemoteUnavailable) as exc:
        parser.error(str(exc))
    return options


def remote_problem(state: RunState) -> str | None:
    """Why a remote directory gave nothing to show (unreachable, or nothing there), else None."""
    if state.url is None or state.exists:
        return None
    if state.error:
        return state.error
    return (
        f"{state.url}: nothing there (no such bucket or prefix, or the run has not written yet); "
        "check the URL"
    )
