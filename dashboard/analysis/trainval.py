"""Train/validation panel data: pure functions from the metric frame to what the panels draw.

The panels follow ``train-dl-visualization.md``'s 2×2 grid and ``training-monitor-page.md``'s
curves. A *pair* is a logged validation column ``val_X`` next to its training column ``X``
(``val_accuracy`` pairs with ``performance`` when the run logs no ``accuracy``). For each pair,
:func:`train_val_panel` gives

* the training series (finite values, down-sampled) and its rolling standard deviation over
  ``window`` points (stability);
* one row per *evaluation* (a row with a finite validation value): the training value at that
  row (the last finite one at or before it), the validation value, the generalisation gap
  (val − train), the improvement on the previous evaluation (positive = better, whatever the
  direction of the metric) and whether it was a NEW BEST (better than every earlier one);
* the best evaluation, and the learning-rate changes (``lr``) as rule rows labelled
  ``"lr 0.001 → 0.0005 at step N"``.

Everything is down-sampled (min/max per block, spikes kept: the training curves through the
pyramids of :mod:`dashboard.analysis.trainval_kept`, which also keeps the panel up to date from
appended rows), so a panel holds at most a few thousand rows per series whatever the history
length. No I/O, no Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.analysis.downsample import DEFAULT_MAX_POINTS, downsample
from dashboard.analysis.series import float_column
from dashboard.analysis.trainval_kept import KeptPanel, moves

__all__ = [
    "LOWER_IS_BETTER",
    "Panel",
    "TrainValPair",
    "eval_log",
    "keep_up",
    "lr_changes",
    "panel_of",
    "train_val_panel",
    "val_pairs",
]

LOWER_IS_BETTER = ("loss", "error", "err", "perplexity", "nll", "mse", "mae", "rmse", "wer", "cer")
"""Name parts of metrics where lower is better (anything else: higher is better)."""
_MAX_MARKS = 200  # NEW BEST points and lr rules drawn at most (the latest ones)


@dataclass(frozen=True)
class TrainValPair:
    """A validation column ``val`` and the training column ``train`` it is compared with."""

    train: str
    val: str
    lower_is_better: bool

    @property
    def label(self) -> str:
        return f"{self.train} / {self.val}"


@dataclass(frozen=True)
class Panel:
    """What the four panels of one pair draw (see the module docstring). Frames:

    * ``train``: ``step``, ``value`` (down-sampled finite training values);
    * ``stability``: ``step``, ``std`` (rolling std of the training values, down-sampled);
    * ``evals``: ``step``, ``train``, ``val``, ``gap``, ``improvement``, ``new_best``
      (down-sampled; the best evaluation and the latest NEW BESTs always kept);
    * ``lr``: ``step``, ``old``, ``new``, ``label``.
    """

    pair: TrainValPair
    train: pd.DataFrame
    stability: pd.DataFrame
    evals: pd.DataFrame
    lr: pd.DataFrame
    best_step: int
    best_value: float
    evaluations: int
    window: int

    @property
    def latest(self) -> pd.Series:
        return self.evals.iloc[-1]

    def summary(self) -> str:
        """One line like the reference's header: ``Step 9,900 | Train: 0.3245 | Val: 0.3512 |
        Gap: +0.0267 | Δ: -0.0023 | Best val_loss: 0.3512 at step 9,900 ✓ NEW BEST`` (Δ: the
        change of the validation value since the previous evaluation)."""
        last = self.latest
        sign = -1.0 if self.pair.lower_is_better else 1.0  # Δ: the raw change of val
        change = float(last["improvement"]) * sign
        delta = "—" if np.isnan(change) else f"{change:+.4g}"
        mark = " ✓ NEW BEST" if int(last["step"]) == self.best_step else ""
        return (
            f"Step {int(last['step']):,} | Train: {last['train']:.4g} | Val: {last['val']:.4g} | "
            f"Gap: {last['gap']:+.4g} | Δ: {delta} | Best {self.pair.val}: "
            f"{self.best_value:.4g} at step {self.best_step:,}{mark}"
        )


def _lower_is_better(name: str) -> bool:
    parts = name.lower().replace("-", "_").split("_")
    return any(part in LOWER_IS_BETTER for part in parts)


def val_pairs(columns: Iterable[str]) -> list[TrainValPair]:
    """Every ``val_X`` with a training counterpart ``X`` among ``columns`` (``val_accuracy`` also
    with ``performance``): ``val_loss`` first, then the others by name."""
    names = {str(c) for c in columns}
    pairs: list[TrainValPair] = []
    for val in sorted(names):
        if not val.startswith("val_") or len(val) == 4:
            continue
        base = val[4:]
        train = base if base in names else None
        if train is None and base == "accuracy" and "performance" in names:
            train = "performance"
        if train is not None:
            pairs.append(TrainValPair(train, val, _lower_is_better(base)))
    return sorted(pairs, key=lambda p: (p.val != "val_loss", p.val))


def lr_changes(
    metrics: pd.DataFrame, column: str = "lr", *, min_change: float = 0.05, limit: int = _MAX_MARKS
) -> pd.DataFrame:
    """The learning-rate changes: rows ``step``, ``old``, ``new``, ``label`` where the finite
    ``column`` moved by more than ``min_change`` (relative) from the value before it (so a smooth
    per-step schedule is not a thousand rules; a step decay is), the latest ``limit`` of them."""
    if column not in metrics.columns or metrics.empty:
        return _moves_frame(np.empty(0, np.int64), np.empty(0), np.empty(0), column, limit)
    at, old, new = moves(float_column(metrics, column), min_change)
    steps = metrics["step"].to_numpy(dtype=np.int64)[at]
    return _moves_frame(steps, old, new, column, limit)


def _moves_frame(
    steps: np.ndarray, old: np.ndarray, new: np.ndarray, column: str, limit: int
) -> pd.DataFrame:
    """:func:`lr_changes`' frame of the latest ``limit`` moves."""
    steps, old, new = steps[-limit:], old[-limit:], new[-limit:]
    labels = [
        f"{column} {a:g} → {b:g} at step {s:,}" for a, b, s in zip(old, new, steps, strict=True)
    ]
    return pd.DataFrame(
        {
            "step": steps.astype(np.int64),
            "old": old,
            "new": new,
            "label": pd.Series(labels, dtype="str"),
        }
    )


