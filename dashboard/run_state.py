"""The snapshot of a checkpoint directory that the loader hands to the page.

This module is the contract between the reader side (`tailer`, `parse`, `frames`, `watcher`) and
everything that shows or exports a run (`health`, `charts`, `app`, `export`). It holds data only:
no I/O, no Streamlit.

Frames are lazy: a :class:`RunState` holds, for each frame, either a DataFrame or a zero-argument
callable that builds it (the loader passes a snapshot of its column buffers, fixed at the moment the
state was taken, so a later refresh never changes what an older state shows). The frame is built on
first access and cached; every later access returns the same object. Treat frames as read-only
(copy before changing them in place).

Frame columns (every frame is sorted by ``step``; missing values are NaN):

``metrics_history``
    ``step`` (int64), ``wall_time`` (float64), ``rank`` (int64, 0 for the shared log),
    ``firing_rate``, ``capacity``, ``performance``, ``loss`` (float64, NaN/±inf kept as floats),
    ``neuron_counts.<region>`` and ``capacity_by_region.<region>`` (float64, one column per region
    as it appears), then every further numeric field the trainer logged (``lr``, ``grad_norm``,
    ``val_loss``, ``gpu_mem_bytes``, ...) as float64 columns in order of first appearance.
    One row per (rank, step): lines sharing it merge field by field (the later line's value of a
    field wins; a field the later line leaves out or logs as ``null`` keeps the earlier value; a
    logged NaN is a value). Late lines land in step order. After a resume (see
    :class:`Restart`), rows of the abandoned timeline are dropped: logged before the restart,
    by the same file and rank, with a step past the logged ``resumed_from_step`` (or, for a
    legacy resume, at or past the step the run went back to). The full rule, with a table of
    cases, is in :mod:`dashboard.reading.directory`.
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
    fresh run), ``host`` (str, "" when not logged), ``pid`` (float64, NaN when not logged).
``run_ends``
    ``step``, ``wall_time``, ``rank``, ``status`` ("finished"/"failed"/"killed"), ``error_type``
    and ``message`` (str, "" when not logged); see :mod:`dashboard.analysis.lifecycle`.

Rows of every frame but ``metrics_history`` are never merged (two regions may grow at one
step; a consolidation logged late is still its own event): they are sorted stably by step
(then rank, then read order), and the abandoned-timeline rule applies to all of them.

Missing is not NaN. A metric line that does not log a field leaves NaN in that column, exactly
like a line that logged ``"NaN"``. What the trainer explicitly logged as non-finite (the strings
``"NaN"``/``"Infinity"``/``"-Infinity"``, bare tokens, overflowing numbers) is kept apart, under
the same merge and abandoned-timeline rules as the rows:

``nonfinite``
    ``step`` (int64), ``rank`` (int64), ``column`` (str: any metric column, core, extra or
    ``capacity_by_region.<region>``), ``value`` (float64: NaN, inf or -inf); one row per
    (step, rank, column) whose value in ``metrics_history`` was logged non-finite, sorted by step,
    rank, column. Empty on clean runs.

``state.logged_nonfinite(column, rank=None)`` summarises it (count, first and last step and
value) and ``state.nonfinite_rows(column, rank=None)`` gives its rows of one column. Health
checks and charts use these, never "NaN in the frame", to say that a value turned NaN/Inf.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "FRAME_COLUMNS",
    "BadLine",
    "FrameSource",
    "HealthWarning",
    "NonFinite",
    "Restart",
    "RunState",
    "Severity",
    "empty_frame",
]

Severity = Literal["info", "warning", "critical"]

#: The columns every frame always has (even when empty), with their dtypes, in order.
FRAME_COLUMNS: dict[str, dict[str, str]] = {
    "metrics_history": {
        "step": "int64",
        "wall_time": "float64",
        "rank": "int64",
        "firing_rate": "float64",
        "capacity": "float64",
        "performance": "float64",
        "loss": "float64",
    },
    "growth_events": {
        "step": "int64",
        "wall_time": "float64",
        "rank": "int64",
        "region": "str",
        "neurons_added": "int64",
        "new_total": "int64",
        "reason": "str",
    },
    "consolidation_events": {
        "step": "int64",
        "wall_time": "float64",
        "rank": "int64",
        "sleep_stage": "str",
        "patterns_replayed": "int64",
        "duration_steps": "int64",
    },
    "stage_events": {
        "step": "int64",
        "wall_time": "float64",
        "rank": "int64",
        "stage": "int64",
        "name": "str",
    },
    "run_starts": {
        "step": "int64",
        "wall_time": "float64",
        "rank": "int64",
        "run_id": "str",
        "resumed_from_step": "float64",
        "host": "str",
        "pid": "float64",
    },
    "run_ends": {
        "step": "int64",
        "wall_time": "float64",
        "rank": "int64",
        "status": "str",
        "error_type": "str",
        "message": "str",
    },
    "nonfinite": {"step": "int64", "rank": "int64", "column": "str", "value": "float64"},
}


_EMPTY: dict[str, pd.DataFrame] = {}


def empty_frame(name: str) -> pd.DataFrame:
    """An empty frame with the columns and dtypes ``FRAME_COLUMNS[name]`` lists (a new object
    each call, copied from one built once)."""
    template = _EMPTY.get(name)
    if template is None:
        columns = FRAME_COLUMNS[name].items()
        template = _EMPTY[name] = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in columns})
    return template.copy()


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

    ``kind`` is ``"resumed"`` (a ``run_start`` with ``resumed_from_step``, or in a legacy log
    without ``run_start`` a sustained regression of metric steps; never a single late line),
    ``"truncated"`` (the file shrank) or ``"replaced"`` (new inode). ``step`` is the step the run
    went back to: the logged ``resumed_from_step``, the first step of the legacy regression, or
    for a truncated/replaced file the first step read again (None until then); ``wall_time``
    when it happened (the line's ``wall_time``, or when the loader noticed).
    """

    file: str
    kind: Literal["resumed", "truncated", "replaced"]
    step: int | None
    wall_time: float


