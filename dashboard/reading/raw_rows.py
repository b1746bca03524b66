"""Raw rows kept aside: the lines a merged table row was made of, in arrival order.

A :class:`~dashboard.reading.sorted_table.SortedTable` of a merged frame keeps the raw rows of
every group of lines sharing a (step, rank) (its *shadow* rows), because a merged row cannot be
split again and a rebuild starts from raw rows. A run whose evaluator logs at the trainer's steps
has such a group at every evaluation, so these rows grow with the history: :class:`RawRows`
appends them to growing numeric buffers (:class:`~dashboard.reading.spill.Buffers`: big ones are
spilled to disk, and only a rebuild reads them back), other columns as lists of arrays. Not
thread-safe (the table's caller holds a lock).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from dashboard.reading.chunks import Chunk, fill_column
from dashboard.reading.spill import Buffers, SpillPolicy

__all__ = ["RawRows"]

_MIN_CAPACITY = 1024


class RawRows:
    """Rows appended with :meth:`add`, read back whole with :meth:`chunk` (a column a batch
    lacks reads as NaN there, or "" for strings)."""

    def __init__(self) -> None:
        self.n = 0
        # read back only by a rebuild: no window of recent rows kept resident
        self._bufs = Buffers(dataclasses.replace(SpillPolicy.from_env(), recent_rows=0))
        self._objects: dict[str, list[np.ndarray]] = {}

    @property
    def notes(self) -> list[str]:
        return self._bufs.notes

    def add(self, cols: Mapping[str, np.ndarray], k: int) -> None:
        """Append ``k`` rows given as whole columns."""
        start, total = self.n, self.n + k
        if total > self._bufs.cap:
            self._bufs.grow(max(2 * total, _MIN_CAPACITY), start)
        self._bufs.ensure(total, start)
        for col, values in cols.items():
            if values.dtype == object:
                self._objects.setdefault(col, [fill_column("str", start)]).append(values)
                continue
            buf = self._bufs.arrays.get(col)
            if buf is None:  # a column first seen now: NaN in the rows before
                buf = self._bufs.add(col, values.dtype, total)
                if start:
                    buf[:start] = np.nan
            buf[start:total] = values
        for col, buf in self._bufs.arrays.items():
            if col not in cols and k:
                buf[start:total] = np.nan
        for col, parts in self._objects.items():
            if col not in cols:
                parts.append(fill_column("str", k))
        self.n = total
        self._bufs.release(total)

    def chunk(self, start: int = 0) -> Chunk:
        """The rows from ``start`` on (numeric columns as views of the buffers: read them before
        the next :meth:`add` after a :meth:`truncate`)."""
        cols = {col: buf[start : self.n] for col, buf in self._bufs.arrays.items()}
        for col, parts in self._objects.items():
            cols[col] = np.concatenate(parts)[start:]
        return Chunk(self.n - start, cols)

    def count_below(self, col: str, value: int) -> int:
        """How many rows come before the first whose ``col`` (non-decreasing) is >= ``value``."""
        buf = self._bufs.arrays.get(col)
        return 0 if buf is None else int(np.searchsorted(buf[: self.n], value, side="left"))

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows only (later ones are written over)."""
        for col, parts in self._objects.items():
            self._objects[col] = [np.concatenate(parts)[:n]]
        self.n = min(self.n, n)

    def release(self) -> None:
        """Give back the memory of spilled rows (read back from disk by :meth:`chunk`)."""
        self._bufs.release(self.n)
