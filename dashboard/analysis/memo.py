"""Work derived from one snapshot, kept while that snapshot is alive (pure Python, no Streamlit).

A :class:`~dashboard.run_state.RunState` never changes once built, and the watcher hands out the
same object until new data arrives, so anything computed from a snapshot alone (the health
rules' verdicts, a chart's series) can be kept per snapshot and reused by every refresh that
sees it. :class:`SnapshotMemo` keys by the snapshot's identity plus the caller's options and
holds the snapshot only weakly: an entry whose snapshot is gone can never be returned for another
snapshot that happens to get the same ``id``. Bounded (oldest out first) and thread-safe: the
page's sessions share one.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SnapshotMemo"]

_T = TypeVar("_T")


class SnapshotMemo(Generic[_T]):
    """Values computed from one snapshot and options, at most ``size`` of them."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[int, Hashable], tuple[weakref.ref[object], _T]] = (
            OrderedDict()
        )

    def get(self, snapshot: object, options: Hashable, build: Callable[[], _T]) -> _T:
        """The value for (``snapshot``, ``options``): kept, or ``build()`` (then kept)."""
        key = (id(snapshot), options)
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[0]() is snapshot:
                self._items.move_to_end(key)
                return item[1]
        value = build()
        with self._lock:
            self._items[key] = (weakref.ref(snapshot), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
