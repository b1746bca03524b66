"""Sorted tables: the committed rows of one frame, held once, already in the frame's order.

A :class:`SortedTable` is the storage of one frame: its rows sorted by (step, rank, read order)
and, for a merged frame, rows sharing a (step, rank) already merged (the rules are
:mod:`dashboard.reading.frame_snapshot`'s), so a frame is a view of the first ``n`` rows and no
second copy of a column exists. Numeric columns live in numpy buffers with spare room: new rows
are written in place after the last, and a frame handed out earlier views a prefix that is never
written again (a buffer that must grow is copied into a new one, or, spilled to disk by
:mod:`dashboard.reading.spill`, mapped again bigger; old frames keep the old one).
String columns are lists of immutable Arrow ``large_string`` arrays (an append adds one, small
ones are merged pairwise), which a frame wraps without copying. Every row keeps ``_seq`` (read
order) and ``_src`` (file index), so a later :class:`~dashboard.reading.chunks.Cut` can drop it.

Three ways in:

* :meth:`SortedTable.append`: rows that all sort after the last row (a live run, a cold load of
  an ordered log) are sorted and merged among themselves and written after it;
* :meth:`SortedTable.insert`: a late line at or before the last row, or a cut (a resume going
  back), reaching back less than half the table: the rows from the first step it reaches on are
  sorted again and written in place, the spill file forked so views keep their rows;
* :meth:`SortedTable.rebuild`: anything else sorts all rows again into new buffers. A merged row cannot be split again, so the raw rows of
  each merged group are kept aside (the *shadow* rows; only lines that share a step have them)
  and a rebuild starts from raw rows only: the unmerged rows of the table, the shadow rows and
  the new ones. Its result is exactly what one build of all raw rows gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from dashboard.reading.chunks import Chunk, Cut, concat_column
from dashboard.reading.raw_rows import RawRows
from dashboard.reading.row_order import Merge, order_rows
from dashboard.reading.spill import Buffers

__all__ = ["STR_DTYPE", "SortedTable", "TableView"]

#: pandas' string dtype of every string column (what ``Series(..., dtype="str")`` gives)
STR_DTYPE = pd.array([], dtype="str").dtype
_KEYS = ("step", "rank", "_seq", "_src")
_MIN_CAPACITY = 1024


def _strings(values: np.ndarray) -> pa.Array:
    """``values`` as Arrow strings, converted as ``Series(values, dtype="str")`` does."""
    try:  # the common case, all str: Arrow converts them directly
        return pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # anything else: pandas' own conversion
        return pa.array(pd.array(values, dtype=STR_DTYPE))


class TableView:
    """The first ``n`` rows of a table at one moment (immutable: later appends write after
    them, and a rebuild writes new buffers)."""

    __slots__ = ("arrays", "n", "strings")

    def __init__(
        self, n: int, arrays: dict[str, np.ndarray], strings: dict[str, tuple[pa.Array, ...]]
    ) -> None:
        self.n, self.arrays, self.strings = n, arrays, strings

    def frame(self, columns: Sequence[str], dtypes: Mapping[str, str]) -> pd.DataFrame:
        """The DataFrame of ``columns``: views of the buffers, no copy."""
        n = self.n
        data: dict[str, Any] = {}
        for col in columns:
            if dtypes.get(col) == "str":
                chunks = pa.chunked_array(self.strings.get(col, ()), type=pa.large_string())
                if len(chunks) != n:  # a column no row of the table has: ""
                    chunks = pa.chunked_array([pa.array([""] * n, type=pa.large_string())])
                data[col] = pd.arrays.ArrowStringArray(chunks, dtype=STR_DTYPE)  # type: ignore[call-arg]
            else:
                buf = self.arrays.get(col)
                data[col] = buf[:n] if buf is not None else np.full(n, np.nan)
        return pd.DataFrame(data, index=pd.RangeIndex(n), copy=False)


class SortedTable:
    """The rows of one frame, sorted (and merged when ``dedup``); see the module docstring.

    ``dtypes`` is the store's own mapping (columns registered later appear in it); ``n`` rows,
    ``last`` = the last row's (step, rank) or None. Not thread-safe (the store's caller holds a
    lock); :meth:`view` pins what exists now for any thread to read.
    """

    def __init__(self, dtypes: Mapping[str, str], dedup: bool) -> None:
        self.dtypes = dtypes
        self.dedup = dedup
        self.n = 0
        self.last: tuple[int, int] | None = None
        self._bufs = Buffers()  # the numeric columns (big ones spilled to disk)
        self._strs: dict[str, list[pa.Array]] = {}
        self._shadow = RawRows()  # raw rows of the merged rows
        self._derived: list[np.ndarray] = []  # positions of the merged rows

    @property
    def notes(self) -> list[str]:
        """Why the table could not spill to disk (it then holds its history in memory)."""
        return list(dict.fromkeys(self._bufs.notes + self._shadow.notes))

    def view(self) -> TableView:
        nums = dict(self._bufs.arrays)
        return TableView(self.n, nums, {k: tuple(v) for k, v in self._strs.items()})

    def release(self) -> None:
        """Give back the memory of the rows before the recent window (spilled buffers only;
        they are read back from the spill file when someone reads them)."""
        self._bufs.release(self.n)
        self._shadow.release()

    def append(self, chunks: Sequence[Chunk]) -> bool:
        """Write the rows of ``chunks`` after the last row if they all sort after it (a merged
        frame: strictly after its (step, rank)); False (nothing written) otherwise."""
        keys = {k: concat_column(tuple(chunks), k, "int64") for k in _KEYS}
        idx, merge = order_rows(keys, (), self.dedup)
        if not len(keys["step"]):
            return True
        first = idx[0] if idx is not None else 0
        head = (int(keys["step"][first]), int(keys["rank"][first]))
        if self.last is not None and (head < self.last or (self.dedup and head == self.last)):
            return False
        self._write(tuple(chunks), keys, idx, merge, self.n)
        return True

    def rebuild(self, chunks: Sequence[Chunk], cuts: Sequence[Cut]) -> None:
        """Sort (and merge) every raw row again, with ``chunks`` added and ``cuts`` applied,
        into new buffers (views handed out keep the old ones)."""
        raw = (*self._raw(), *chunks)
        keys = {k: concat_column(raw, k, "int64") for k in _KEYS}
        idx, merge = order_rows(keys, cuts, self.dedup)
        self._shadow, self._derived, self._strs = RawRows(), [], {}
        self._write(raw, keys, idx, merge, 0)

    def insert(self, chunks: Sequence[Chunk], cuts: Sequence[Cut] = ()) -> bool:
        """Write the rows of ``chunks`` where they sort, some going before the last row (a late
        line), and apply ``cuts`` (a resume going back): only the rows from the first step they
        reach on are sorted (and merged) again, cut, and written after the rows before it, in
        place (:meth:`Buffers.fork` keeps every view handed out as it was). A cut drops rows at
        or past its step only, so the rows before it stay. False, nothing changed, when most
        rows would move or a buffer cannot fork: then :meth:`rebuild`."""
        steps, n = concat_column(tuple(chunks), "step", "int64"), self.n
        lows = [int(steps.min())] if len(steps) else []
        lows += [cut.min_step for cut in cuts]
        if not n or not lows:
            return False
        p = int(np.searchsorted(self._bufs.arrays["step"][:n], min(lows), side="left"))
        if p == n and not len(steps):
            return True  # a cut past every row: nothing to drop, nothing to add
        if p == 0 or n - p > n // 2:
            return False
        raw = (*self._raw(p), *chunks)
        try:
            self._bufs.fork(p, n)
        except OSError:
            return False
        keys = {k: concat_column(raw, k, "int64") for k in _KEYS}
        idx, merge = order_rows(keys, cuts, self.dedup)
        self._strs = {col: _head(parts, p) for col, parts in self._strs.items()}
        self._derived = [d[d < p] for d in self._derived]
        self._shadow.truncate(self._shadow.count_below("_out", p))
        self.n, step, rank = p, self._bufs.arrays["step"], self._bufs.arrays["rank"]
        self.last = (int(step[p - 1]), int(rank[p - 1]))
        self._write(raw, keys, idx, merge, p)
        return True

    def _raw(self, p: int = 0) -> list[Chunk]:
        """The raw rows of the table's rows from ``p`` on: the unmerged ones, then the shadow
        rows of the merged ones. Views where nothing is dropped: a rebuild writes new buffers
        and an insert forks them (the views keep their rows), and the shadow rows are read
        before new ones are added over them."""
        n = self.n
        if n <= p:
            return []
        derived = np.concatenate(self._derived) if self._derived else np.empty(0, np.intp)
        merged = derived[derived >= p] - p
        keep: slice | np.ndarray = slice(None)
        if merged.size:
            keep = np.ones(n - p, dtype=bool)
            keep[merged] = False
        cols: dict[str, np.ndarray] = {k: v[p:n][keep] for k, v in self._bufs.arrays.items()}
        for name, parts in self._strs.items():
            strings = pa.chunked_array(parts, type=pa.large_string()).slice(p)
            cols[name] = np.asarray(strings.to_numpy(zero_copy_only=False), dtype=object)[keep]
        out = [Chunk(len(cols["step"]), cols)]
        first = self._shadow.count_below("_out", p)
        if self._shadow.n > first:
            out.append(self._shadow.chunk(first))
        return out

    def _write(
        self,
        chunks: tuple[Chunk, ...],
        keys: dict[str, np.ndarray],
        idx: np.ndarray | None,
        merge: Merge | None,
        start: int,
    ) -> None:
        """Write the ordered rows of ``chunks`` from row ``start`` on (0: into new buffers)."""
        k = len(keys["step"]) if idx is None else len(idx)
        total = start + k
        self._reserve(total, fresh=start == 0)
        self._bufs.ensure(total, start)
        shadow: dict[str, np.ndarray] = {}
        for col, dtype in list(self.dtypes.items()):
            values = keys[col] if col in keys else concat_column(chunks, col, dtype)
            if merge is not None:
                shadow[col] = values[merge.rows]
            if dtype == "str":
                self._add_strings(col, values if idx is None else values[idx], start)
                continue
            buf = self._buffer(col, dtype, start, total)
            if idx is None:
                buf[start:total] = values
            elif values.dtype == buf.dtype:
                np.take(values, idx, out=buf[start:total])
            else:
                buf[start:total] = values[idx]
            if merge is not None and dtype == "float64":
                buf[start + merge.out] = merge.values(values)
        if merge is not None:  # each raw row with its group's row, so an insert finds them
            shadow["_out"] = (
                start + merge.out[np.searchsorted(merge.ends, np.arange(len(merge.rows)))]
            )
            self._shadow.add(shadow, len(merge.rows))
            self._derived.append(start + merge.out)
        self.n = total
        if k:
            step, rank = self._bufs.arrays["step"], self._bufs.arrays["rank"]
            self.last = (int(step[total - 1]), int(rank[total - 1]))
        elif not start:
            self.last = None
        self.release()

    def make_room(self, rows: int) -> None:
        """Spare room for at least ``rows`` more rows (after a load, so that the live appends
        that follow write in place for a long while)."""
        if self._bufs.cap - self.n < rows:
            self._bufs.grow(self.n + max(rows, self.n), self.n)

    def _reserve(self, total: int, *, fresh: bool) -> None:
        """Room for ``total`` rows (new buffers if ``fresh``), twice that when it must grow;
        untouched room is address space, not memory."""
        if fresh or total > self._bufs.cap:
            cap = max(2 * total, _MIN_CAPACITY)
            self._bufs.grow(cap, 0 if fresh else self.n, fresh=fresh)

    def _buffer(self, col: str, dtype: str, start: int, total: int) -> np.ndarray:
        buf = self._bufs.arrays.get(col)
        if buf is None:  # a column first seen now: NaN in the rows before
            buf = self._bufs.add(col, np.dtype(dtype), total)
            if start:
                buf[:start] = np.nan
        return buf

    def _add_strings(self, col: str, values: np.ndarray, start: int) -> None:
        parts = self._strs.setdefault(col, [])
        if start and not parts:  # a column first seen now: "" in the rows before
            parts.append(pa.array([""] * start, type=pa.large_string()))
        if len(values):
            parts.append(_strings(values))
        while len(parts) > 1 and len(parts[-2]) < 2 * len(parts[-1]):  # few chunks, each
            parts[-2:] = [pa.concat_arrays(parts[-2:])]  # row copied O(log n) times


def _head(parts: list[pa.Array], n: int) -> list[pa.Array]:
    """The string chunks of the first ``n`` rows."""
    out, total = [], 0
    for part in parts:
        if total >= n:
            break
        out.append(part if total + len(part) <= n else part.slice(0, n - total))
        total += len(part)
    return out
