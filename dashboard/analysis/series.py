"""Series helpers over the metrics frame: the core metric names, ranks, one rank's rows, extra
columns, and the one definition of the run's latest step."""

from __future__ import annotations

import math
import weakref
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from dashboard.analysis.pyramid import prefix_root
from dashboard.analysis.rank_rows import kept_rank_frame
from dashboard.reading import forget
from dashboard.reading.forget import known_equal, parts
from thalia_logging.contract import CORE_METRICS

__all__ = [
    "CARD_METRICS",
    "extra_metric_columns",
    "float_column",
    "latest_step",
    "rank_frame",
    "ranks",
    "whole_number",
]


_LABELS = {
    "firing_rate": "Firing rate",
    "capacity": "Capacity",
    "performance": "Performance",
    "loss": "Loss",
}
CARD_METRICS: tuple[tuple[str, str], ...] = tuple((name, _LABELS[name]) for name in CORE_METRICS)


_NOT_EXTRA = {"step", "wall_time", "rank", *(name for name, _ in CARD_METRICS)}


_BLOCK = 1 << 16  # rank ranges are kept per block of rows; shorter columns are scanned whole


class _Scan:
    """The (min, max) of each whole block of ``_BLOCK`` rows of one buffer, from its start."""

    __slots__ = ("blocks", "ref")

    def __init__(self, root: np.ndarray, blocks: list[tuple[int, int]]) -> None:
        self.ref, self.blocks = weakref.ref(root), blocks


#: id of a column's buffer -> its scan (dropped with the buffer)
_SCANNED: dict[int, _Scan] = {}


def _rank_range(values: np.ndarray) -> tuple[int, int]:
    """(min, max) of a rank column. A column that views the first rows of a buffer (the
    reader's frames: rows are only ever appended after them) keeps the range of each whole block
    it scanned, so a live page reads the new rows, not the history; a new buffer of the same
    spill file (a late line or a resume rewrote the rows from some step on) takes the blocks
    before where it was rewritten."""
    root = prefix_root(values) if len(values) >= _BLOCK else None
    if root is None:
        return _scan_range(values, 0, len(values))
    scan = _SCANNED.get(id(root))
    if scan is None or scan.ref() is not root:
        scan = _SCANNED[id(root)] = _Scan(root, _carried(values))
        weakref.finalize(root, _SCANNED.pop, id(root), None)
    blocks, whole = scan.blocks, len(values) // _BLOCK * _BLOCK
    del blocks[whole // _BLOCK :]  # a shorter view of the buffer: its own blocks only
    start = len(blocks) * _BLOCK
    for end in parts(start, whole, values, size=max(_BLOCK, forget.PART_ROWS // _BLOCK * _BLOCK)):
        part = values[start:end].reshape(-1, _BLOCK)
        blocks += zip(part.min(axis=1).tolist(), part.max(axis=1).tolist(), strict=True)
        start = end
    lo, hi = min(b[0] for b in blocks), max(b[1] for b in blocks)
    if whole < len(values):
        tail_lo, tail_hi = _scan_range(values, whole, len(values))
        lo, hi = min(lo, tail_lo), max(hi, tail_hi)
    return lo, hi


def _carried(values: np.ndarray) -> list[tuple[int, int]]:
    """The blocks of a scan of another buffer of the same spill file (the one sharing the most
    rows known equal without reading them), up to where the two differ."""
    best: list[tuple[int, int]] = []
    for scan in list(_SCANNED.values()):
        old = scan.ref()
        if old is None or len(scan.blocks) <= len(best):
            continue
        same = known_equal(old[: len(scan.blocks) * _BLOCK], values) // _BLOCK
        if same > len(best):
            best = scan.blocks[:same]
    return best


def _scan_range(values: np.ndarray, start: int, stop: int) -> tuple[int, int]:
    """(min, max) of rows ``start..stop`` (at least one), read in parts."""
    lo = hi = int(values[start])
    for end in parts(start, stop, values):  # a long read: pages given back
        new, start = values[start:end], end
        lo, hi = min(lo, int(new.min())), max(hi, int(new.max()))
    return lo, hi


def float_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``frame[column]`` as float64 values, missing ones as NaN (a float64 column as it is, not
    copied: kept memos compare it with the one they saw by address; do not modify it)."""
    series = frame[column]
    if series.dtype == np.float64:
        return series.to_numpy()
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def ranks(metrics: pd.DataFrame) -> list[int]:
    """The ranks present in the metrics (``[0]`` when there is no rank column or no rows)."""
    if "rank" not in metrics.columns or metrics.empty:
        return [0]
    values = metrics["rank"].to_numpy()
    if values.dtype.kind in "iu":
        lo, hi = _rank_range(values)
        if lo == hi:  # the common case: no hash table of every row
            return [lo]
    elif values.min() == values.max():
        return [int(values[0])]
    return sorted(int(r) for r in np.unique(values))


def rank_frame(metrics: pd.DataFrame, rank: int = 0) -> pd.DataFrame:
    """The rows of one rank (the whole frame, not a copy, when every row is of that rank or it
    has no ``rank`` column). Of a long reader frame with several ranks, kept across snapshots
    (:mod:`dashboard.analysis.rank_rows`): a refresh picks the new rows only."""
    if "rank" not in metrics.columns or metrics.empty:
        return metrics
    values = metrics["rank"].to_numpy()
    if values.dtype.kind in "iu":
        lo, hi = _rank_range(values)
        if lo == hi == rank:
            return metrics
        if lo != hi and len(values) >= _BLOCK and values.dtype == np.int64:
            return kept_rank_frame(metrics, rank)
    mask = values == rank
    return metrics if mask.all() else metrics[mask]


def extra_metric_columns(metrics: pd.DataFrame, *, logged: Collection[str] = ()) -> list[str]:
    """Further numeric columns (``lr``, ``grad_norm``, ...) with at least one logged value: a
    number, or (named in ``logged``) a value the trainer logged as NaN/Inf. A column is searched
    from its end, in growing windows, so one logged lately costs a few rows, not the history."""
    out = []
    for c, dtype in metrics.dtypes.items():
        name = str(c)
        if name in _NOT_EXTRA or name.startswith(("neuron_counts.", "capacity_by_region.")):
            continue
        if pd.api.types.is_numeric_dtype(dtype) and (name in logged or _has_value(metrics[c])):
            out.append(name)
    return out


def _has_value(column: pd.Series) -> bool:
    """Whether ``column`` holds a non-missing value, looking back from its end."""
    n, window = len(column), 64
    while True:
        if column.iloc[max(0, n - window) :].notna().any():
            return True
        if window >= n:
            return False
        window *= 16


def whole_number(value: Any) -> int | None:
    """``value`` as an int if it is a whole number within int64 (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    if isinstance(value, float | np.floating) and not (
        math.isfinite(value) and float(value).is_integer()
    ):
        return None
    return int(value) if abs(int(value)) < 2**63 else None


def latest_step(metrics: pd.DataFrame, metadata: dict[str, Any] | None) -> int | None:
    """The run's latest step: the last metric row's or the checkpoint metadata's ``step``,
    whichever is higher (a value that is not a whole number is ignored); None when neither."""
    last = metrics["step"].iloc[-1] if "step" in metrics.columns and not metrics.empty else None
    steps = [
        s for s in (whole_number(last), whole_number((metadata or {}).get("step"))) if s is not None
    ]
    return max(steps) if steps else None
