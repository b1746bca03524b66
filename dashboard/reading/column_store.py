"""Column stores: the growing columns of one frame, handed out as immutable snapshots.

A :class:`ColumnStore` per frame collects rows (from the per-line parser) and column chunks (from
the Arrow fast path). :meth:`ColumnStore.commit` turns pending rows into an immutable
:class:`~dashboard.reading.chunks.Chunk`; nothing is ever concatenated onto the whole history
during a refresh. :meth:`ColumnStore.snapshot` pins what is committed in a
:class:`~dashboard.reading.frame_snapshot.FrameSnapshot`, which builds the DataFrame when asked
(the timeline and merge rules are described there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dashboard.reading.chunks import Chunk, Cut, merge_chunks, merge_start
from dashboard.reading.frame_snapshot import FrameSnapshot, GrowCache
from dashboard.run_state import FRAME_COLUMNS

__all__ = ["ColumnStore"]

_PRIVATE = ("_seq", "_src")


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
            columns = self.columns()
            growable = all(self._dtypes.get(c) != "str" for c in columns)
            self._snapshot = FrameSnapshot(
                self.name,
                tuple(self._chunks),
                tuple(self._cuts),
                columns,
                self._dtypes,
                self.dedup,
                self._cache if growable else None,
                self._nrows,
            )
        return self._snapshot
