"""Open what one logger process writes: the JSON-lines sink, the console, the resume point.

:func:`open_outputs` turns the constructor's flags and this process's :class:`RankPlan` into
open :class:`Outputs`. It assumes nothing about the directory: it creates it only when this
process writes something there (a rank that writes nothing leaves no trace), reads where an
existing log left off before opening it for append (its tail only, see :mod:`.resume`, plus
the legacy ``training_log.json`` for the shared log), and guarantees that on failure nothing
stays open: no file descriptor, no flusher thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .console import ConsoleLog
from .contract import LEGACY_LOG_NAME
from .ranks import LOG_NAME, RankPlan
from .resume import resumed_from
from .sink import MAX_PENDING_BYTES, JsonlSink, NullSink
from .values import check_step

if TYPE_CHECKING:
    from .segment_sink import SegmentSink

__all__ = ["LEGACY_LOG_NAME", "Outputs", "open_outputs"]

"""What older Thalia loggers called the JSON-lines log; it counts when finding the resume point."""


@dataclass
class Outputs:
    """The open outputs of one logger: close ``sink`` and ``console`` when done."""

    log_path: Path | None
    sink: JsonlSink | NullSink | SegmentSink
    console: ConsoleLog
    resumed_from_step: int | None


def open_outputs(
    log_dir: Path,
    plan: RankPlan,
    *,
    console_log: bool,
    file_log: bool,
    json_log: bool,
    resumed_from_step: object | None,
    flush_every: int,
    flush_interval_s: float,
    flush_every_line: bool,
    background_flush: bool,
    strict: bool = False,
    max_pending_bytes: int = MAX_PENDING_BYTES,
    console_every: int,
    console_stream: IO[str] | None,
) -> Outputs:
    """Open the sink and console ``plan`` allows; ``resumed_from_step`` wins over the log's tail."""
    log_path = log_dir / plan.log_name if json_log and plan.log_name is not None else None
    if log_path is not None or plan.writes_metadata or (file_log and plan.writes_console_file):
        log_dir.mkdir(parents=True, exist_ok=True)

    resumed: int | None = None
    if resumed_from_step is not None:
        resumed = check_step(resumed_from_step)
    elif log_path is not None:
        paths = [log_path]
        if plan.log_name == LOG_NAME:
            paths.append(log_dir / LEGACY_LOG_NAME)
        resumed = resumed_from(paths)

    sink: JsonlSink | NullSink = NullSink()
    if log_path is not None:
        sink = JsonlSink(
            log_path,
            flush_every=flush_every,
            flush_interval_s=flush_interval_s,
            flush_every_line=flush_every_line,
            background_flush=background_flush,
            strict=strict,
            max_pending_bytes=max_pending_bytes,
        )
    try:
        console = ConsoleLog(
            log_dir,
            console=console_log and plan.console,
            file_log=file_log and plan.writes_console_file,
            every=console_every,
            prefix=f"[rank {plan.rank}] " if plan.rank_field is not None else "",
            stream=console_stream,
        )
    except BaseException:  # e.g. console.log not writable: leave no thread or fd behind
        sink.close()
        raise
    return Outputs(log_path, sink, console, resumed)
