"""The rows of one rank of a multi-rank run, kept across snapshots.

A run whose ranks each log metrics (per-rank logging) has one metrics frame with every rank's rows
interleaved in step order. A page draws one rank; picking its rows afresh is a mask and a copy of
every column of the history on every refresh (at 10M rows, about a gigabyte a tick).
:class:`RankRows` keeps them instead: the positions of the rank's rows and each column's values
there, in :class:`~dashboard.reading.growing.GrowingArray` s (spilled like the tables), extended
from the rows appended since the last snapshot. When a snapshot differs from the previous one
before its end (a late line merged into an old row, a resume that cut the rows after its step),
it goes back to the first row that differs, found without reading what two mappings of one spill
file are known to share, and extends from there. Its frame equals
``metrics[metrics["rank"] == rank]``, index included.

:func:`kept_rank_frame` finds the kept rows of a frame: by the buffer its rank column views, or
for a new buffer of the same spill file (the table forked), by the one it was forked from. At most
``MAX_KEPT`` are kept, the least recently used dropped. Thread-safe (one lock for all).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from dashboard.analysis.pyramid import common_prefix, prefix_root, same_prefix
from dashboard.reading.forget import known_equal, parts
from dashboard.reading.growing import GrowingArray

__all__ = ["MAX_KEPT", "RankRows", "kept_rank_frame"]

MAX_KEPT = 64  # a runs table of a sweep reads rank 0 of each run every refresh
_LOCK = threading.Lock()
#: (id of the rank column's buffer, rank) -> its kept rows, most recently used last
_KEPT: OrderedDict[tuple[int, int], RankRows] = OrderedDict()


class RankRows:
    """The rows of ``rank`` in the snapshots of one metrics frame (see the module docstring).
    Not thread-safe by itself (:func:`kept_rank_frame` holds a lock)."""

    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.rebuilds = 0
        self._source: dict[str, np.ndarray] = {}  # the last snapshot's columns (views)
        self._positions = GrowingArray(np.int64)
        self._columns: dict[str, GrowingArray] = {}

    def update(self, metrics: pd.DataFrame) -> pd.DataFrame:
        """The rows of the rank in ``metrics`` (the frame that followed the last one given)."""
        new = {str(c): metrics[c].to_numpy() for c in metrics.columns}
        done = len(next(iter(self._source.values()), ()))
        if not all(_extends(self._source.get(c), v, done) for c, v in new.items()):
            done = min(
                (common_prefix(old, new[c]) for c, old in self._source.items() if c in new),
                default=0,
            )
            self._cut(done)
        self._add_columns(new)
        self._extend(new, done)
        self._source = new
        index = pd.Index(self._positions.array, copy=False)
        data = {c: self._columns[c].array for c in new}
        return pd.DataFrame(data, index=index, columns=metrics.columns, copy=False)

    def _cut(self, rows: int) -> None:
        """Keep what the first ``rows`` rows of the source gave."""
        kept = int(np.searchsorted(self._positions.array, rows, side="left"))
        self.rebuilds += kept == 0 and self._positions.size > 0
        for array in (self._positions, *self._columns.values()):
            array.cut(kept)  # frames handed out keep their rows

    def _add_columns(self, new: dict[str, np.ndarray]) -> None:
        """A column the kept rows lack (a metric first logged now), or whose type changed: its
        values at the kept rows, read once."""
        at = self._positions.array
        for name, values in new.items():
            column = self._columns.get(name)
            if column is None or column.dtype != values.dtype:
                column = self._columns[name] = GrowingArray(values.dtype)
                column.append(values[at])
        for name in [c for c in self._columns if c not in new]:
            del self._columns[name]

    def _extend(self, new: dict[str, np.ndarray], start: int) -> None:
        ranks = new["rank"]
        for end in parts(start, ranks.size, *new.values()):  # a long read: pages given back
            picked = np.flatnonzero(ranks[start:end] == self.rank)
            self._positions.append(picked + start)
            for name, values in new.items():
                self._columns[name].append(values[start:end][picked])
            start = end


def _extends(old: np.ndarray | None, new: np.ndarray, rows: int) -> bool:
    """Whether ``new`` starts with the first ``rows`` rows of ``old`` (None: a column not seen
    before, which :meth:`RankRows._add_columns` reads at the kept rows)."""
    return old is None or same_prefix(old[:rows], new)


def kept_rank_frame(metrics: pd.DataFrame, rank: int) -> pd.DataFrame:
    """``metrics[metrics["rank"] == rank]`` from kept rows (see the module docstring); a frame
    whose rank column does not view the first rows of a buffer is masked afresh."""
    ranks = metrics["rank"].to_numpy()
    root = prefix_root(ranks)
    index = metrics.index
    if root is None or not (
        isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    ):
        return metrics[ranks == rank]
    with _LOCK:
        key = (id(root), rank)
        kept = _KEPT.pop(key, None) or _carried(ranks, rank) or RankRows(rank)
        _KEPT[key] = kept
        while len(_KEPT) > MAX_KEPT:
            _KEPT.popitem(last=False)
        return kept.update(metrics)


def _carried(ranks: np.ndarray, rank: int) -> RankRows | None:
    """The kept rows of another buffer of the same spill file (the table forked: a late line or
    a resume), taken from the entry whose rank column shares the most rows known equal."""
    best, found = 0, None
    for key, kept in list(_KEPT.items()):
        old = kept._source.get("rank")
        if kept.rank != rank or old is None:
            continue
        same = known_equal(old, ranks)
        if same > best:
            best, found = same, key
    return None if found is None else _KEPT.pop(found)
