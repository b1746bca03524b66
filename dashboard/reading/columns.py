"""Column buffers that grow with each refresh and become DataFrames only when asked.

A :class:`ColumnStore` per frame collects rows (from the per-line parser) and column chunks (from
the block parser). :meth:`ColumnStore.commit` turns pending rows into an immutable chunk of numpy
arrays; nothing is ever concatenated onto the whole history during a refresh. A
:class:`FrameSnapshot` pins the chunks and cuts that exist at one moment and builds the DataFrame
on first call (cached): concatenate, drop abandoned timelines (cuts), sort by step, merge.

The timeline rule (which lines a cut drops is the reader's business, see
:mod:`dashboard.reading.directory`):

* rows land in (step, rank) order whatever order they were read in; ties keep read order;
* event frames keep every row (two regions may grow at one step, a late consolidation is a
  distinct event): a stable sort by step only;
* ``metrics_history`` has one row per (step, rank): lines sharing it merge field by field, in
  read order: the later line's value of a field wins, a field the later line does not carry
  keeps the earlier value. "Does not carry" is a NaN with the default bit pattern (a column the
  line left out, or a JSON ``null``); a NaN the trainer logged is stored as :data:`LOGGED_NAN`
  (a NaN with a payload, still NaN to every reader of the frame) and so wins like any value.

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

import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dashboard.reading.build_once import BuildOnce
from dashboard.run_state import FRAME_COLUMNS, empty_frame

__all__ = ["LOGGED_NAN", "Chunk", "ColumnStore", "Cut", "FrameSnapshot", "GrowCache", "is_missing"]

_PRIVATE = ("_seq", "_src")
_SMALL_CHUNK = 1 << 16
_FANOUT = 8
_LOGGED_NAN_BITS = 0x7FF8_0000_0000_0BAD
#: A NaN the trainer logged (not a field the line left out): a quiet NaN with a payload, so a
#: later logged NaN replaces an earlier value when lines sharing a step merge.
LOGGED_NAN: float = struct.unpack("<d", struct.pack("<Q", _LOGGED_NAN_BITS))[0]


def is_missing(values: np.ndarray) -> np.ndarray:
    """Which float64 values are "not logged" (a NaN other than :data:`LOGGED_NAN`)."""
    return np.isnan(values) & (values.view(np.int64) != _LOGGED_NAN_BITS)


@dataclass(frozen=True)
class Cut:
    """Drop rows of file ``src`` (and ``rank``, or any rank when -1) read before line ``seq``
    whose step is >= ``min_step``: the timeline the run abandoned when it went back."""

    src: int
    rank: int
    seq: int
    min_step: int


class Chunk:
    """Immutable columns of ``n`` rows; columns absent from a chunk read as NaN there."""

    __slots__ = ("cols", "n")

    def __init__(self, n: int, cols: dict[str, np.ndarray]) -> None:
        self.n = n
        self.cols = cols


def _fill(dtype: str, n: int) -> np.ndarray:
    if dtype == "str":
        return np.full(n, "", dtype=object)
    return np.full(n, np.nan)


def _concat(chunks: tuple[Chunk, ...], name: str, dtype: str) -> np.ndarray:
    parts = [c.cols[name] if name in c.cols else _fill(dtype, c.n) for c in chunks]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _tail(chunks: tuple[Chunk, ...], name: str, dtype: str, start: int) -> np.ndarray:
    """Rows ``start:`` of the concatenated column, touching only the chunks that hold them."""
    parts, end = [], sum(c.n for c in chunks)
    for c in reversed(chunks):
        if end <= start:
            break
        col = c.cols[name] if name in c.cols else _fill(dtype, c.n)
        parts.append(col[max(0, start - (end - c.n)):])
        end -= c.n
    parts.reverse()
    return parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else _fill(dtype, 0)


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

    def __init__(self, rows: np.ndarray, first: np.ndarray, ends: np.ndarray, out: np.ndarray) -> None:
        self.rows, self.first, self.ends, self.out = rows, first, ends, out

    def values(self, column: np.ndarray) -> np.ndarray:
        """Per group, the value of the last row that carries one (NaN when none does)."""
        vals = column[self.rows]
        pos = np.arange(len(vals))
        latest = np.maximum.accumulate(np.where(is_missing(vals), -1, pos))[self.ends]
        found = latest >= self.first[self.ends]
        return np.where(found, vals[np.maximum(latest, 0)], np.nan)


def _merge(chunks: list[Chunk], dtypes: Mapping[str, str]) -> Chunk:
    names = list(dict.fromkeys(k for c in chunks for k in c.cols))
    group = tuple(chunks)
    return Chunk(sum(c.n for c in group), {k: _concat(group, k, dtypes.get(k, "float64")) for k in names})


def _merge_start(chunks: list[Chunk]) -> int | None:
    """Where to merge the trailing small chunks from: the leftmost small chunk that the chunks
    after it outweigh ``_FANOUT - 1`` times (size-tiered) or that starts ``_SMALL_CHUNK`` rows
    (the run is closed into one chunk: small chunks never hold that many rows together, and no
    merge copies more than that plus one append). Appends of ``r`` rows then copy each row
    about 1 + log_FANOUT(_SMALL_CHUNK / r) times (pairwise merging: log_2), and the small
    chunks stay few whatever the history (their suffix sums grow geometrically)."""
    start, after = None, 0
    for j in range(len(chunks) - 2, -1, -1):
        n = chunks[j].n
        if n >= _SMALL_CHUNK:
            break
        after += chunks[j + 1].n
        if after >= (_FANOUT - 1) * n or n + after >= _SMALL_CHUNK:
            start = j
    return start


class FrameSnapshot(BuildOnce):
    """A frame as it was when the snapshot was taken; calling it builds (once) the DataFrame."""

    def __init__(
        self, name: str, chunks: tuple[Chunk, ...], cuts: tuple[Cut, ...],
        columns: tuple[str, ...], dtypes: Mapping[str, str], dedup: bool,
        cache: GrowCache | None = None, rows: int | None = None,
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
        self, step: np.ndarray, rank: np.ndarray, seq: np.ndarray, src: np.ndarray | None,
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
                    np.flatnonzero(first[shared])[group], ends,
                    np.searchsorted(keep_at, shared[ends]),
                )
                idx = keep_at if idx is None else idx[keep_at]
        return idx, merge

    def _extend(self, cache: GrowCache) -> pd.DataFrame | None:
        """Append the rows after ``cache.raw`` to the cached columns, or None (full build)."""
        start = cache.raw
        cols = {n: _tail(self.chunks, n, "int64", start) for n in ("step", "rank", "_seq", "_src")}
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
                new = cols[col] if col in cols else _tail(self.chunks, col, dtype, start)
                buf[n:total] = new if idx is None else new[idx]
                if merge is not None and dtype == "float64":
                    buf[n + merge.out] = merge.values(new)
        cache.raw, cache.n = self.rows, total
        if k:
            cache.last = (int(step[-1]), int(rank[-1]))
        return pd.DataFrame({c: cache.cols[c][:total] for c in self.columns}, copy=False)

    def _build_full(self, cache: GrowCache | None) -> pd.DataFrame:
        chunks = self.chunks
        step = _concat(chunks, "step", "int64")
        rank = _concat(chunks, "rank", "int64")
        seq = _concat(chunks, "_seq", "int64")
        src = _concat(chunks, "_src", "int64") if self.cuts else None
        idx, merge = self._order(step, rank, seq, src)
        data: dict[str, Any] = {}
        for col in self.columns:
            dtype = self.dtypes.get(col, "float64")
            arr = whole = _concat(chunks, col, dtype)
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


class ColumnStore:
    """The growing columns of one frame (see ``dashboard.run_state`` for the columns).

    Rows added with :meth:`add_row` / :meth:`add_columns` become visible to snapshots only after
    :meth:`commit`. Every row carries ``step``, ``rank``, ``_seq`` (global read order: larger is
    newer) and ``_src`` (file index). Not thread-safe: the watcher calls it under its lock;
    snapshots are immutable and safe to build from any thread.
    """

    def __init__(self, name: str, *, dedup: bool = False) -> None:
        self.name = name
        self.dedup = dedup
        self._dtypes: dict[str, str] = dict(FRAME_COLUMNS[name])
        self._dtypes.update({k: "int64" for k in _PRIVATE})
        self._extra: list[str] = []  # columns beyond FRAME_COLUMNS, in first-appearance order
        self._chunks: list[Chunk] = []
        self._nrows = 0  # rows in _chunks
        self._rows: list[dict[str, Any]] = []
        self._batch_cols: set[str] = set()
        self._cuts: list[Cut] = []
        self._snapshot: FrameSnapshot | None = None
        self._cache = GrowCache()

    @property
    def rows(self) -> int:
        return self._nrows

    def _register(self, col: str) -> None:
        if col not in self._dtypes:
            self._dtypes[col] = "float64"
            self._extra.append(col)

    def add_row(self, fields: dict[str, Any]) -> None:
        """Queue one parsed row (must hold every base column but optional strings, plus
        ``rank``, ``_seq``, ``_src``)."""
        for key in fields:
            if key not in self._batch_cols:
                self._batch_cols.add(key)
                self._register(key)
        self._rows.append(fields)

    def add_columns(self, n: int, cols: dict[str, np.ndarray]) -> None:
        """Append ``n`` rows given as whole columns (from the block parser)."""
        self.commit()
        if not n:
            return
        for key in cols:
            self._register(key)
        self._append(Chunk(n, cols))

    def add_cut(self, cut: Cut) -> None:
        self._cuts.append(cut)
        self._snapshot = None

    def commit(self) -> bool:
        """Turn queued rows into a chunk; True if anything changed since the last commit."""
        rows = self._rows
        if not rows:
            return self._snapshot is None
        cols: dict[str, np.ndarray] = {}
        for key in self._batch_cols:
            dtype = self._dtypes[key]
            if dtype == "str":
                arr = np.empty(len(rows), dtype=object)
                arr[:] = [r.get(key, "") for r in rows]
            elif dtype == "int64":
                arr = np.array([r[key] for r in rows], dtype=np.int64)
            else:
                arr = np.array([r.get(key, np.nan) for r in rows], dtype=np.float64)
            cols[key] = arr
        self._rows = []
        self._batch_cols = set()
        self._append(Chunk(len(rows), cols))
        return True

    def _append(self, chunk: Chunk) -> None:
        chunks = self._chunks = list(self._chunks)  # snapshots keep the old list
        chunks.append(chunk)
        self._nrows += chunk.n
        start = _merge_start(chunks)
        if start is not None:
            chunks[start:] = [_merge(chunks[start:], self._dtypes)]
        self._snapshot = None

    def columns(self) -> tuple[str, ...]:
        def group(col: str) -> int:
            return 0 if col.startswith("neuron_counts.") else 1 if col.startswith("capacity_by_region.") else 2

        extra = sorted(self._extra, key=group)  # stable: first appearance within each group
        return (*FRAME_COLUMNS[self.name], *extra)

    def snapshot(self) -> FrameSnapshot:
        """The committed rows as an immutable, lazily built frame (same object until a change)."""
        if self._snapshot is None:
            columns = self.columns()
            growable = all(self._dtypes.get(c) != "str" for c in columns)
            self._snapshot = FrameSnapshot(
                self.name, tuple(self._chunks), tuple(self._cuts), columns,
                self._dtypes, self.dedup, self._cache if growable else None, self._nrows,
            )
        return self._snapshot
