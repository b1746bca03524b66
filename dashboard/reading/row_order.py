"""Row order: which rows of a frame survive the cuts, in what order, and which merge.

The rules are :mod:`dashboard.reading.frame_snapshot`'s: rows sort by (step, rank, read order),
rows a :class:`~dashboard.reading.chunks.Cut` names are dropped, and in a merged frame rows
sharing (step, rank) form a group whose fields merge in read order (:class:`Merge`).
:func:`order_rows` computes that from the key columns alone; the tables write the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dashboard.reading.chunks import Cut, is_missing

__all__ = ["Merge", "order_rows"]


class Merge:
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


def _drop_cut(
    step: np.ndarray, rank: np.ndarray, seq: np.ndarray, src: np.ndarray, cuts: Sequence[Cut]
) -> np.ndarray | None:
    """Positions of the rows no cut drops (None: all of them)."""
    keep = np.ones(len(step), dtype=bool)
    for cut in cuts:
        hit = (src == cut.src) & (seq < cut.seq) & (step >= cut.min_step)
        if cut.rank >= 0:
            hit &= rank == cut.rank
        keep &= ~hit
    return None if keep.all() else np.flatnonzero(keep)


def _in_order(s: np.ndarray, r: np.ndarray, q: np.ndarray, dedup: bool) -> bool:
    """Whether rows are sorted by (step, rank, read order) (a merged frame: no step shared)."""
    if dedup or not np.all(s[1:] >= s[:-1]):
        return bool(dedup and np.all(s[1:] > s[:-1]))
    same = np.flatnonzero(s[1:] == s[:-1])
    r0, r1, q0, q1 = r[same], r[same + 1], q[same], q[same + 1]
    return bool(np.all((r1 > r0) | ((r1 == r0) & (q1 >= q0))))


def order_rows(
    keys: Mapping[str, np.ndarray], cuts: Sequence[Cut], dedup: bool
) -> tuple[np.ndarray | None, Merge | None]:
    """Row positions that survive ``cuts``, sorted by (step, rank, read order) (None = all, in
    place), and for a merged frame the groups of rows sharing (step, rank), of which only the
    last position is kept (its values come from :meth:`Merge.values`)."""
    step, rank, seq = keys["step"], keys["rank"], keys["_seq"]
    idx = _drop_cut(step, rank, seq, keys["_src"], cuts) if cuts else None
    s, r, q = (step, rank, seq) if idx is None else (step[idx], rank[idx], seq[idx])
    if len(s) > 1 and not _in_order(s, r, q, dedup):
        order = np.lexsort((q, r, s))
        s, r = s[order], r[order]
        idx = order if idx is None else idx[order]
    if not dedup or len(s) < 2:
        return idx, None
    last = np.ones(len(s), dtype=bool)
    last[:-1] = (s[1:] != s[:-1]) | (r[1:] != r[:-1])
    if last.all():
        return idx, None
    first = np.ones(len(s), dtype=bool)
    first[1:] = last[:-1]
    shared = np.flatnonzero(~(first & last))  # sorted positions in groups of 2+
    group = np.cumsum(first[shared]) - 1
    ends = np.flatnonzero(last[shared])
    keep_at = np.flatnonzero(last)
    merge = Merge(
        shared if idx is None else idx[shared],
        np.flatnonzero(first[shared])[group],
        ends,
        np.searchsorted(keep_at, shared[ends]),
    )
    return (keep_at if idx is None else idx[keep_at]), merge
