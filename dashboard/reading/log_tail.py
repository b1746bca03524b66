"""The head and the tail of a log file as small frames: what a runs overview needs of a run
without reading its history.

:func:`window_lines` reads one byte window of a file (``fs.open``, one seek, one read) and keeps
only its complete lines: a window that does not start at 0 drops the bytes before its first
``\\n`` (the end of a line cut in two), and the bytes after the last ``\\n`` are not a line yet.
:func:`parse_records` parses them with the reference line parser (a bad line is counted and
skipped, never raised); :func:`tail_frames` turns the records into the frames of a
:class:`~dashboard.run_state.RunState` (metric rows sharing ``(rank, step)`` merged field by
field, events sorted by step, explicitly logged non-finite values in ``nonfinite``).

What it guarantees is only about the window: the frames hold the lines of the window, not the
run's history, and the timeline rules of :mod:`dashboard.reading.directory` (resumes dropping an
abandoned timeline) are not applied. The run page's :class:`RunWatcher` is the reader of record.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dashboard.errors import BadRecord
from dashboard.reading.chunks import LOGGED_NAN
from dashboard.reading.fs import FileSystem
from dashboard.reading.line_parser import EVENT_KINDS, parse_line
from dashboard.reading.linebuffer import DEFAULT_MAX_LINE_BYTES
from dashboard.reading.row_order import order_rows
from dashboard.run_state import FRAME_COLUMNS, empty_frame

__all__ = [
    "HEAD_BYTES",
    "HEAD_LINE_BYTES",
    "TAIL_BYTES",
    "TailRecords",
    "empty",
    "frame_of",
    "head_lines",
    "nonfinite_frame",
    "parse_records",
    "read_lines",
    "tail_frames",
    "window_lines",
]

TAIL_BYTES = 64 << 10
HEAD_BYTES = 16 << 10
#: the longest first line read for its config (the full reader's line limit)
HEAD_LINE_BYTES = DEFAULT_MAX_LINE_BYTES


def read_lines(fs: FileSystem, path: str, start: int, length: int) -> tuple[list[bytes], int]:
    """The complete lines among the ``length`` bytes of ``path`` from ``start``, and the offset
    just after the last of them (``start`` when there is none)."""
    if length <= 0:
        return [], start
    with fs.open(path) as fh:
        fh.seek(start)
        data = fh.read(length)
    end = data.rfind(b"\n")
    if end < 0:
        return [], start
    first = 0
    if start > 0:
        first = data.find(b"\n") + 1  # the end of a line that began before the window
    lines = [line for line in data[first:end].split(b"\n") if line.strip()]
    return lines, start + end + 1


def head_lines(fs: FileSystem, path: str, start: int, size: int) -> list[bytes]:
    """The complete lines of ``path`` before ``start`` (where a tail window begins), at most
    :data:`HEAD_BYTES` of them; when the first line alone is longer (a ``run_start`` with a
    big config), that line, read to its end (at most :data:`HEAD_LINE_BYTES`). That long line
    is never also in the tail window: one that ends after ``start`` is the cut line the window
    drops."""
    lines, _ = read_lines(fs, path, 0, min(HEAD_BYTES, start))
    if lines or start == 0:
        return lines
    with fs.open(path) as fh:
        data = fh.read(min(HEAD_LINE_BYTES, size))
    end = data.find(b"\n")
    return [data[:end]] if end > 0 else []


def window_lines(fs: FileSystem, path: str, start: int, length: int) -> list[bytes]:
    """The complete lines among the ``length`` bytes of ``path`` from ``start``."""
    return read_lines(fs, path, start, length)[0]


@dataclass
class TailRecords:
    """Parsed records by frame name, the newest ``run_start`` config, and the bad-line count."""

    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {kind: [] for kind in EVENT_KINDS.values()}
    )
    nonfinite: list[tuple[int, int, str, float]] = field(default_factory=list)
    config: dict[str, Any] | None = None
    config_key: tuple[float, int] = (-math.inf, -1)
    bad: int = 0
    max_wall_time: float | None = None


def parse_records(
    lines: Iterable[bytes],
    rank: int,
    into: TailRecords | None = None,
    *,
    keep: Collection[str] | None = None,
) -> TailRecords:
    """Parse ``lines`` of a log file of ``rank`` (later lines are newer) into ``into``; with
    ``keep``, only records of those frames (and bad lines are not counted)."""
    out = into if into is not None else TailRecords()
    seq = sum(len(rows) for rows in out.rows.values())
    for line in lines:
        try:
            kind, fields = parse_line(line)
        except (BadRecord, ValueError, TypeError, RecursionError):
            out.bad += keep is None
            continue
        if keep is not None and kind not in keep:
            continue
        seq += 1
        fields.setdefault("rank", rank)
        config = fields.pop("_config", None)
        wall = fields["wall_time"]
        if not math.isnan(wall):
            out.max_wall_time = wall if out.max_wall_time is None else max(out.max_wall_time, wall)
        if config is not None:
            key = (-math.inf if math.isnan(wall) else wall, seq)
            if key >= out.config_key:
                out.config, out.config_key = config, key
        for column in fields.pop("_nonfinite", ()):
            out.nonfinite.append((fields["step"], fields["rank"], column, fields[column]))
            if math.isnan(fields[column]):
                fields[column] = LOGGED_NAN  # a value when lines merge, as the full reader
        out.rows[kind].append(fields)
    return out


def _column(rows: list[dict[str, Any]], column: str, dtype: str) -> np.ndarray:
    if dtype == "str":
        out = np.empty(len(rows), dtype=object)
        out[:] = [str(r.get(column, "")) for r in rows]
        return out
    if dtype == "int64":
        return np.array([r.get(column, 0) for r in rows], dtype=np.int64)
    return np.array([r.get(column, math.nan) for r in rows], dtype=np.float64)


_EMPTY: dict[str, pd.DataFrame] = {}


def empty(name: str) -> pd.DataFrame:
    """The empty frame ``name``, built once per process and shared (frames are read-only)."""
    frame = _EMPTY.get(name)
    if frame is None:
        frame = _EMPTY[name] = empty_frame(name)
    return frame


def frame_of(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The frame ``name`` of ``rows``: columns and dtypes as :data:`FRAME_COLUMNS`, extra numeric
    fields after them, sorted by (step, rank, line order); metric rows sharing ``(step, rank)``
    merged field by field, the later logged value winning (the full reader's rule and code:
    :func:`~dashboard.reading.row_order.order_rows`)."""
    if not rows:
        return empty(name)
    columns = dict(FRAME_COLUMNS[name])
    for row in rows:
        for key in row:
            columns.setdefault(key, "float64")  # extra numeric fields, in order of appearance
    data = {c: _column(rows, c, dtype) for c, dtype in columns.items()}
    keys = {
        "step": data["step"],
        "rank": data["rank"],
        "_seq": np.arange(len(rows), dtype=np.int64),
        "_src": np.zeros(len(rows), dtype=np.int64),
    }
    idx, merge = order_rows(keys, (), name == "metrics_history")
    out = {}
    for column, values in data.items():
        kept = values if idx is None else values[idx]
        if merge is not None and columns[column] == "float64":
            kept = kept.copy() if idx is None else kept
            kept[merge.out] = merge.values(values)
        out[column] = kept
    return pd.DataFrame(out)


def tail_frames(records: TailRecords) -> dict[str, pd.DataFrame]:
    """The frames of :class:`~dashboard.run_state.RunState` (by name) built from ``records``."""
    frames = {kind: frame_of(kind, rows) for kind, rows in records.rows.items()}
    frames["nonfinite"] = nonfinite_frame(records.nonfinite)
    return frames


def nonfinite_frame(entries: list[tuple[int, int, str, float]]) -> pd.DataFrame:
    """The ``nonfinite`` frame of ``(step, rank, column, value)`` entries."""
    if not entries:
        return empty("nonfinite")
    frame = pd.DataFrame(entries, columns=["step", "rank", "column", "value"])
    return frame.astype(
        {"step": np.int64, "rank": np.int64, "column": object, "value": np.float64}
    ).sort_values(["step", "rank", "column"], kind="stable", ignore_index=True)
