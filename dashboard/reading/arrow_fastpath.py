"""Parse a block of clean JSON lines at once with pyarrow's JSON reader (the fast path).

:func:`parse_block` handles the common case only: every line a valid metric, growth or
consolidation record (``event_type`` present on all lines or on none), no ``rank`` field, no
non-finite value. For anything else it returns None and the caller parses
the block line by line with :mod:`dashboard.reading.line_parser`, which is the reference: for blocks this
function accepts, both give the same rows (a test holds them to it). Refusing more than needed
is always safe; accepting must be exact.

Steps may come in any order: a line behind the others (an evaluator's ``val_loss``, a
consolidation logged when it ends) is a row like any other, which the tables sort in. Whether a
block with lines behind could start a new timeline in a legacy file is the timeline rules' call
(:meth:`~dashboard.reading.timeline.TimelineRules.take_block`), made on the parsed steps.

Non-finite values always take the per-line path: a ``"NaN"`` string makes a column a string
column (refused here), and the bare ``NaN``/``Infinity``/``Inf`` tokens that pyarrow's reader
accepts as floats are refused by the finiteness check. So clean blocks cost nothing extra, and
the per-line parser alone records which values were logged non-finite (``RunState.nonfinite``)
and rejects what it does not accept (``Inf``) the same way for every block.

pyarrow's JSON reader recurses once per nesting level and crashes the process (a segfault, not
an exception) on a value nested about 20,000 deep. It only ever sees a block that
:func:`nesting_safe` has proven shallow: every line either at most ``SHORT_LINE_BYTES`` long
(so nested at most half that deep, far below the crash) or, for the rare longer line, holding at
most ``MAX_OPEN_BRACKETS`` ``{``/``[`` bytes in all (a clean record has three). A block that
fails the check goes to the per-line parser, whose JSON reader stops at depth 1,024 with an
error. Column names starting with ``_`` (the reader's own columns) are refused too.

Cost (a live refresh is one such block, so what follows ``read_json`` should stay small next to
it): each column is converted once for the whole table, the numeric ones into the rows of one
float64 matrix that a single ``isfinite`` pass checks; the rows of each kind are then picked
with numpy (one gather of the matrix for the metric rows, small gathers for the few event
rows). A block whose ``event_type`` is all ``"metric"`` is recognised from the string buffers
alone (no hashing) and needs no gather at all.

This module is a little longer than 300 lines on purpose: each check above must agree with the line
parser, and they are easier to hold to that side by side than spread over modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as paj

__all__ = [
    "MAX_OPEN_BRACKETS",
    "MIN_BLOCK_BYTES",
    "SHORT_LINE_BYTES",
    "ParsedBlock",
    "nesting_safe",
    "parse_block",
]

#: below this many bytes the per-line parser is faster than starting pyarrow's reader
MIN_BLOCK_BYTES = 256 << 10
_READ_OPTIONS = paj.ReadOptions(use_threads=True, block_size=1 << 20)
#: data of one block is read on the calling thread: pyarrow's threads cannot split it, and
#: their hand-off waits for a free core (1k lines, 550 KB, with the other core busy: 4.0 -> 2.4
#: ms wall, the same CPU; on idle cores 2.2 vs 2.4 ms)
_ONE_BLOCK = paj.ReadOptions(use_threads=False, block_size=_READ_OPTIONS.block_size)
_INT = pa.int64()
_NUMERIC = (pa.int64(), pa.float64())
_NESTED = ("neuron_counts", "capacity_by_region")
_COMMON = frozenset(("event_type", "step", "wall_time", "rank"))
_METRIC = b"metric"
#: event_type -> code (the position in this list) for the kinds the fast path takes
_KINDS = (
    ("metric", "metrics_history"),
    ("growth", "growth_events"),
    ("consolidation", "consolidation_events"),
)
_LOOKUP = pc.SetLookupOptions(pa.array([value for value, _ in _KINDS]))
#: lines at most this long are nested at most half as deep: safe for pyarrow (tested to 10,000)
SHORT_LINE_BYTES = 4096
#: a longer line is safe when it holds at most this many ``{``/``[`` bytes
MAX_OPEN_BRACKETS = 64
_EXACT_FLOAT_INT = 2**53  # ints at or above it may not survive a float64 round trip

_Column: TypeAlias = pa.Array | pa.ChunkedArray


class _Fallback(Exception):
    pass


@dataclass(frozen=True)
class ParsedBlock:
    """``frames[name]`` = (row positions within the block, columns); ``lines`` = rows in block."""

    lines: int
    frames: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]
    max_wall_time: float


def parse_block(
    data: bytes,
    *,
    read_options: paj.ReadOptions | None = None,
) -> ParsedBlock | None:
    """Parse complete lines ``data`` (ending with a newline); None: use the per-line parser.
    ``read_options``: pyarrow's (a small ``block_size`` gives tables of many chunks); by
    default 1 MiB blocks, read on this thread when ``data`` fits in one."""
    # No line count check: blank lines carry no record in either parser, and a line pyarrow
    # cannot read makes it raise (then the per-line parser reports it).
    if not nesting_safe(data):
        return None
    try:
        if read_options is None:
            read_options = _ONE_BLOCK if len(data) <= _ONE_BLOCK.block_size else _READ_OPTIONS
        table = paj.read_json(pa.py_buffer(data), read_options=read_options)
        if not table.num_rows:
            return None
        return _split(table)
    except (_Fallback, pa.ArrowException, KeyError, ValueError, TypeError):
        return None


def nesting_safe(data: bytes) -> bool:
    """Whether no line of ``data`` can be nested deep enough to crash pyarrow's reader: each line
    is at most ``SHORT_LINE_BYTES`` long or holds at most ``MAX_OPEN_BRACKETS`` brackets.
    Finds the long lines by jumping a limit ahead and searching back for a newline."""
    limit = SHORT_LINE_BYTES
    find, rfind = data.find, data.rfind
    pos = 0
    end = len(data)
    while pos + limit < end:
        back = rfind(b"\n", pos, pos + limit + 1)
        if back >= 0:
            pos = back + 1
            continue
        nl = find(b"\n", pos + limit)  # the line at pos is longer than the limit
        if nl < 0:
            nl = end
        if data.count(b"{", pos, nl) + data.count(b"[", pos, nl) > MAX_OPEN_BRACKETS:
            return False
        pos = nl + 1
    return True


def _split(table: pa.Table) -> ParsedBlock:
    n = table.num_rows
    if any(name[:1] == "_" for name in table.schema.names):
        raise _Fallback  # a reserved name: the per-line parser refuses it with its reason
    columns: dict[str, _Column] = dict(zip(table.schema.names, table.columns, strict=True))
    rank = columns.get("rank")
    if rank is not None and rank.null_count != n:
        raise _Fallback
    steps = _steps(columns["step"])
    codes = _event_codes(columns.get("event_type"))
    metric_rows = other_rows = None
    if codes is not None:
        metric_rows = np.flatnonzero(codes == 0)
        other_rows = np.flatnonzero(codes)
    sources = _metric_sources(columns, n, other_rows)
    matrix = _float_matrix(sources, n)  # row 0: wall_time
    wall = matrix[0]
    frames: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    if metric_rows is None or len(metric_rows):
        positions = np.arange(n, dtype=np.int64) if metric_rows is None else metric_rows
        sub = matrix if metric_rows is None else matrix.take(metric_rows, axis=1)
        cols = {"step": steps if metric_rows is None else steps[metric_rows]}
        cols.update(zip(("wall_time", *(name for name, _, _ in sources[1:])), sub, strict=True))
        frames["metrics_history"] = (positions, cols)
    if codes is not None:
        for code, pick in ((1, _growth_columns), (2, _consolidation_columns)):
            rows = np.flatnonzero(codes == code)
            if len(rows):
                cols = {"step": steps[rows], "wall_time": wall[rows]}
                pick(columns, rows, cols)
                frames[_KINDS[code][1]] = (rows, cols)
    return ParsedBlock(n, frames, float(np.fmax.reduce(wall)))


def _steps(col: _Column) -> np.ndarray:
    """Every step an int >= 0, as the line parser asks (in any order)."""
    if col.type != _INT or col.null_count:
        raise _Fallback
    steps = col.to_numpy()
    if int(steps.min()) < 0:
        raise _Fallback
    return steps


def _all_metric(col: pa.ChunkedArray) -> bool:
    """Every value is ``"metric"`` (no nulls), read off the offsets and data buffers."""
    for chunk in col.chunks:
        m = len(chunk)
        _, offsets_buf, data_buf = chunk.buffers()
        offsets = np.frombuffer(offsets_buf, np.int32, m + 1, chunk.offset * 4)
        if not (np.diff(offsets) == len(_METRIC)).all():
            return False
        if memoryview(data_buf)[int(offsets[0]) : int(offsets[-1])] != _METRIC * m:
            return False
    return True


def _event_codes(col: _Column | None) -> np.ndarray | None:
    """Per row 0/1/2 = metric/growth/consolidation; None when every line is a metric line."""
    if col is None:
        return None
    if col.type != pa.string() or col.null_count:
        raise _Fallback
    if _all_metric(col):
        return None
    codes = pc.index_in(col, options=_LOOKUP)
    if codes.null_count:  # stage, run_start, unknown: the per-line parser handles them
        raise _Fallback
    return np.asarray(codes.to_numpy())


def _present(col: _Column, n: int, other_rows: np.ndarray | None) -> bool:
    """Whether ``col`` holds a value on some metric row (``other_rows``: the rest, or None)."""
    values = n - col.null_count
    if other_rows is None or values > len(other_rows) or not values:
        return values > 0
    valid = np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False))
    return values > int(np.count_nonzero(valid[other_rows]))


def _metric_sources(
    columns: dict[str, _Column],
    n: int,
    other_rows: np.ndarray | None,
) -> list[tuple[str, _Column | None, bool]]:
    """(column name, arrow column, int only) of every numeric metric column, in the per-line
    parser's order, ``wall_time`` first (None: absent); refuses any other value on metric rows."""
    wall = columns.get("wall_time")
    if wall is not None and wall.null_count == n:
        wall = None
    elif wall is not None and wall.type not in _NUMERIC:
        raise _Fallback
    sources: list[tuple[str, _Column | None, bool]] = [("wall_time", wall, False)]
    for name, col in columns.items():
        if name in _COMMON or not _present(col, n, other_rows):
            continue
        if name not in _NESTED:
            if col.type not in _NUMERIC:
                raise _Fallback
            sources.append((name, col, False))
            continue
        if not pa.types.is_struct(col.type):
            raise _Fallback
        arr = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
        for field, child in zip(col.type, arr.flatten(), strict=True):
            if not _present(child, n, other_rows):
                continue
            if child.type != _INT if name == "neuron_counts" else child.type not in _NUMERIC:
                raise _Fallback
            sources.append((f"{name}.{field.name}", child, name == "neuron_counts"))
    return sources