@dataclass(frozen=True)
class HealthWarning:
    """A warning to show: from the metadata (``source="metadata"``) or a health check.

    ``check`` is a stable id of the rule (and subject) that raised it, e.g. ``"loss_nonfinite"``
    or ``"capacity:cortex"``: the alarm state machine (:mod:`dashboard.analysis.alarms`) keys
    alarms by it while the message text changes. Empty for metadata warnings (keyed by text).
    """

    severity: Severity
    message: str
    source: str = "metadata"
    check: str = ""


@dataclass(frozen=True)
class NonFinite:
    """Explicitly logged non-finite values of one column (see ``nonfinite`` in the module doc):
    how many rows, the first and last step, and the value at each (NaN, inf or -inf)."""

    count: int
    first_step: int
    last_step: int
    first_value: float
    last_value: float


FrameSource = pd.DataFrame | Callable[[], pd.DataFrame] | None


class _LazyFrame:
    """Builds a frame once, on first use, thread-safely; then always returns the same object."""

    __slots__ = ("_build", "_frame", "_lock", "_name")

    def __init__(self, name: str, source: FrameSource) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._frame: pd.DataFrame | None = source if isinstance(source, pd.DataFrame) else None
        self._build = source if callable(source) else None

    def get(self) -> pd.DataFrame:
        frame = self._frame
        if frame is not None:
            return frame
        with self._lock:
            if self._frame is None:
                self._frame = self._build() if self._build is not None else empty_frame(self._name)
                self._build = None
            return self._frame


