"""Which metric values a run explicitly logged as non-finite: a sparse record kept beside the frames.

In a float64 column a value the line did not log and a logged ``NaN`` look the same. Only the
parser can tell them apart (:func:`dashboard.reading.line_parser.parse_line` names the columns whose value was a
``"NaN"``/``"Infinity"``/``"-Infinity"`` string, a bare token or an overflowing number). The reader
hands those to a :class:`NonFiniteLog`: one entry per (line, column), which is nothing at all on
clean logs (the pyarrow block path only accepts blocks without non-finite values; everything else
goes line by line through the parser), and stays small because non-finite values are rare.

Entries follow the rows they came from:

* the same :class:`~dashboard.reading.chunks.Cut` objects as the column stores drop the entries of an
  abandoned timeline (resume) or of a file read again (truncated/replaced);
* metric lines sharing a (step, rank) merge field by field in the frame (the later line's value
  of a field wins, a field it does not carry keeps the earlier value; a logged NaN counts as a
  value, see :data:`~dashboard.reading.chunks.LOGGED_NAN`). So when the snapshot is built, an entry is
  kept only where the merged metrics frame holds a non-finite value at its (rank, step, column),
  and of several entries there the last one read: every non-finite value in the frame comes
  from an entry, and the line it came from is the last one carrying that field, so its entry is
  the newest one left. A later finite value replaces an earlier logged NaN (no entry kept), a
  later logged NaN replaces an earlier finite value (its entry kept), a later line without the
  field keeps the earlier NaN and its entry.

The snapshot is the ``nonfinite`` frame of :mod:`dashboard.run_state` (``FRAME_COLUMNS["nonfinite"]``):
one row per (step, rank, column), sorted by step, rank, column.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from dashboard.reading.build_once import BuildOnce
from dashboard.reading.chunks import Cut
from dashboard.run_state import empty_frame

__all__ = ["NonFiniteLog", "NonFiniteSnapshot"]

_INT_FIELDS = ("seq", "src", "rank", "step", "col")


class NonFiniteSnapshot(BuildOnce):
    """The entries and cuts at one moment; calling it with the metrics frame builds (once) the
    frame described in the module docstring. Immutable, thread-safe."""

    def __init__(
        self,
        chunks: tuple[dict[str, np.ndarray], ...],
        cuts: tuple[Cut, ...],
        names: tuple[str, ...],
        metrics: Callable[[], pd.DataFrame],
    ) -> None:
        self._chunks, self._cuts, self._names, self._metrics = chunks, cuts, names, metrics
        super().__init__()

    def _build(self) -> pd.DataFrame:
        if not self._chunks:
            return empty_frame("nonfinite")
        e = {k: np.concatenate([c[k] for c in self._chunks]) for k in (*_INT_FIELDS, "value")}
        keep = np.ones(len(e["seq"]), dtype=bool)
        for cut in self._cuts:
            hit = (e["src"] == cut.src) & (e["seq"] < cut.seq) & (e["step"] >= cut.min_step)
            if cut.rank >= 0:
                hit &= e["rank"] == cut.rank
            keep &= ~hit
        metrics = self._metrics()
        if keep.any() and not metrics.empty:
            keep &= self._in_frame(metrics, e)
        else:
            keep[:] = False
        if not keep.any():
            return empty_frame("nonfinite")
        order = np.flatnonzero(keep)
        order = order[np.argsort(e["seq"][order], kind="stable")]
        frame = pd.DataFrame(
            {
                "step": e["step"][order],
                "rank": e["rank"][order],
                "column": pd.Series(
                    np.asarray(self._names, dtype=object)[e["col"][order]], dtype="str"
                ),
                "value": e["value"][order],
            }
        )
        frame = frame.drop_duplicates(["step", "rank", "column"], keep="last")
        frame = frame.sort_values(["step", "rank", "column"], kind="stable", ignore_index=True)
        return frame

    def _in_frame(self, metrics: pd.DataFrame, e: dict[str, np.ndarray]) -> np.ndarray:
        """Entries whose (rank, step) row holds a non-finite value in its column."""
        steps = metrics["step"].to_numpy(dtype=np.int64)
        ranks = metrics["rank"].to_numpy(dtype=np.int64)
        width = int(max(ranks.max(), e["rank"].max())) + 1
        keys = steps * width + ranks  # sorted: the frame is sorted by (step, rank), unique
        want = e["step"] * width + e["rank"]
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        found = keys[pos] == want
        out = np.zeros(len(want), dtype=bool)
        for col_id in np.unique(e["col"][found]):
            name = self._names[int(col_id)]
            if name not in metrics.columns:
                continue
            sel = np.flatnonzero(found & (e["col"] == col_id))
            values = metrics[name].to_numpy(dtype=np.float64, na_value=np.nan)[pos[sel]]
            out[sel] = ~np.isfinite(values)
        return out


class NonFiniteLog:
    """The growing record of explicitly logged non-finite metric values of one directory.

    Entries added with :meth:`add` become visible to snapshots after :meth:`commit`. Not
    thread-safe (the reader calls it under the watcher's lock); snapshots are immutable.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[int, int, int, int, int, float]] = []
        self._chunks: list[dict[str, np.ndarray]] = []
        self._cuts: list[Cut] = []
        self._names: list[str] = []
        self._ids: dict[str, int] = {}
        self._snapshot: NonFiniteSnapshot | None = None
        self._snap_for: object = None

    def add(
        self,
        seq: int,
        src: int,
        rank: int,
        step: int,
        fields: dict[str, float],
        names: tuple[str, ...],
    ) -> None:
        """Record that line ``seq`` (file ``src``) logged ``fields[name]`` non-finite."""
        for name in names:
            col = self._ids.get(name)
            if col is None:
                col = self._ids[name] = len(self._names)
                self._names.append(name)
            self._pending.append((seq, src, rank, step, col, fields[name]))

    def add_cut(self, cut: Cut) -> None:
        """Apply a cut of the column stores (resume, truncation, replacement) to the entries."""
        if self._chunks or self._pending:
            self._cuts.append(cut)
            self._snapshot = None

    def commit(self) -> None:
        if not self._pending:
            return
        rows = self._pending
        chunk = {
            k: np.array([r[i] for r in rows], dtype=np.int64) for i, k in enumerate(_INT_FIELDS)
        }
        chunk["value"] = np.array([r[5] for r in rows], dtype=np.float64)
        self._chunks = [*self._chunks, chunk]
        self._pending = []
        self._snapshot = None

    def snapshot(self, metrics: Callable[[], pd.DataFrame]) -> NonFiniteSnapshot:
        """The committed entries, checked against ``metrics`` (the same snapshot's builder)."""
        if self._snapshot is None or self._snap_for is not metrics:
            self._snapshot = NonFiniteSnapshot(
                tuple(self._chunks), tuple(self._cuts), tuple(self._names), metrics
            )
            self._snap_for = metrics
        return self._snapshot
