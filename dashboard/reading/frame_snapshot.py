"""Frame snapshots: the committed chunks and cuts of one frame, built into a DataFrame once.

A :class:`FrameSnapshot` pins the chunks and cuts that exist at one moment and builds the
DataFrame on first call (cached): concatenate, drop abandoned timelines (cuts), sort by step,
merge.

The timeline rule (which lines a cut drops is the reader's business, see
:mod:`dashboard.reading.directory`):

* rows land in (step, rank) order whatever order they were read in; ties keep read order;
* event frames keep every row (two regions may grow at one step, a late consolidation is a
  distinct event): a stable sort by step only;
* ``metrics_history`` has one row per (step, rank): lines sharing it merge field by field, in
  read order: the later line's value of a field wins, a field the later line does not carry
  keeps the earlier value. "Does not carry" is a NaN with the default bit pattern (a column the
  line left out, or a JSON ``null``); a NaN the trainer logged is stored as
  :data:`~dashboard.reading.chunks.LOGGED_NAN` (a NaN with a payload, still NaN to every reader
  of the frame) and so wins like any value.

Live runs: a frame without string columns (``metrics_history``) is built incrementally. The
store keeps a :class:`GrowCache` with the columns of the newest frame built so far, allocated
with spare room; a later snapshot that only adds rows (no new cut) and whose new rows all sort
after the cached last (step, rank) writes just those rows into the spare room and returns views
of the longer prefix. Frames handed out earlier view a shorter prefix, which is never written
again, so every snapshot keeps showing exactly its own rows. Anything else (a cut, a late line
at or before the cached last step, an older snapshot built late) takes the full build, which
then refills the cache.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dashboard.reading.build_once import BuildOnce
from dashboard.reading.chunks import Chunk, Cut, concat_column, is_missing, tail_column
from dashboard.run_state import empty_frame

__all__ = ["FrameSnapshot", "GrowCache"]


class GrowCache:
    """The newest built frame of one store as growable columns (see the module docstring).

    ``raw`` = committed rows it covers, ``ncuts`` = cuts applied, ``n`` = frame rows,
    ``last`` = its last (step, rank) or None, ``cols`` = arrays of length >= ``n``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.raw = -1
        self.ncuts = 0
        self.n = 0
        self.last: tuple[int, int] | None = None
        self.cols: dict[str, np.ndarray] = {}


class _Merge:
    """Rows of a sorted selection that share (step, rank) with another row, and how to merge
    them: ``rows`` = their positions in the unsorted arrays (in sorted order), ``first`` = per
    row the index in ``rows`` of its group's first row, ``ends`` = the index in ``rows`` of each
    group's last row, ``out`` = each group's row in the output."""

    __slots__ = ("ends", "first", "out", "rows")

    def __init__(
        self, rows: np.ndarray, first: np.ndarray, ends: np.ndarray, out: np.ndarray
    ) -> None:
        self.rows, self.first, self.ends, self.out = rows, first, ends, out

    def values(self, column: np.ndarray) -> np.ndarray:
        """Per group, the value of the last row that carries one (NaN when none does)."""
        vals = column[self.rows]
        pos = np.arange(len(vals))
        latest = np.maximum.accumulate(np.where(is_missing(vals), -1, pos))[self.ends]
        found = latest >= self.first[self.ends]
        return np.where(found, vals[np.maximum(latest, 0)], np.nan)


