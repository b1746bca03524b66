"""What a chart draws, as a cache key: the content of the frame it is built from, not the state's
version.

A chart keyed by :func:`dashboard.page.chart_specs.state_key` is rebuilt whenever anything in the
run changed (every refresh of a live run), even when its own frame did not: the consolidation
chart after a thousand new metric lines. :func:`content_key` names the frame's content instead (a
digest of every row, order included: a late line merged into an old row changes it without
changing the length), computed once per state version and kept, so an unchanged chart is neither
rebuilt nor converted, and the spec sent is the same object with the same bytes (Streamlit's
message cache then sends the browser a reference instead of the chart).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pandas as pd

from dashboard.page import chart_specs

__all__ = ["content_key", "frame_digest"]

_LOCK = threading.Lock()
_KEPT: dict[tuple[str, str], tuple[tuple[object, ...], tuple[object, ...]]] = {}
_MAX_KEPT = 32


def frame_digest(frame: pd.DataFrame) -> str:
    """A digest of ``frame``'s columns, dtypes and rows, in order (the index is not part of it)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    if len(frame):
        rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        h.update(rows.tobytes())
    return h.hexdigest()


def content_key(state: Any, frame: pd.DataFrame, name: str) -> tuple[object, ...]:
    """``(directory, name, shape, digest of frame)``, computed at most once per state version (and
    frame shape) of ``state`` for ``name``."""
    directory = str(state.checkpoint_dir)
    version = chart_specs.state_key(state, frame)
    with _LOCK:
        held = _KEPT.get((directory, name))
    if held is not None and held[0] == version:
        return held[1]
    key: tuple[object, ...] = (directory, name, frame.shape, frame_digest(frame))
    with _LOCK:
        _KEPT.pop((directory, name), None)
        while len(_KEPT) >= _MAX_KEPT:
            _KEPT.pop(next(iter(_KEPT)))
        _KEPT[(directory, name)] = (version, key)
    return key
