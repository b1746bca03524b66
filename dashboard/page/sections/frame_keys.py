"""What a chart draws, as a cache key: the content of the frame it is built from, not the state's
version.

A chart keyed by :func:`dashboard.page.chart_specs.state_key` is rebuilt whenever anything in the
run changed (every refresh of a live run), even when its own frame did not: the consolidation
chart after a thousand new metric lines. :func:`content_key` names the frame's content instead (a
digest of every row, order included: a late line merged into an old row changes it without
changing the length), computed once per state version and kept (from the new rows only when the
frame only grew: :func:`extends`), so an unchanged chart is neither
rebuilt nor converted, and the spec sent is the same object with the same bytes (Streamlit's
message cache then sends the browser a reference instead of the chart).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, NamedTuple

import pandas as pd

from dashboard.page import chart_specs

__all__ = ["content_key", "extends", "frame_digest"]

_LOCK = threading.Lock()
_MAX_KEPT = 32


class _Kept(NamedTuple):
    version: tuple[object, ...]
    key: tuple[object, ...]
    frame: pd.DataFrame  # held: its buffers stay alive, so no new buffer can take their address
    hasher: Any  # the digest's state after the frame's rows


_KEPT: dict[tuple[str, str], _Kept] = {}


def frame_digest(frame: pd.DataFrame) -> str:
    """A digest of ``frame``'s columns, dtypes and rows, in order (the index is not part of it)."""
    return _hashed(_start(frame), frame).hexdigest()


def _start(frame: pd.DataFrame) -> Any:
    h = hashlib.blake2b(digest_size=16)
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    return h


def _hashed(h: Any, rows: pd.DataFrame) -> Any:
    """``h`` after ``rows`` (each row's hash depends on that row alone, so rows can come in
    parts: the digest of a frame is the digest of its first rows continued by the others)."""
    if len(rows):
        h.update(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    return h


def content_key(state: Any, frame: pd.DataFrame, name: str) -> tuple[object, ...]:
    """``(directory, name, shape, digest of frame)``, computed at most once per state version (and
    frame shape) of ``state`` for ``name``; when ``frame`` only adds rows to the frame of the last
    call (:func:`extends`), from its new rows only."""
    directory = str(state.checkpoint_dir)
    version = chart_specs.state_key(state, frame)
    with _LOCK:
        held = _KEPT.get((directory, name))
    if held is not None and held.version == version:
        return held.key
    if held is not None and extends(held.frame, frame):
        hasher = _hashed(held.hasher.copy(), frame.iloc[len(held.frame) :])
    else:
        hasher = _hashed(_start(frame), frame)
    key: tuple[object, ...] = (directory, name, frame.shape, hasher.hexdigest())
    with _LOCK:
        _KEPT.pop((directory, name), None)
        while len(_KEPT) >= _MAX_KEPT:
            _KEPT.pop(next(iter(_KEPT)))
        _KEPT[(directory, name)] = _Kept(version, key, frame, hasher)
    return key


def extends(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    """Whether ``new``'s first rows are ``old``'s, known without reading them: the same columns
    and dtypes, each a view starting on the same buffer as ``old``'s (a snapshot's frame views
    buffers whose rows are never written again, :mod:`dashboard.reading.frame_snapshot`; ``old``
    is held, so its buffers cannot be freed and their addresses reused), and no fewer rows. False
    whenever that cannot be told (a copy, another kind of column): the caller reads every row."""
    if len(new) < len(old) or list(old.dtypes.items()) != list(new.dtypes.items()):
        return False
    return all(_same_start(old[col].array, new[col].array) for col in old.columns)


def _same_start(old: Any, new: Any) -> bool:
    if isinstance(old, pd.arrays.NumpyExtensionArray):
        a, b = old.to_numpy(), new.to_numpy()
        return bool(_address(a) == _address(b) and a.strides == b.strides)
    if isinstance(old, pd.arrays.ArrowStringArray) and isinstance(new, pd.arrays.ArrowStringArray):
        a, b = old.__arrow_array__().chunks, new.__arrow_array__().chunks
        if len(b) < len(a):
            return False
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            short = len(y) < len(x) if i == len(a) - 1 else len(y) != len(x)
            if short or x.offset != y.offset or _addresses(x) != _addresses(y):
                return False
        return True
    return False


def _address(array: Any) -> int:
    return int(array.__array_interface__["data"][0])


def _addresses(chunk: Any) -> list[int | None]:
    return [None if buf is None else buf.address for buf in chunk.buffers()]
