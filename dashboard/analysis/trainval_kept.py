"""A train/validation pair's panel data kept up to date from appended rows.

What :func:`~dashboard.analysis.trainval.train_val_panel` draws comes from every row of the pair's
columns: the finite training values, their rolling standard deviation, the evaluations (rows with
a finite validation value, each with the last finite training value at or before it) and the
learning-rate moves. :class:`KeptPanel` keeps what it derived (a min/max pyramid over the training
values and one over their rolling std, the evaluations, the moves) and extends it from the rows
appended since the last update, so a live refresh costs the new rows plus the evaluations drawn,
not the history. When earlier rows changed (a late line, a cut) it is cut back to the first row
that changed (found without reading the rows two views of one spill file are known to share)
and extended from there. ``train_val_panel`` is one update of a fresh :class:`KeptPanel`, so
both draw the same.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

from dashboard.analysis.pyramid import MinMaxPyramid, common_prefix
from dashboard.analysis.series_pyramid import SeriesPyramid
from dashboard.reading.forget import parts
from dashboard.reading.growing import GrowingArray

__all__ = ["KeptPanel", "moves", "rolling_std"]

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


def moves(
    values: _F64, min_change: float, previous: float = np.nan
) -> tuple[np.ndarray, _F64, _F64]:
    """(rows, old, new) where the finite ``values`` moved by more than ``min_change``
    (relative) from the finite value before (``previous`` before the first one)."""
    ok = np.flatnonzero(np.isfinite(values))
    new = values[ok]
    old = np.concatenate([[previous], new[:-1]])
    scale = np.maximum(np.abs(old), np.finfo(np.float64).tiny)
    moved = np.flatnonzero(np.abs(new - old) / scale > min_change)  # NaN: no move
    return ok[moved], old[moved], new[moved]


class KeptPanel:
    """One pair's derived rows for one run and rank (see the module docstring): ``train``
    (pyramid of the training values), ``std`` (pyramid of their rolling std over ``window``
    finite values, with steps), :attr:`evaluations`, the learning-rate :attr:`moves` (by more
    than ``min_change``, relative: :func:`moves`) and :attr:`val_logged`.

    Not thread-safe by itself: callers that share one hold :attr:`lock`."""

    def __init__(self, window: int = 20, min_change: float = 0.05) -> None:
        self.lock = threading.Lock()
        self.window, self.min_change = max(window, 2), min_change
        self.rebuilds = 0
        self._start()

    def _start(self) -> None:
        self.train = SeriesPyramid()
        self.std = MinMaxPyramid("std", {"step": np.int64})
        # the rolling std of the finite training values: value, step, row
        self._std = [GrowingArray(np.float64), GrowingArray(np.int64), GrowingArray(np.int64)]
        self._recent = np.empty(0)  # the last window - 1 finite training values
        self._last_train, self._last_value = -1, np.nan  # the last finite training value
        self._last_lr = np.nan
        # evaluations: step, training value, validation value, row; moves: step, old, new, row
        self._evals = [GrowingArray(t) for t in (np.int64, np.float64, np.float64, np.int64)]
        self._moves = [GrowingArray(t) for t in (np.int64, np.float64, np.float64, np.int64)]
        self._first_val = -1  # the first row with a validation value that is not NaN
        self._seen: tuple[np.ndarray, ...] = ()

    @property
    def val_logged(self) -> bool:
        """Whether a validation value that is not NaN was logged."""
        return self._first_val >= 0

    def update(self, steps: np.ndarray, train: _F64, val: _F64, lr: _F64 | None) -> None:
        """Bring the panel to these columns (``lr`` None: the run logs no learning rate). Rows
        that changed (a late line, a cut) are cut back to the first changed row, then extended
        again from there."""
        lr_column = np.full(0, np.nan) if lr is None else lr
        columns = (steps, train, val, lr_column)
        start = self._seen[0].size if self._seen else 0
        shared = [common_prefix(a, b) for a, b in zip(self._seen, columns, strict=False) if a.size]
        if shared and min(shared) < start:
            start = min(shared)
            self._cut_back(start, train, lr)
            self.rebuilds += 1
        self.train.update(train, steps)
        for end in parts(start, train.size, train, val, *([lr] if lr is not None else [])):
            self._extend(start, steps[start:end], train[start:end], val[start:end],
                         None if lr is None else lr[start:end])  # fmt: skip
            start = end
        self._seen = columns

    def _cut_back(self, k: int, train: _F64, lr: _F64 | None) -> None:
        """Keep what the first ``k`` rows gave (the columns' rows before ``k`` are unchanged)."""
        self.train.truncate(k)
        for kept in (self._std, self._evals, self._moves):
            count = int(np.searchsorted(kept[-1].array, k, side="left"))
            for part in kept:
                part.keep(count, np.empty(0, dtype=part.dtype))
        self.std.truncate(self._std[0].size)
        rows = _last_finite(train[:k], self.window - 1)
        self._recent = train[rows]
        self._last_train = int(rows[-1]) if rows.size else -1
        self._last_value = float(train[rows[-1]]) if rows.size else np.nan
        lr_rows = _last_finite(lr[:k], 1) if lr is not None else np.empty(0, np.intp)
        self._last_lr = float(lr[lr_rows[-1]]) if lr is not None and lr_rows.size else np.nan
        if self._first_val >= k:
            self._first_val = -1

    def _extend(
        self, start: int, steps: np.ndarray, train: _F64, val: _F64, lr: _F64 | None
    ) -> None:
        ok = np.isfinite(train)
        rows = np.arange(start, start + train.size)
        finite = train[ok]
        series = np.concatenate([self._recent, finite])
        std = rolling_std(series, self.window)[self._recent.size :]
        kept = np.isfinite(std)
        for part, new in zip(self._std, (std[kept], steps[ok][kept], rows[ok][kept]), strict=True):
            part.append(new)
        self.std.extend(self._std[0].array, {"step": self._std[1].array})
        self._recent = series[-(self.window - 1) :]
        last = np.maximum(np.maximum.accumulate(np.where(ok, rows, -1)), self._last_train)
        at = np.flatnonzero(np.isfinite(val) & (last >= 0))
        if at.size:  # the training value at each: in this part, or the last one before it
            inside = last[at] >= start
            value = np.where(inside, train[np.where(inside, last[at] - start, 0)], self._last_value)
            new_evals = (steps[at], value, val[at], rows[at])
            for kept_part, new in zip(self._evals, new_evals, strict=True):
                kept_part.append(new)
        if finite.size:
            self._last_train, self._last_value = int(last[-1]), float(finite[-1])
        logged = np.flatnonzero(~np.isnan(val))
        if self._first_val < 0 and logged.size:
            self._first_val = start + int(logged[0])
        if lr is not None:
            self._extend_lr(steps, lr, rows)

    def _extend_lr(self, steps: np.ndarray, lr: _F64, rows: np.ndarray) -> None:
        at, old, new = moves(lr, self.min_change, self._last_lr)
        for kept_part, part in zip(self._moves, (steps[at], old, new, rows[at]), strict=True):
            kept_part.append(part)
        finite = lr[np.isfinite(lr)]
        self._last_lr = float(finite[-1]) if finite.size else self._last_lr

    @property
    def evaluations(self) -> tuple[np.ndarray, _F64, _F64]:
        """(steps, training values, validation values) of every evaluation so far."""
        steps, train, val, _ = (part.array for part in self._evals)
        return steps, train, val

    @property
    def moves(self) -> tuple[np.ndarray, _F64, _F64]:
        """(steps, old, new) of every learning-rate move so far."""
        steps, old, new, _ = (part.array for part in self._moves)
        return steps, old, new


def _last_finite(values: _F64, count: int) -> np.ndarray:
    """The rows of the last ``count`` finite values (fewer when there are not as many), read
    from the end in growing windows."""
    window = max(64, 4 * count)
    while True:
        part = values[max(0, values.size - window) :]
        rows = np.flatnonzero(np.isfinite(part))[-count:] + (values.size - part.size)
        if rows.size >= count or part.size == values.size:
            return rows
        window *= 16