class RunState:
    """An immutable snapshot of one checkpoint directory.

    ``exists`` is False while the directory does not exist yet (every frame is then empty, with
    its columns); ``not_a_directory`` is True when the path exists but is a file (a user error
    the page reports, rather than waiting for a directory to appear). ``metadata`` is the latest ``metadata_*.json`` by the ``step`` inside it, parsed
    (non-finite strings as floats), or None. ``warnings`` are that metadata's warnings,
    normalised (a plain string is severity ``"warning"``). ``bad_lines`` holds the most recent
    skipped lines (capped); ``bad_line_count`` counts all of them. ``last_update`` is the wall time
    of the newest line or metadata file (for lines without ``wall_time``, as older Thalia logs
    write them, the newest log file mtime the reader saw), or None. ``activity`` holds
    ``(time, step)`` samples taken when the reader saw new lines (the log file's mtime then,
    the highest step read so far): speed for logs without ``wall_time``. ``config`` is the
    ``config`` object of the newest ``run_start`` line (by wall time, then read order), made safe
    to show (nesting capped, lone surrogates replaced, non-finite strings as floats), or None. ``version`` grows whenever anything in the
    snapshot changed, so callers can cache work derived from it. ``error`` is the last unexpected
    error the loader hit while reading (it then kept the previous data), or None. ``url`` is the
    fsspec URL of a remote directory as given (``s3://bucket/run``), else None; :attr:`where`
    names the directory for display either way.

    The frames (``metrics_history``, ``growth_events``, ``consolidation_events``,
    ``stage_events``, ``run_starts``, ``run_ends``, and ``nonfinite``) are given as DataFrames or zero-argument builders and are
    built lazily, once (see the module docstring). Attributes cannot be reassigned.
    """

    checkpoint_dir: Path
    exists: bool
    not_a_directory: bool
    metadata: dict[str, Any] | None
    metadata_file: str | None
    warnings: tuple[HealthWarning, ...]
    bad_lines: tuple[BadLine, ...]
    bad_line_count: int
    restarts: tuple[Restart, ...]
    last_update: float | None
    log_files: tuple[str, ...]
    version: int
    error: str | None
    activity: tuple[tuple[float, int], ...]
    config: dict[str, Any] | None
    url: str | None
    _frames: dict[str, _LazyFrame]

    def __init__(
        self,
        checkpoint_dir: Path | str,
        exists: bool = False,
        *,
        metrics_history: FrameSource = None,
        growth_events: FrameSource = None,
        consolidation_events: FrameSource = None,
        stage_events: FrameSource = None,
        run_starts: FrameSource = None,
        run_ends: FrameSource = None,
        nonfinite: FrameSource = None,
        not_a_directory: bool = False,
        metadata: dict[str, Any] | None = None,
        metadata_file: str | None = None,
        warnings: tuple[HealthWarning, ...] = (),
        bad_lines: tuple[BadLine, ...] = (),
        bad_line_count: int = 0,
        restarts: tuple[Restart, ...] = (),
        last_update: float | None = None,
        log_files: tuple[str, ...] = (),
        version: int = 0,
        error: str | None = None,
        activity: tuple[tuple[float, int], ...] = (),
        config: dict[str, Any] | None = None,
        url: str | None = None,
    ) -> None:
        sources = {
            "metrics_history": metrics_history,
            "growth_events": growth_events,
            "consolidation_events": consolidation_events,
            "stage_events": stage_events,
            "run_starts": run_starts,
            "run_ends": run_ends,
            "nonfinite": nonfinite,
        }
        values: dict[str, Any] = {
            "checkpoint_dir": Path(checkpoint_dir),
            "exists": exists,
            "not_a_directory": not_a_directory,
            "metadata": metadata,
            "metadata_file": metadata_file,
            "warnings": tuple(warnings),
            "bad_lines": tuple(bad_lines),
            "bad_line_count": bad_line_count,
            "restarts": tuple(restarts),
            "last_update": last_update,
            "log_files": tuple(log_files),
            "version": version,
            "error": error,
            "activity": tuple(activity),
            "config": config,
            "url": url,
            "_frames": {name: _LazyFrame(name, src) for name, src in sources.items()},
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"RunState is immutable; cannot set {key!r} (take a new snapshot)")

    def __repr__(self) -> str:
        return (
            f"RunState(checkpoint_dir={str(self.checkpoint_dir)!r}, exists={self.exists}, "
            f"version={self.version}, log_files={self.log_files!r}, "
            f"bad_line_count={self.bad_line_count}, restarts={len(self.restarts)})"
        )

    @property
    def where(self) -> str:
        """The directory as the user named it: the URL of a remote one, else the path."""
        return self.url or str(self.checkpoint_dir)

    @property
    def metrics_history(self) -> pd.DataFrame:
        return self._frames["metrics_history"].get()

    @property
    def growth_events(self) -> pd.DataFrame:
        return self._frames["growth_events"].get()

    @property
    def consolidation_events(self) -> pd.DataFrame:
        return self._frames["consolidation_events"].get()

    @property
    def stage_events(self) -> pd.DataFrame:
        return self._frames["stage_events"].get()

    @property
    def run_starts(self) -> pd.DataFrame:
        return self._frames["run_starts"].get()

    @property
    def run_ends(self) -> pd.DataFrame:
        return self._frames["run_ends"].get()

    @property
    def nonfinite(self) -> pd.DataFrame:
        return self._frames["nonfinite"].get()

    def nonfinite_rows(self, column: str, rank: int | None = None) -> pd.DataFrame:
        """The ``nonfinite`` rows of ``column`` (and ``rank``; all ranks when None)."""
        frame = self.nonfinite
        if frame.empty:
            return frame
        mask = frame["column"].to_numpy() == column
        if rank is not None:
            mask &= frame["rank"].to_numpy() == rank
        return frame[mask]

    def logged_nonfinite(self, column: str, rank: int | None = None) -> NonFinite | None:
        """Summary of the explicitly logged non-finite values of ``column``, or None (none)."""
        rows = self.nonfinite_rows(column, rank)
        if rows.empty:
            return None
        steps = rows["step"].to_numpy(dtype=np.int64)
        values = rows["value"].to_numpy(dtype=np.float64)
        return NonFinite(
            len(rows), int(steps[0]), int(steps[-1]), float(values[0]), float(values[-1])
        )