class FrameSnapshot(BuildOnce):
    """A frame as it was when the snapshot was taken; calling it builds (once) the DataFrame."""

    def __init__(
        self,
        name: str,
        chunks: tuple[Chunk, ...],
        cuts: tuple[Cut, ...],
        columns: tuple[str, ...],
        dtypes: Mapping[str, str],
        dedup: bool,
        cache: GrowCache | None = None,
        rows: int | None = None,
    ) -> None:
        self.name = name
        self.cache = cache
        self.chunks = chunks
        self.cuts = cuts
        self.columns = columns
        self.dtypes = dict(dtypes)
        self.dedup = dedup
        self.rows = sum(c.n for c in chunks) if rows is None else rows
        super().__init__()

    def _build(self) -> pd.DataFrame:
        if not self.rows:
            return empty_frame(self.name)
        cache = self.cache
        if cache is None:
            return self._build_full(None)
        with cache.lock:
            if cache.raw >= 0 and cache.ncuts == len(self.cuts) and cache.raw <= self.rows:
                frame = self._extend(cache)
                if frame is not None:
                    return frame
            return self._build_full(cache if self.rows >= cache.raw else None)

    def _order(
        self,
        step: np.ndarray,
        rank: np.ndarray,
        seq: np.ndarray,
        src: np.ndarray | None,
    ) -> tuple[np.ndarray | None, _Merge | None]:
        """Row positions that survive cuts, sorted by (step, rank, read order) (None = all, in
        place), and for a merged frame the groups of rows sharing (step, rank), of which only
        the last position is kept (its values come from :meth:`_Merge.values`)."""
        idx: np.ndarray | None = None
        if self.cuts and src is not None:
            keep = np.ones(len(step), dtype=bool)
            for cut in self.cuts:
                hit = (src == cut.src) & (seq < cut.seq) & (step >= cut.min_step)
                if cut.rank >= 0:
                    hit &= rank == cut.rank
                keep &= ~hit
            if not keep.all():
                idx = np.flatnonzero(keep)
        s, r, q = (step, rank, seq) if idx is None else (step[idx], rank[idx], seq[idx])
        if len(s) > 1 and not (
            np.all(s[1:] >= s[:-1]) and (not self.dedup or np.all(s[1:] > s[:-1]))
        ):
            order = np.lexsort((q, r, s))
            s, r = s[order], r[order]
            idx = order if idx is None else idx[order]
        merge = None
        if self.dedup and len(s) > 1:
            last = np.ones(len(s), dtype=bool)
            last[:-1] = (s[1:] != s[:-1]) | (r[1:] != r[:-1])
            if not last.all():
                first = np.ones(len(s), dtype=bool)
                first[1:] = last[:-1]
                shared = np.flatnonzero(~(first & last))  # sorted positions in groups of 2+
                group = np.cumsum(first[shared]) - 1
                ends = np.flatnonzero(last[shared])
                keep_at = np.flatnonzero(last)
                merge = _Merge(
                    shared if idx is None else idx[shared],
                    np.flatnonzero(first[shared])[group],
                    ends,
                    np.searchsorted(keep_at, shared[ends]),
                )
                idx = keep_at if idx is None else idx[keep_at]
        return idx, merge

    def _extend(self, cache: GrowCache) -> pd.DataFrame | None:
        """Append the rows after ``cache.raw`` to the cached columns, or None (full build)."""
        start = cache.raw
        cols = {
            n: tail_column(self.chunks, n, "int64", start) for n in ("step", "rank", "_seq", "_src")
        }
        idx, merge = self._order(cols["step"], cols["rank"], cols["_seq"], cols["_src"])
        step, rank = cols["step"], cols["rank"]
        if idx is not None:
            step, rank = step[idx], rank[idx]
        k = len(step)
        if k and cache.last is not None and (int(step[0]), int(rank[0])) <= cache.last:
            return None  # the new rows go back into the history: sort everything again
        n, total = cache.n, cache.n + k
        for col in self.columns:
            dtype = self.dtypes.get(col, "float64")
            buf = cache.cols.get(col)
            if buf is None or len(buf) < total:
                cap = total + max(total // 4, 1024)
                grown = np.empty(cap, dtype=np.int64) if dtype == "int64" else np.full(cap, np.nan)
                if buf is not None:
                    grown[:n] = buf[:n]
                buf = cache.cols[col] = grown
            if k:
                new = cols[col] if col in cols else tail_column(self.chunks, col, dtype, start)
                buf[n:total] = new if idx is None else new[idx]
                if merge is not None and dtype == "float64":
                    buf[n + merge.out] = merge.values(new)
        cache.raw, cache.n = self.rows, total
        if k:
            cache.last = (int(step[-1]), int(rank[-1]))
        return pd.DataFrame({c: cache.cols[c][:total] for c in self.columns}, copy=False)

    def _build_full(self, cache: GrowCache | None) -> pd.DataFrame:
        chunks = self.chunks
        step = concat_column(chunks, "step", "int64")
        rank = concat_column(chunks, "rank", "int64")
        seq = concat_column(chunks, "_seq", "int64")
        src = concat_column(chunks, "_src", "int64") if self.cuts else None
        idx, merge = self._order(step, rank, seq, src)
        data: dict[str, Any] = {}
        for col in self.columns:
            dtype = self.dtypes.get(col, "float64")
            arr = whole = concat_column(chunks, col, dtype)
            if idx is not None:
                arr = arr[idx]
            if merge is not None and dtype == "float64":
                arr[merge.out] = merge.values(whole)
            data[col] = pd.Series(arr, dtype=dtype, copy=False) if dtype == "str" else arr
        if cache is not None:
            s, r = (step, rank) if idx is None else (step[idx], rank[idx])
            cache.raw, cache.ncuts, cache.n = self.rows, len(self.cuts), len(s)
            cache.last = (int(s[-1]), int(r[-1])) if len(s) else None
            cache.cols = dict(data)  # exactly full: the first append grows (copies) them
        return pd.DataFrame(data, copy=False)
