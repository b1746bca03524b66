"""Build a value once, on first use, thread-safely (the frame snapshots are built this way)."""

from __future__ import annotations

import threading

import pandas as pd

__all__ = ["BuildOnce"]


class BuildOnce:
    """Base of a frame builder: the first call builds the frame (``_build``), once and
    thread-safely; every later call returns that same object."""

    def __init__(self) -> None:
        self._built: pd.DataFrame | None = None
        self._build_lock = threading.Lock()

    def __call__(self) -> pd.DataFrame:
        with self._build_lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    def _build(self) -> pd.DataFrame:
        raise NotImplementedError