def _float_matrix(sources: list[tuple[str, _Column | None, bool]], n: int) -> np.ndarray:
    """The sources as rows of one float64 matrix (nulls NaN), checked in one pass: every value
    finite (a NaN is a null, never a logged value) and the int-only ones >= 0."""
    matrix = np.empty((len(sources), n))
    expected = np.empty(len(sources), dtype=np.int64)
    for i, (_, col, _) in enumerate(sources):
        if col is None:
            matrix[i] = np.nan
            expected[i] = 0
        else:
            matrix[i] = col.to_numpy(zero_copy_only=False)
            expected[i] = n - col.null_count
    if (np.count_nonzero(np.isfinite(matrix), axis=1) != expected).any():
        raise _Fallback  # a bare NaN/Infinity token: the per-line parser records it
    ints = [i for i, (_, _, int_only) in enumerate(sources) if int_only]
    if ints and bool((matrix[ints] < 0).any()):
        raise _Fallback
    return matrix


def _strings(col: _Column | None, rows: np.ndarray, *, required: bool) -> np.ndarray:
    """The strings at ``rows`` (object array); a null is refused, or "" when not required."""
    if col is None or col.type == pa.null():
        if required:
            raise _Fallback
        return np.full(len(rows), "", dtype=object)
    if col.type != pa.string():
        raise _Fallback
    out = np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)[rows]
    if col.null_count:
        missing = np.array([value is None for value in out], dtype=bool)
        if missing.any():
            if required:
                raise _Fallback
            out[missing] = ""
    return out


