"""``thalia-demo``: write a simulated curriculum run live, through ``CurriculumLogger``.

    thalia-demo [DIR] [--speed X] [--steps N] [--seed S] [--overwrite]

The events come from :func:`thalia_logging.simulation.simulate` (pure and deterministic for a
seed); this module only paces them (``LINES_PER_SECOND`` metric lines per second, times
``--speed``) and hands each one to the logger, flushing so a dashboard sees it at once. Start a
dashboard on the same directory (``thalia-dashboard DIR``) to watch it.

A directory that already holds a run is refused unless ``--overwrite`` is given, which removes
only the files the logger writes (logs, metadata, console.log), never anything else: appending
a second simulated run from step 0 onto an old one would read as a restart, not as a demo.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from .contract import CONSOLE_LOG_NAME, LEGACY_LOG_NAME, LOG_NAME, METADATA_GLOB, RANK_LOG_GLOB
from .logger import CurriculumLogger
from .simulation import DemoConfig, DemoConfigError, DemoEvent, simulate

__all__ = [
    "DEFAULT_DIR",
    "LINES_PER_SECOND",
    "DemoDirectoryError",
    "existing_run_files",
    "main",
    "run_demo",
    "write_event",
]

LINES_PER_SECOND = 4.0
DEFAULT_DIR = "demo-run"
_RUN_FILES = (LOG_NAME, LEGACY_LOG_NAME, RANK_LOG_GLOB, METADATA_GLOB,
              CONSOLE_LOG_NAME)  # fmt: skip


class DemoDirectoryError(RuntimeError):
    """The target directory already holds a run and ``--overwrite`` was not given."""


class _Logger(Protocol):
    def log_metrics(self, step: int, **fields: Any) -> Any: ...
    def log_growth(self, step: int, region: str, neurons_added: int, new_total: int,
                   reason: str = "") -> Any: ...  # fmt: skip
    def log_consolidation(self, step: int, sleep_stage: str, patterns_replayed: int,
                          duration_steps: int) -> Any: ...  # fmt: skip
    def log_stage(self, step: int, stage: int, name: str = "") -> Any: ...
    def write_metadata(self, step: int, **fields: Any) -> Any: ...
    def flush(self) -> Any: ...
    def close(self) -> Any: ...


def write_event(logger: _Logger, event: DemoEvent) -> None:
    """Hand one simulated event to the matching CurriculumLogger method."""
    f = event.fields
    if event.kind == "metrics":
        logger.log_metrics(event.step, **f)
    elif event.kind == "growth":
        logger.log_growth(event.step, f["region"], f["neurons_added"], f["new_total"],
                          reason=f["reason"])  # fmt: skip
    elif event.kind == "consolidation":
        logger.log_consolidation(event.step, f["sleep_stage"], f["patterns_replayed"],
                                 f["duration_steps"])  # fmt: skip
    elif event.kind == "stage":
        logger.log_stage(event.step, f["stage"], name=f["name"])
    elif event.kind == "metadata":
        logger.write_metadata(event.step, **f)
    else:  # pragma: no cover - the Literal type makes this unreachable
        raise ValueError(f"unknown demo event kind {event.kind!r}")


def existing_run_files(directory: Path) -> list[Path]:
    """The files in ``directory`` that a logger writes (empty when there is no run yet)."""
    if not directory.is_dir():
        return []
    return sorted({p for pattern in _RUN_FILES for p in directory.glob(pattern) if p.is_file()})


def run_demo(
    directory: Path,
    events: Iterable[DemoEvent],
    *,
    speed: float = 1.0,
    run_config: Mapping[str, Any] | None = None,
    logger_factory: Callable[..., _Logger] = CurriculumLogger,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Write ``events`` into ``directory`` at ``LINES_PER_SECOND * speed`` metric lines per
    second; returns the last step written. ``speed=float('inf')`` writes without pausing.
    ``run_config`` goes into the ``run_start`` line.

    Only metric lines cost time; the other events of the same step follow them at once. The
    logger is flushed before every pause, so what was simulated is on disk while it waits. If
    the writer falls behind (a slow disk), it catches up without bursting.
    """
    if not speed > 0:
        raise DemoConfigError(f"--speed must be greater than 0, got {speed}")
    interval = 1.0 / (LINES_PER_SECOND * speed)
    logger = logger_factory(
        log_dir=directory,
        console_log=False,
        file_log=True,
        json_log=True,
        config=dict(run_config or {}),
        background_flush=False,
    )
    last_step = 0
    try:
        due = clock()
        for event in events:
            if event.kind == "metrics" and interval > 0:
                now = clock()
                if due > now:
                    logger.flush()
                    sleep(due - now)
                due = max(due, now - interval) + interval
            write_event(logger, event)
            last_step = event.step
        logger.flush()
    finally:
        logger.close()
    return last_step


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="thalia-demo",
        description="Write a simulated Thalia curriculum run live into DIR "
        "(watch it with: thalia-dashboard DIR).",
    )
    parser.add_argument(
        "dir",
        nargs="?",
        default=DEFAULT_DIR,
        type=Path,
        metavar="DIR",
        help=f"checkpoint directory to write (default {DEFAULT_DIR})",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help=f"pace multiplier (1 = {LINES_PER_SECOND:g} metric lines per second)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=DemoConfig.total_steps,
        help="training steps until the run ends (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="remove a previous run's log and metadata files in DIR first",
    )
    return parser.parse_args(argv)  # fmt: skip


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point; returns the exit code (0 also after Ctrl-C)."""
    args = _parse(argv)
    try:
        config = DemoConfig(total_steps=args.steps, seed=args.seed)
        if not args.speed > 0:
            raise DemoConfigError(f"--speed must be greater than 0, got {args.speed}")
        if args.dir.exists() and not args.dir.is_dir():
            raise DemoDirectoryError(
                f"{args.dir} is a file, not a directory; give the directory the demo should "
                "write its run into"
            )
        old = existing_run_files(args.dir)
        if old and not args.overwrite:
            raise DemoDirectoryError(
                f"{args.dir} already holds a run ({old[0].name}, ...); pass --overwrite to "
                "replace it, or choose another directory"
            )
    except (DemoConfigError, DemoDirectoryError) as exc:
        print(f"thalia-demo: {exc}", file=sys.stderr)
        return 2
    try:
        for path in old:
            path.unlink()
        args.dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"thalia-demo: cannot write into {args.dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    lines = config.total_steps // config.stride + 1
    minutes = lines / (LINES_PER_SECOND * args.speed) / 60
    print(f"thalia-demo: writing a simulated run of {config.total_steps} steps to {args.dir} "
          f"(about {minutes:.1f} min); watch it with: thalia-dashboard {args.dir}",
          file=sys.stderr, flush=True)  # fmt: skip
    # SIGTERM stops the demo like Ctrl-C does: the logger closes and flushes what it holds.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_config = {"demo": True, "seed": config.seed, "total_steps": config.total_steps}
        last = run_demo(args.dir, simulate(config), speed=args.speed, run_config=run_config)
    except KeyboardInterrupt:
        print("thalia-demo: stopped", file=sys.stderr)
        return 0
    except OSError as exc:
        print(f"thalia-demo: cannot write into {args.dir}: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"thalia-demo: done at step {last}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
