"""Parse a block of clean JSON lines at once with pyarrow's JSON reader (the cold-load fast path).

:func:`parse_block` handles the common case only: every line a valid metric, growth or
consolidation record (``event_type`` present on all lines or on none), no ``rank`` field, steps
not going back, no non-finite value. For anything else it returns None and the caller parses
the block line by line with :mod:`dashboard.parse`, which is the reference: for blocks this
function accepts, both give the same rows (a test holds them to it).

Non-finite values always take the per-line path: a ``"NaN"`` string makes a column a string
column (refused here), and the bare ``NaN``/``Infinity``/``Inf`` tokens that pyarrow's reader
accepts as floats are refused by :func:`_float`. So clean blocks cost nothing extra, and the
per-line parser alone records which values were logged non-finite (``RunState.nonfinite``) and
rejects what it does not accept (``Inf``) the same way for every block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as paj

__all__ = ["MIN_BLOCK_BYTES", "ParsedBlock", "parse_block"]

#: below this many bytes the per-line parser is faster than starting pyarrow's reader
MIN_BLOCK_BYTES = 256 << 10
_READ_OPTIONS = paj.ReadOptions(use_threads=True, block_size=1 << 20)
_INT = pa.int64()
_NUMERIC = (pa.int64(), pa.float64())
_NESTED = ("neuron_counts", "capacity_by_region")
_COMMON = frozenset(("event_type", "step", "wall_time", "rank"))


class _Fallback(Exception):
    pass


@dataclass(frozen=True)
class ParsedBlock:
    """``frames[name]`` = (row positions within the block, columns); ``lines`` = rows in block."""

    lines: int
    frames: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]
    last_step: int
    max_wall_time: float


def _check_int(arr: pa.ChunkedArray | pa.Array, *, nulls: bool = False) -> None:
    if arr.type != _INT or (not nulls and arr.null_count):
        raise _Fallback
    if len(arr) - arr.null_count and pc.min(arr).as_py() < 0:
        raise _Fallback


def _float(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if arr.type == pa.float64() and pc.any(pc.invert(pc.is_finite(arr))).as_py():
        raise _Fallback  # a bare NaN/Infinity token: the per-line parser records it
    return np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def parse_block(data: bytes, *, last_step: int | None) -> ParsedBlock | None:
    """Parse complete lines ``data`` (ending with a newline); None: use the per-line parser."""
    # No line count check: blank lines carry no record in either parser, and a line pyarrow
    # cannot read makes it raise (then the per-line parser reports it).
    try:
        table = paj.read_json(pa.py_buffer(data), read_options=_READ_OPTIONS)
        if not table.num_rows:
            return None
        return _split(table, table.num_rows, last_step)
    except (_Fallback, pa.ArrowException, KeyError, ValueError, TypeError):
        return None


def _split(table: pa.Table, n: int, last_step: int | None) -> ParsedBlock:
    if "step" not in table.column_names:
        raise _Fallback
    if "rank" in table.column_names and table.column("rank").null_count != n:
        raise _Fallback
    step_col = table.column("step")
    _check_int(step_col)
    steps = step_col.to_numpy()
    if (last_step is not None and steps[0] < last_step) or np.any(steps[1:] < steps[:-1]):
        raise _Fallback
    wall = np.full(n, np.nan)
    if "wall_time" in table.column_names:
        wcol = table.column("wall_time")
        if wcol.null_count != n:
            if wcol.type not in _NUMERIC:
                raise _Fallback
            wall = _float(wcol)
    kinds: dict[str, np.ndarray | None] = {"metrics_history": None}
    if "event_type" in table.column_names:
        et = table.column("event_type")
        if et.type != pa.string() or et.null_count:
            raise _Fallback
        values = set(pc.unique(et).to_pylist())
        if not values <= {"metric", "growth", "consolidation"}:
            raise _Fallback
        if values != {"metric"}:
            kinds = {}
            for value, name in (("metric", "metrics_history"), ("growth", "growth_events"),
                                ("consolidation", "consolidation_events")):
                if value in values:
                    kinds[name] = np.flatnonzero(pc.equal(et, value).to_numpy(zero_copy_only=False))
    frames: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    for name, rows in kinds.items():
        sub = table if rows is None else table.take(pa.array(rows))
        positions = np.arange(n, dtype=np.int64) if rows is None else rows.astype(np.int64)
        cols: dict[str, np.ndarray] = {"step": steps[positions], "wall_time": wall[positions]}
        if name == "metrics_history":
            _metric_columns(sub, cols)
        elif name == "growth_events":
            _growth_columns(sub, cols)
        else:
            _consolidation_columns(sub, cols)
        frames[name] = (positions, cols)
    return ParsedBlock(n, frames, int(steps[-1]), float(np.nanmax(wall)) if not np.isnan(wall).all() else np.nan)


def _metric_columns(sub: pa.Table, cols: dict[str, np.ndarray]) -> None:
    rows = sub.num_rows
    for col_name in sub.column_names:
        if col_name in _COMMON:
            continue
        col = sub.column(col_name)
        if col.null_count == rows:
            continue
        if col_name in _NESTED:
            if not pa.types.is_struct(col.type):
                raise _Fallback
            arr = col.combine_chunks()
            for field, child in zip(col.type, arr.flatten(), strict=True):
                if child.null_count == rows:
                    continue
                if col_name == "neuron_counts":
                    _check_int(child, nulls=True)
                elif child.type not in _NUMERIC:
                    raise _Fallback
                cols[f"{col_name}.{field.name}"] = _float(child)
        elif col.type in _NUMERIC:
            cols[col_name] = _float(col)
        else:
            raise _Fallback


def _strings(col: pa.ChunkedArray, *, required: bool) -> np.ndarray:
    if col.type == pa.null() and not required:
        return np.full(len(col), "", dtype=object)
    if col.type != pa.string() or (required and col.null_count):
        raise _Fallback
    out = np.asarray(col.fill_null("").to_numpy(zero_copy_only=False), dtype=object)
    return out


def _growth_columns(sub: pa.Table, cols: dict[str, np.ndarray]) -> None:
    region = sub.column("region")
    cols["region"] = _strings(region, required=True)
    if pc.min(pc.utf8_length(region)).as_py() < 1:
        raise _Fallback
    for name in ("neurons_added", "new_total"):
        _check_int(sub.column(name))
        cols[name] = sub.column(name).to_numpy()
    if "reason" in sub.column_names:
        cols["reason"] = _strings(sub.column("reason"), required=False)
    else:
        cols["reason"] = np.full(sub.num_rows, "", dtype=object)


def _consolidation_columns(sub: pa.Table, cols: dict[str, np.ndarray]) -> None:
    stage = _strings(sub.column("sleep_stage"), required=True)
    if not set(pc.unique(sub.column("sleep_stage")).to_pylist()) <= {"NREM", "REM"}:
        raise _Fallback
    cols["sleep_stage"] = stage
    for name in ("patterns_replayed", "duration_steps"):
        _check_int(sub.column(name))
        cols[name] = sub.column(name).to_numpy()