def _evaluations(
    steps: np.ndarray, tr: np.ndarray, va: np.ndarray, lower_is_better: bool
) -> tuple[pd.DataFrame, int]:
    """One row per evaluation (``step``, ``train``, ``val``, ``gap``, ``improvement``,
    ``new_best``) and the index of the best one (the first of equal bests)."""
    sign = -1.0 if lower_is_better else 1.0
    improvement = np.r_[np.nan, sign * np.diff(va)]
    score = sign * va  # higher = better
    best_before = np.r_[-np.inf, np.maximum.accumulate(score)[:-1]]
    new_best = score > best_before
    best = int(np.argmax(score))  # the first of equal bests
    evals = pd.DataFrame(
        {
            "step": steps,
            "train": tr,
            "val": va,
            "gap": va - tr,
            "improvement": improvement,
            "new_best": new_best,
        }
    )
    return evals, best


def train_val_panel(
    metrics: pd.DataFrame,
    pair: TrainValPair,
    *,
    window: int = 20,
    max_points: int = DEFAULT_MAX_POINTS,
    kept: KeptPanel | None = None,
) -> Panel | None:
    """The panel data of ``pair`` (see :class:`Panel`), None until one evaluation with a finite
    training value at or before it exists. ``kept`` (a :class:`KeptPanel` of ``window`` kept by
    the caller for this run, rank and pair) is extended from the rows appended since its last
    update instead of reading the history."""
    if pair.train not in metrics.columns or pair.val not in metrics.columns or metrics.empty:
        return None
    kept = KeptPanel(window) if kept is None else kept
    keep_up(metrics, pair, kept)
    return panel_of(kept, pair, window=window, max_points=max_points)


def keep_up(metrics: pd.DataFrame, pair: TrainValPair, kept: KeptPanel) -> None:
    """Bring ``kept`` (for ``pair``) to ``metrics`` (which holds both of its columns)."""
    kept.update(
        metrics["step"].to_numpy(dtype=np.int64),
        float_column(metrics, pair.train),
        float_column(metrics, pair.val),
        float_column(metrics, "lr") if "lr" in metrics.columns else None,
    )


def panel_of(
    kept: KeptPanel, pair: TrainValPair, *, window: int = 20, max_points: int = DEFAULT_MAX_POINTS
) -> Panel | None:
    """The panel of ``pair`` from ``kept`` (brought up to date by :func:`keep_up`)."""
    steps, tr, va = kept.evaluations
    if steps.size == 0:
        return None
    evals, best = _evaluations(steps, tr, va, pair.lower_is_better)
    keep = np.union1d(
        downsample(va, max(max_points - _MAX_MARKS - 1, 6)).finite,
        np.r_[best, np.flatnonzero(evals["new_best"].to_numpy())[-_MAX_MARKS:]],
    )
    train = kept.train.points(max_points)
    std = kept.std.points(max((max_points - 2) // 2, 2))
    return Panel(
        pair=pair,
        train=pd.DataFrame({"step": train["step"], "value": train["value"]}),
        stability=pd.DataFrame({"step": std["step"], "std": std["std"]}),
        evals=evals.iloc[keep].reset_index(drop=True),
        lr=_moves_frame(*kept.moves, "lr", _MAX_MARKS),
        best_step=int(steps[best]),
        best_value=float(va[best]),
        evaluations=int(steps.size),
        window=window,
    )


def eval_log(panel: Panel, last: int = 10) -> list[str]:
    """The latest evaluations as lines in the reference's diagnostics-log style:
    ``Step 900: Train=0.6234, Val=0.6421, Gap=+0.0187 ✓ NEW BEST``."""
    rows = panel.evals.tail(last)
    return [
        f"Step {int(s):,}: Train={t:.4g}, Val={v:.4g}, Gap={g:+.4g}" + (" ✓ NEW BEST" if b else "")
        for s, t, v, g, b in zip(
            rows["step"], rows["train"], rows["val"], rows["gap"], rows["new_best"], strict=True
        )
    ]
