"""A train/validation pair's panel data kept up to date from appended rows.

What :func:`~dashboard.analysis.trainval.train_val_panel` draws comes from every row of the pair's
columns: the finite training values, their rolling standard deviation, the evaluations (rows with
a finite validation value, each with the last finite training value at or before it) and the
learning-rate moves. :class:`KeptPanel` keeps what it derived (a min/max pyramid over the training
values and one over their rolling std, the evaluations, the moves) and extends it from the rows
appended since the last update, so a live refresh costs the new rows plus the evaluations drawn,
not the history. When the columns did not only grow (a cut, a late line moving rows) it starts
over. ``train_val_panel`` is one update of a fresh :class:`KeptPanel`, so both draw the same.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

from dashboard.analysis.pyramid import MinMaxPyramid, SeriesPyramid, same_prefix
from dashboard.reading.forget import parts
from dashboard.reading.growing import GrowingArray

__all__ = ["KeptPanel", "rolling_std"]

_F64 = npt.NDArray[np.float64]


def rolling_std(values: _F64, window: int) -> _F64:
    """The sample standard deviation of each ``window`` consecutive values (NaN for the first
    ``window - 1``), from running sums of the values centred on their mean (one pass, so a
    million-point series costs milliseconds; the centring keeps the cancellation small)."""
    w = max(window, 2)
    out = np.full(values.size, np.nan)
    if values.size < w:
        return out
    x = values - values.mean()
    s1 = np.cumsum(np.r_[0.0, x])
    s2 = np.cumsum(np.r_[0.0, x * x])
    sum1, sum2 = s1[w:] - s1[:-w], s2[w:] - s2[:-w]
    out[w - 1 :] = np.sqrt(np.maximum((sum2 - sum1 * sum1 / w) / (w - 1), 0.0))
    return out


class KeptPanel:
    """One pair's derived rows for one run and rank (see the module docstring): ``train``
    (pyramid of the training values), ``std`` (pyramid of their rolling std over ``window``
    finite values, with steps), the evaluations (``eval_steps``, ``eval_train``, ``eval_val``),
    the learning-rate moves (``lr_steps``, ``lr_old``, ``lr_new``: finite ``lr`` moving by more
    than ``min_change``, relative) and ``val_logged`` (a validation value that is not NaN).

    Not thread-safe by itself: callers that share one hold :attr:`lock`."""

    def __init__(self, window: int = 20, min_change: float = 0.05) -> None:
        self.lock = threading.Lock()
        self.window, self.min_change = max(window, 2), min_change
        self.rebuilds = 0
        self._start()

    def _start(self) -> None:
        self.train = SeriesPyramid()
        self.std = MinMaxPyramid("std", {"step": np.int64})
        self._std, self._std_steps = GrowingArray(np.float64), GrowingArray(np.int64)
        self._recent = np.empty(0)  # the last window - 1 finite training values
        self._last_train, self._last_value = -1, np.nan  # the last finite training value
        self._last_lr = np.nan
        self._evals = [GrowingArray(np.int64), GrowingArray(np.float64), GrowingArray(np.float64)]
        self._moves = [GrowingArray(np.int64), GrowingArray(np.float64), GrowingArray(np.float64)]
        self.val_logged = False
        self._seen: tuple[np.ndarray, ...] = ()

    def update(self, steps: np.ndarray, train: _F64, val: _F64, lr: _F64 | None) -> None:
        """Bring the panel to these columns (``lr`` None: the run logs no learning rate)."""
        lr_column = np.full(0, np.nan) if lr is None else lr
        columns = (steps, train, val, lr_column)
        if self._seen and not all(
            same_prefix(old, new) for old, new in zip(self._seen, columns, strict=True)
        ):
            self._start()
            self.rebuilds += 1
        start = self._seen[0].size if self._seen else 0
        self.train.update(train, steps)
        for end in parts(start, train.size, train, val, *([lr] if lr is not None else [])):
            self._extend(start, steps[start:end], train[start:end], val[start:end],
                         None if lr is None else lr[start:end])  # fmt: skip
            start = end
        self._seen = columns

    def _extend(
        self, start: int, steps: np.ndarray, train: _F64, val: _F64, lr: _F64 | None
    ) -> None:
        ok = np.isfinite(train)
        finite, finite_steps = train[ok], steps[ok]
        series = np.concatenate([self._recent, finite])
        std = rolling_std(series, self.window)[self._recent.size :]
        kept = np.isfinite(std)
        self._std.append(std[kept])
        self._std_steps.append(finite_steps[kept])
        self.std.extend(self._std.array, {"step": self._std_steps.array})
        self._recent = series[-(self.window - 1) :]
        rows = np.arange(start, start + train.size)
        last = np.maximum(np.maximum.accumulate(np.where(ok, rows, -1)), self._last_train)
        at = np.flatnonzero(np.isfinite(val) & (last >= 0))
        if at.size:  # the training value at each: in this part, or the last one before it
            inside = last[at] >= start
            value = np.where(inside, train[np.where(inside, last[at] - start, 0)], self._last_value)
            for kept_part, new in zip(self._evals, (steps[at], value, val[at]), strict=True):
                kept_part.append(new)
        if finite.size:
            self._last_train, self._last_value = int(last[-1]), float(finite[-1])
        self.val_logged = self.val_logged or bool((~np.isnan(val)).any())
        if lr is not None:
            self._extend_lr(steps, lr)

    def _extend_lr(self, steps: np.ndarray, lr: _F64) -> None:
        ok = np.flatnonzero(np.isfinite(lr))
        if not ok.size:
            return
        new = lr[ok]
        old = np.concatenate([[self._last_lr], new[:-1]])
        scale = np.maximum(np.abs(old), np.finfo(np.float64).tiny)
        moved = np.flatnonzero(np.abs(new - old) / scale > self.min_change)  # NaN: no move
        for kept_part, part in zip(
            self._moves, (steps[ok[moved]], old[moved], new[moved]), strict=True
        ):
            kept_part.append(part)
        self._last_lr = float(new[-1])

    @property
    def evaluations(self) -> tuple[np.ndarray, _F64, _F64]:
        """(steps, training values, validation values) of every evaluation so far."""
        steps, train, val = (part.array for part in self._evals)
        return steps, train, val

    @property
    def moves(self) -> tuple[np.ndarray, _F64, _F64]:
        """(steps, old, new) of every learning-rate move so far."""
        steps, old, new = (part.array for part in self._moves)
        return steps, old, new