def _ints(col: _Column, rows: np.ndarray) -> np.ndarray:
    """The ints >= 0 at ``rows`` (int64); a null, a negative or a non-int is refused."""
    if col.type != _INT:
        raise _Fallback
    out = np.asarray(col.to_numpy(zero_copy_only=False))[rows]  # float64, NaN for nulls
    if out.dtype != np.int64:
        if not bool((out >= 0).all()) or bool((out >= _EXACT_FLOAT_INT).any()):
            raise _Fallback
        return out.astype(np.int64)
    if bool((out < 0).any()):
        raise _Fallback
    return out


def _growth_columns(
    columns: dict[str, _Column], rows: np.ndarray, cols: dict[str, np.ndarray]
) -> None:
    region = _strings(columns["region"], rows, required=True)
    if not all(region):  # the empty string
        raise _Fallback
    cols["region"] = region
    cols["neurons_added"] = _ints(columns["neurons_added"], rows)
    cols["new_total"] = _ints(columns["new_total"], rows)
    cols["reason"] = _strings(columns.get("reason"), rows, required=False)


def _consolidation_columns(
    columns: dict[str, _Column],
    rows: np.ndarray,
    cols: dict[str, np.ndarray],
) -> None:
    stage = _strings(columns["sleep_stage"], rows, required=True)
    if not set(stage) <= {"NREM", "REM"}:
        raise _Fallback
    cols["sleep_stage"] = stage
    cols["patterns_replayed"] = _ints(columns["patterns_replayed"], rows)
    cols["duration_steps"] = _ints(columns["duration_steps"], rows)
