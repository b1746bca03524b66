"""Column stores: the growing columns of one frame, handed out as immutable snapshots.

A :class:`ColumnStore` per frame collects rows (from the per-line parser) and column chunks (from
the Arrow fast path) as immutable :class:`~dashboard.reading.chunks.Chunk` objects, and moves them
into its :class:`~dashboard.reading.sorted_table.SortedTable` (the one copy of the frame's
columns, in the frame's order): at :meth:`ColumnStore.commit`, and during a long read whenever
``FOLD_ROWS`` rows wait (so a cold load never holds the history twice). Rows that sort after the
table's last row are appended in place; anything else (a late line, a cut) rewrites the table
from the first step it reaches (or rebuilds it when that is most of it), once per commit. The table's old rows are spilled to disk (:mod:`dashboard.reading.spill`): every
commit gives their pages back. Chunks waiting are merged size-tiered (:func:`~dashboard.reading.chunks.merge_start`).
:meth:`ColumnStore.snapshot` pins the table in a
:class:`~dashboard.reading.frame_snapshot.FrameSnapshot` (the timeline and merge rules are
described there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dashboard.reading.chunks import Chunk, Cut, merge_chunks, merge_start
from dashboard.reading.frame_snapshot import FrameSnapshot
from dashboard.reading.sorted_table import SortedTable
from dashboard.run_state import FRAME_COLUMNS

__all__ = ["FOLD_ROWS", "ColumnStore"]

#: During a read, this many waiting rows are moved into the table without waiting for the commit.
FOLD_ROWS = 1 << 16

_PRIVATE = ("_seq", "_src")


class ColumnStore:
    """The growing columns of one frame (see ``dashboard.run_state`` for the columns).

    Rows added with :meth:`add_row` / :meth:`add_columns` are visible to snapshots after
    :meth:`commit` (a long read moves them into the table, and so into snapshots, every
    ``fold_rows`` rows; a snapshot taken before the commit may show some). Every row carries ``step``, ``rank``, ``_seq`` (global read order: larger is
    newer) and ``_src`` (file index). Not thread-safe: the watcher calls it under its lock;
    snapshots are immutable and safe to build from any thread.

    A cut drops only rows that exist when it is added (rows read later have a larger ``_seq``
    than any cut made before them), so each cut is applied once, by the next rebuild.
    """

    def __init__(self, name: str, *, dedup: bool = False, fold_rows: int = FOLD_ROWS) -> None:
        self.name = name
        self.dedup = dedup
        self._fold_rows = fold_rows
        self._dtypes: dict[str, str] = dict(FRAME_COLUMNS[name])
        self._dtypes.update({k: "int64" for k in _PRIVATE})
        self._extra: list[str] = []  # columns beyond FRAME_COLUMNS, in first-appearance order
        self._chunks: list[Chunk] = []  # committed rows not yet in the table
        self._waiting = 0  # rows in _chunks
        self._moved = 0  # rows moved into the table since the last commit
        self._nrows = 0  # rows committed
        self._rows: list[dict[str, Any]] = []
        self._batch_cols: set[str] = set()
        self._cuts: list[Cut] = []  # not yet applied to the table
        self._behind = False  # the waiting rows go back before the table's last row
        self._snapshot: FrameSnapshot | None = None
        self._table = SortedTable(self._dtypes, dedup)

    @property
    def rows(self) -> int:
        return self._nrows

    @property
    def dtypes(self) -> dict[str, str]:
        """Every column seen so far (with ``_seq``, ``_src``) and its dtype (a copy)."""
        return dict(self._dtypes)

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
        if len(self._rows) >= self._fold_rows:  # a long read line by line: bounded too
            self._flush()
            self._fold(final=False)

    def add_columns(self, n: int, cols: dict[str, np.ndarray]) -> None:
        """Append ``n`` rows given as whole columns (from the block parser)."""
        self._flush()
        if not n:
            return
        for key in cols:
            self._register(key)
        self._append(Chunk(n, cols))
        if self._waiting >= self._fold_rows:
            self._fold(final=False)

    def add_cut(self, cut: Cut) -> None:
        """Drop the rows ``cut`` names: the ones read so far, queued ones included (they are
        flushed first, so a fold before the commit cannot apply the cut without them)."""
        self._flush()
        self._cuts.append(cut)
        self._snapshot = None

    def commit(self) -> bool:
        """Move queued rows into the table; True if anything changed since the last commit.
        After a long read (a load), the table is given room for half as many rows again."""
        changed = self._flush() or self._snapshot is None
        self._fold(final=True)
        if self._moved >= self._fold_rows:
            self._table.make_room(self._table.n // 2)
        self._moved = 0
        self._table.release()  # every tick: pages a reader of old rows faulted in go back
        return changed

    def release(self) -> None:
        """Give back the pages of the table's old rows (resident again after a reader of the
        history): the spill files keep them."""
        self._table.release()

    @property
    def notes(self) -> list[str]:
        """Why the store could not spill its history to disk (then held in memory), if so."""
        return self._table.notes

    def _fold(self, *, final: bool) -> None:
        """Move the waiting rows into the table: appended when they all sort after its last row,
        else (and for a new cut) a rebuild, done at the commit (``final``) or, for a cut,
        at once (so the rows read after it can be appended)."""
        if not self._chunks and not self._cuts:
            return
        if not self._cuts and not self._behind and self._table.append(self._chunks):
            pass
        elif final or self._cuts:
            if not self._table.insert(self._chunks, self._cuts):
                self._table.rebuild(self._chunks, self._cuts)
            self._cuts, self._behind = [], False
        else:
            self._behind = True  # wait for the commit: one rebuild per refresh
            return
        self._moved += self._waiting
        self._chunks, self._waiting = [], 0
        self._snapshot = None

    def _flush(self) -> bool:
        """Turn queued rows into a chunk; True if there were any."""
        rows = self._rows
        if not rows:
            return False
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
        chunks = self._chunks
        chunks.append(chunk)
        self._nrows += chunk.n
        self._waiting += chunk.n
        start = merge_start(chunks)
        if start is not None:
            chunks[start:] = [merge_chunks(chunks[start:], self._dtypes)]
        self._snapshot = None

    def columns(self) -> tuple[str, ...]:
        def group(col: str) -> int:
            return (
                0
                if col.startswith("neuron_counts.")
                else 1
                if col.startswith("capacity_by_region.")
                else 2
            )

        extra = sorted(self._extra, key=group)  # stable: first appearance within each group
        return (*FRAME_COLUMNS[self.name], *extra)

    def snapshot(self) -> FrameSnapshot:
        """The committed rows as an immutable, lazily built frame (same object until a change)."""
        if self._snapshot is None:
            self._fold(final=True)
            view = self._table.view()
            self._snapshot = FrameSnapshot(
                self.name, view, self.columns(), self._dtypes, self._nrows
            )
        return self._snapshot
