"""Chunks and cuts: the immutable pieces a column store is made of.

A :class:`Chunk` is ``n`` rows as whole numpy columns (a column a chunk lacks reads as NaN, or
"" for strings); a :class:`Cut` names rows of an abandoned timeline to drop when a frame is
built. :data:`LOGGED_NAN` tells a NaN the trainer logged from a field a line left out
(:func:`is_missing`). Chunks are merged size-tiered as they arrive (:func:`merge_start`,
:func:`merge_chunks`), so a long live run keeps few small chunks and copies each row a few
times only. Nothing here knows frames or pandas.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "LOGGED_NAN",
    "Chunk",
    "Cut",
    "concat_column",
    "fill_column",
    "is_missing",
    "merge_chunks",
    "merge_start",
    "tail_column",
]

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


def fill_column(dtype: str, n: int) -> np.ndarray:
    if dtype == "str":
        return np.full(n, "", dtype=object)
    return np.full(n, np.nan)


def concat_column(chunks: tuple[Chunk, ...], name: str, dtype: str) -> np.ndarray:
    parts = [c.cols[name] if name in c.cols else fill_column(dtype, c.n) for c in chunks]
    if not parts:
        return np.empty(0, dtype=object if dtype == "str" else np.dtype(dtype))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def tail_column(chunks: tuple[Chunk, ...], name: str, dtype: str, start: int) -> np.ndarray:
    """Rows ``start:`` of the concatenated column, touching only the chunks that hold them."""
    parts, end = [], sum(c.n for c in chunks)
    for c in reversed(chunks):
        if end <= start:
            break
        col = c.cols[name] if name in c.cols else fill_column(dtype, c.n)
        parts.append(col[max(0, start - (end - c.n)) :])
        end -= c.n
    parts.reverse()
    return (
        parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else fill_column(dtype, 0)
    )


def merge_chunks(chunks: list[Chunk], dtypes: Mapping[str, str]) -> Chunk:
    names = list(dict.fromkeys(k for c in chunks for k in c.cols))
    group = tuple(chunks)
    return Chunk(
        sum(c.n for c in group),
        {k: concat_column(group, k, dtypes.get(k, "float64")) for k in names},
    )


def merge_start(chunks: list[Chunk]) -> int | None:
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
