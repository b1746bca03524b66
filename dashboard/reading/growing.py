"""Arrays that grow at their end and spill like the tables' columns.

A :class:`GrowingArray` is one column of numbers that only grows at its end, or is cut back and
grown again (:meth:`GrowingArray.keep` writes over the items after the cut, which views handed
out then show; :meth:`GrowingArray.cut` forks the buffer first, so they do not): a smoothed
chart series, a loss segment's running sums, a rank's rows. It lives in a
:class:`~dashboard.reading.spill.Buffers`, so a long one is a spill file with only its last
``recent_rows`` resident, and a short one (or spilling off) is plain memory. Room grows by a
quarter; a spilled array grows in its own file without a copy. Views handed out stay valid.
Not thread-safe (callers hold their own lock).
"""

from __future__ import annotations

import numpy as np

from dashboard.reading.spill import Buffers

__all__ = ["GrowingArray"]

_COLUMN = "values"


class GrowingArray:
    """A one-dimensional array of ``dtype`` growing at its end (see the module docstring)."""

    def __init__(self, dtype: type | np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.size = 0
        self._buffers = Buffers()

    @property
    def spilled(self) -> bool:
        """Whether the array lives in a spill file."""
        return bool(self._buffers.spilled)

    def append(self, new: np.ndarray) -> None:
        """Append ``new`` after the last item."""
        self.keep(self.size, new)

    def keep(self, size: int, new: np.ndarray) -> None:
        """Keep the first ``size`` items, then append ``new``."""
        end = size + new.size
        buffers = self._buffers
        if not buffers.arrays:
            buffers.cap = max(end, 64)
            buffers.add(_COLUMN, self.dtype, end)
        elif end > buffers.cap:
            buffers.grow(max(end, buffers.cap * 5 // 4), size)
        buffers.ensure(end, size)
        buffers.arrays[_COLUMN][size:end] = new
        self.size = end
        buffers.release(end)

    def cut(self, size: int) -> None:
        """Keep the first ``size`` items, every view handed out keeping the items it shows: the
        buffer forks, so the items from ``size`` on are written anew (into new buffers where a
        spill file cannot fork)."""
        if size >= self.size:
            return
        if self._buffers.arrays:
            try:
                self._buffers.fork(size, self.size)
            except OSError:
                self._buffers.grow(self._buffers.cap, size, fresh=True)
        self.size = size

    @property
    def array(self) -> np.ndarray:
        """The items (a view: do not modify)."""
        if not self._buffers.arrays:
            return np.empty(0, dtype=self.dtype)
        return self._buffers.arrays[_COLUMN][: self.size]
