"""``thalia-export``: write a run's history as CSV.

Reads the checkpoint directory once (read-only, like the dashboard) and writes one CSV per frame.
The directory may be an fsspec URL (``s3://bucket/run``; ``--storage-option KEY=VALUE``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dashboard.analysis.lifecycle import run_lifecycle
from dashboard.commands.remote_args import (
    add_storage_option,
    is_remote,
    remote_problem,
    storage_options,
)
from dashboard.errors import ExportError, RemoteUnavailable
from dashboard.reading.watcher import load_training_state
from dashboard.run_state import RunState

__all__ = ["FRAMES", "ExportError", "build_parser", "export", "main"]

#: --what choice -> (RunState attribute, file suffix used for --what all)
FRAMES: dict[str, tuple[str, str]] = {
    "metrics": ("metrics_history", "_metrics"),
    "growth": ("growth_events", "_growth"),
    "consolidation": ("consolidation_events", "_consolidation"),
    "stages": ("stage_events", "_stages"),
    "lifecycle": ("run_ends", "_lifecycle"),
}
_DEFAULT_OUTPUT = {
    "metrics": "metrics_export.csv",
    "growth": "growth_export.csv",
    "consolidation": "consolidation_export.csv",
    "stages": "stages_export.csv",
    "lifecycle": "lifecycle_export.csv",
    "all": "thalia_export.csv",
}

_EPILOG = """\
output files:
  --what metrics|growth|consolidation|stages|lifecycle writes one CSV to FILE (default
  metrics_export.csv, growth_export.csv, ...; "-" writes to stdout).
  --what all writes one CSV per frame next to FILE, named after its stem:
  -o run.csv gives run_metrics.csv, run_growth.csv, run_consolidation.csv and
  run_stages.csv, run_lifecycle.csv (default stem: thalia_export). Every file has a header row; empty
  frames are written with their header only.

columns: as the dashboard's frames (step, wall_time, rank, then the event's fields;
nested neuron_counts / capacity_by_region as neuron_counts.<region> columns).
lifecycle: the run_end lines (status finished/failed/killed, error_type, message);
the run's status (also running, stalled or crashed) is said on stderr.
NaN (and a missing value) is written as an empty field, infinities as inf / -inf.

exit status: 0 written; 1 nothing to export or the output cannot be written;
2 bad arguments or the directory does not exist.
"""


def _targets(what: str, output: str | None) -> list[tuple[str, str]]:
    """(frame name, output path) pairs for one export."""
    out = output or _DEFAULT_OUTPUT[what]
    if what != "all":
        return [(FRAMES[what][0], out)]
    if out == "-":
        raise ExportError("--what all writes several files; give -o FILE.csv, not '-'", 2)
    path = Path(out)
    stem = path.with_suffix("") if path.suffix.lower() == ".csv" else path
    return [(frame, f"{stem}{suffix}.csv") for frame, suffix in FRAMES.values()]


def export(
    checkpoint_dir: str | os.PathLike[str],
    what: str = "metrics",
    output: str | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
) -> list[str]:
    """Write the CSV file(s); return the paths written. Raises ExportError. ``checkpoint_dir``
    may be an fsspec URL (read with ``storage_options``)."""
    directory = Path(checkpoint_dir)
    remote = is_remote(checkpoint_dir)
    if not remote and not directory.is_dir():
        raise ExportError(
            f"checkpoint directory {str(directory)!r} does not exist (or is not a directory); "
            "pass the directory the trainer's CurriculumLogger writes to",
            2,
        )
    targets = _targets(what, output)
    try:
        state: RunState = load_training_state(
            checkpoint_dir if remote else directory, storage_options=storage_options
        )
    except RemoteUnavailable as exc:
        raise ExportError(str(exc), 2) from None
    problem = remote_problem(state)
    if problem:
        raise ExportError(problem, 2)
    frames = [(getattr(state, frame), path) for frame, path in targets]
    m = state.metrics_history
    step = int(m["step"].max()) if len(m) else None
    print(f"run status: {run_lifecycle(state, step, now=time.time()).text}", file=sys.stderr)
    if all(df.empty for df, _ in frames):
        which = "events" if what == "all" else f"{what} events"
        found = ", ".join(state.log_files) or "no training_log*.jsonl file"
        raise ExportError(f"nothing to export: no {which} in {state.where!r} (found: {found})")
    written = []
    for df, path in frames:
        if path == "-":
            df.to_csv(sys.stdout, index=False)
            continue
        try:
            df.to_csv(path, index=False)
        except OSError as exc:
            raise ExportError(
                f"cannot write {path!r}: {exc.strerror or exc}; choose a writable path with -o"
            ) from None
        written.append(path)
    return written


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thalia-export",
        description="Export a Thalia run's history (checkpoint directory) as CSV.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directory", metavar="DIR", help="checkpoint directory of the run")
    parser.add_argument("-o", "--output", metavar="FILE", help="output CSV (see below)")
    parser.add_argument(
        "--what",
        choices=[*FRAMES, "all"],
        default="metrics",
        help="which history to export (default: metrics)",
    )
    add_storage_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    options = storage_options(parser, args, [args.directory])
    try:
        written = export(args.directory, args.what, args.output, storage_options=options)
    except ExportError as exc:
        print(f"thalia-export: error: {exc}", file=sys.stderr)
        return exc.code
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
