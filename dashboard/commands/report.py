"""``thalia-report DIR [-o report.html] [--png DIR] [--json FILE]``: an offline report of a run.

Reads the checkpoint directory once (read-only, like the page), prints the diagnosis to stdout
(✓ / ⚠️ lines with suggested fixes) and exits 0 when healthy, 1 with warnings, 2 with a
critical alert; 3 when the directory cannot be reported on (missing, a file, unwritable output).
Writes one self-contained HTML file (no network), PNGs of the main charts with ``--png`` and a
``training_metrics.json``-like summary with ``--json``. No Streamlit. ``DIR`` may be an fsspec
URL (``s3://bucket/run``; ``--storage-option KEY=VALUE``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from dashboard.commands.remote_args import (
    add_storage_option,
    is_remote,
    remote_problem,
    storage_options,
)
from dashboard.commands.report_facts import diagnosis_lines, exit_code, run_facts, summary_json
from dashboard.commands.report_html import render_html, write_pngs
from dashboard.errors import RemoteUnavailable
from dashboard.reading.watcher import load_training_state
from dashboard.run_state import RunState

__all__ = ["EXIT_ERROR", "build_parser", "main"]

EXIT_ERROR = 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="thalia-report",
        description="Write a self-contained HTML report of a Thalia run and print its diagnosis. "
        "Exit code: 0 healthy, 1 warnings, 2 critical, 3 error.",
    )
    p.add_argument("checkpoint_dir", help="the run's checkpoint directory (read only)")
    p.add_argument(
        "-o",
        "--output",
        default="report.html",
        help="HTML file to write (default: report.html; '-' for none)",
    )
    p.add_argument("--png", metavar="DIR", help="also write PNGs of the main charts into DIR")
    p.add_argument("--json", metavar="FILE", help="also write a JSON summary to FILE")
    add_storage_option(p)
    return p


def _inside(path: str, directory: str) -> bool:
    root = os.path.realpath(directory)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    directory = args.checkpoint_dir
    remote = is_remote(directory)
    if remote:
        return _remote_report(args, storage_options(parser, args, [directory]))
    if not os.path.exists(directory):
        print(
            f"thalia-report: {directory}: no such directory. Give the checkpoint directory "
            "the trainer writes into (the folder holding training_log.jsonl).",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if not os.path.isdir(directory):
        print(
            f"thalia-report: {directory} is a file, not a directory. Give the checkpoint "
            "directory (the folder holding training_log.jsonl).",
            file=sys.stderr,
        )
        return EXIT_ERROR
    outputs = [o for o in (None if args.output == "-" else args.output, args.json, args.png) if o]
    for out in outputs:
        if _inside(out, directory):
            print(
                f"thalia-report: {out} is inside the checkpoint directory; the monitor never "
                "writes there. Choose another output path.",
                file=sys.stderr,
            )
            return EXIT_ERROR
    return _report(args, load_training_state(directory))


def _remote_report(args: argparse.Namespace, options: dict[str, Any]) -> int:
    try:
        state = load_training_state(args.checkpoint_dir, storage_options=options)
    except RemoteUnavailable as exc:
        print(f"thalia-report: {exc}", file=sys.stderr)
        return EXIT_ERROR
    problem = remote_problem(state)
    if problem:
        print(f"thalia-report: {problem}", file=sys.stderr)
        return EXIT_ERROR
    return _report(args, state)


def _report(args: argparse.Namespace, state: RunState) -> int:
    """Write the outputs of one read run and print its diagnosis; the exit code."""
    if state.error:
        print(f"thalia-report: warning: reading failed partly: {state.error}", file=sys.stderr)
    facts = run_facts(state)
    try:
        if args.output != "-":
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(render_html(facts))
            print(
                f"Report written to {args.output} ({os.path.getsize(args.output):,} bytes)",
                file=sys.stderr,
            )
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(summary_json(facts), f, indent=2, allow_nan=False)
            print(f"Summary written to {args.json}", file=sys.stderr)
        if args.png:
            paths = write_pngs(facts, args.png)
            print(f"{len(paths)} PNG charts written to {args.png}", file=sys.stderr)
    except OSError as exc:
        print(f"thalia-report: cannot write the output: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print("\n".join(diagnosis_lines(facts)))
    return exit_code(facts.alerts)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
