"""The snapshot of a checkpoint directory that the loader hands to the page.

This module is the contract between the reader side (`tail`, `parse`, `frames`, `watcher`) and
everything that shows or exports a run (`health`, `charts`, `app`, `export`). It holds data only:
no I/O, no Streamlit.

Frame columns (every frame is sorted by ``step``; missing values are NaN):

``metrics_history``
    ``step`` (int64), ``wall_time`` (float64), ``rank`` (int64, 0 for the shared log),
    ``firing_rate``, ``capacity``, ``performance``, ``loss`` (float64, NaN/±inf kept as floats),
    ``neuron_counts.<region>`` and ``capacity_by_region.<region>`` (float64, one column per region
    as it appears), then every further numeric field the trainer logged (``lr``, ``grad_norm``,
    ``val_loss``, ``gpu_mem_bytes``, ...) as float64 columns in order of first appearance.
    One row per (rank, step): when a resumed run logs a step again, the newer line wins, and rows
    of the abandoned timeline (logged before the restart, with a step at or past the step the run
    went back to) are dropped.
``growth_events``
    ``step``, ``wall_time``, ``rank``, ``region`` (str), ``neurons_added`` (int64),
    ``new_total`` (int64), ``reason`` (str).
``consolidation_events``
    ``step``, ``wall_time``, ``rank``, ``sleep_stage`` ("NREM"/"REM"), ``patterns_replayed``
    (int64), ``duration_steps`` (int64).
``stage_events``
    ``step``, ``wall_time``, ``rank``, ``stage`` (int64), ``name`` (str).
``run_starts``
    ``step``, ``wall_time``, ``rank``, ``run_id`` (str), ``resumed_from_step`` (float64, NaN for a
    fresh run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

__all__ = ["BadLine", "HealthWarning", "Restart", "RunState", "Severity"]

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class BadLine:
    """One line (or metadata file) the loader skipped.

    ``file`` is the path relative to the checkpoint directory, ``offset`` the byte offset where the
    line starts (0 for a metadata file), ``excerpt`` at most the first 200 characters of the line
    (invalid UTF-8 replaced), ``reason`` says what was wrong in words a user can act on.
    """

    file: str
    offset: int
    excerpt: str
    reason: str


@dataclass(frozen=True)
class Restart:
    """The run (or a log file) started over.

    ``kind`` is ``"resumed"`` (steps went back, or a ``run_start`` with ``resumed_from_step``),
    ``"truncated"`` (the file shrank) or ``"replaced"`` (new inode). ``step`` is the step the run
    went back to (None when unknown, e.g. a truncated file before its first new line), and
    ``wall_time`` when it happened (the line's ``wall_time``, or when the loader noticed).
    """

    file: str
    kind: Literal["resumed", "truncated", "replaced"]
    step: int | None
    wall_time: float


@dataclass(frozen=True)
class HealthWarning:
    """A warning to show: from the metadata (``source="metadata"``) or a health check."""

    severity: Severity
    message: str
    source: str = "metadata"


def _empty() -> pd.DataFrame:
    return pd.DataFrame()


@dataclass(frozen=True)
class RunState:
    """An immutable snapshot of one checkpoint directory.

    ``exists`` is False while the directory does not exist yet (every frame is then empty, with
    its columns). ``metadata`` is the latest ``metadata_*.json`` by the ``step`` inside it, parsed
    (non-finite strings as floats), or None. ``warnings`` are that metadata's warnings,
    normalised (a plain string is severity ``"warning"``). ``bad_lines`` holds the most recent
    skipped lines (capped); ``bad_line_count`` counts all of them. ``last_update`` is the wall time
    of the newest line or metadata file, or None. ``version`` grows whenever anything in the
    snapshot changed, so callers can cache work derived from it.
    """

    checkpoint_dir: Path
    exists: bool = False
    metrics_history: pd.DataFrame = field(default_factory=_empty)
    growth_events: pd.DataFrame = field(default_factory=_empty)
    consolidation_events: pd.DataFrame = field(default_factory=_empty)
    stage_events: pd.DataFrame = field(default_factory=_empty)
    run_starts: pd.DataFrame = field(default_factory=_empty)
    metadata: dict[str, Any] | None = None
    metadata_file: str | None = None
    warnings: tuple[HealthWarning, ...] = ()
    bad_lines: tuple[BadLine, ...] = ()
    bad_line_count: int = 0
    restarts: tuple[Restart, ...] = ()
    last_update: float | None = None
    log_files: tuple[str, ...] = ()
    version: int = 0
