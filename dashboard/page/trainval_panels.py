"""The train/validation section of the run page: a thin Streamlit shell over
:mod:`dashboard.analysis.trainval` and :mod:`dashboard.page.charts_trainval`.

Shown only when the run logs a validation counterpart (``val_loss``, ``val_accuracy``, any
``val_X`` next to ``X``): one panel per pair, picked with a radio (only the picked pair's
charts are built and sent, where tabs sent every pair's), with the reference's summary line, the 2×2 grid
(train vs val, generalisation gap, improvement per evaluation, stability), the learning-rate
changes and the latest evaluations as a diagnostics log (in a closed expander). Metric names
and values from the run go through :mod:`dashboard.page.text` (``md_text`` for captions and the
radio's labels, ``plain`` for ``st.text``). Panel data is kept per (directory, state version, rank, frame shape): an idle
refresh redraws without recomputing anything, and sends the panel's charts as kept specs
(:mod:`dashboard.page.chart_specs`) without building them again; a live one extends each pair's
:class:`~dashboard.analysis.trainval_kept.KeptPanel` from the appended rows.
"""

from __future__ import annotations

import threading
from functools import partial

import pandas as pd
import streamlit as st

from dashboard.analysis.trainval import (
    Panel,
    TrainValPair,
    eval_log,
    keep_up,
    panel_of,
    val_pairs,
)
from dashboard.analysis.trainval_kept import KeptPanel
from dashboard.page import chart_specs, charts_trainval
from dashboard.page.text import md_text, plain
from dashboard.run_state import RunState

__all__ = ["MAX_PAIRS", "train_val_panels"]

MAX_PAIRS = 6  # panels at most (val_loss first); more are named in a caption
_LOG_LINES = 10
_LR_SHOWN = 5
_LOCK = threading.Lock()
_CACHE: dict[tuple[object, ...], tuple[list[Panel], int]] = {}
_KEPT: dict[tuple[str, int, TrainValPair], KeptPanel] = {}


def _kept(directory: str, rank: int, pair: TrainValPair) -> KeptPanel:
    """The pair's panel data kept across refreshes (extended from the appended rows)."""
    with _LOCK:
        kept = _KEPT.get((directory, rank, pair))
        if kept is None:
            while len(_KEPT) >= 32:
                _KEPT.pop(next(iter(_KEPT)))
            kept = _KEPT[(directory, rank, pair)] = KeptPanel()
    return kept


def _panels(
    state: RunState, metrics: pd.DataFrame, rank: int
) -> tuple[list[Panel], int, tuple[object, ...]]:
    """The panels of the first :data:`MAX_PAIRS` pairs with a validation value logged, how many
    pairs have one, and the key of this data (computed once per state version)."""
    key = (str(state.checkpoint_dir), state.version, rank, metrics.shape)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        panels, total = [], 0
        for pair in val_pairs(metrics.columns):
            kept = _kept(str(state.checkpoint_dir), rank, pair)
            with kept.lock:
                keep_up(metrics, pair, kept)
                total += kept.val_logged
                panel = panel_of(kept, pair) if kept.val_logged and total <= MAX_PAIRS else None
            if panel is not None:
                panels.append(panel)
        cached = (panels, total)
        with _LOCK:
            while len(_CACHE) >= 8:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = cached
    return cached[0], cached[1], key


_CHARTS = (
    charts_trainval.train_val_chart,
    charts_trainval.improvement_chart,
    charts_trainval.gap_chart,
    charts_trainval.stability_chart,
)


def _panel(panel: Panel, key: tuple[object, ...]) -> None:
    """One pair's panel; its four charts kept as specs per ``key`` (the panels' data identity),
    so a refresh with nothing new sends the same specs without building them again."""
    st.caption(md_text(panel.summary()))
    cells = [*st.columns(2), *st.columns(2)]  # 2×2: train vs val, improvement; gap, stability
    for cell, build in zip(cells, _CHARTS, strict=True):
        spec = chart_specs.chart_spec(
            (*key, "trainval", panel.pair.val, build.__name__), partial(build, panel)
        )
        if spec is not None:
            chart_specs.draw(spec, cell)
    if not panel.lr.empty:
        labels = panel.lr["label"].tolist()
        more = f" ({len(labels) - _LR_SHOWN} earlier)" if len(labels) > _LR_SHOWN else ""
        st.caption(md_text("Learning-rate changes" + more + ": " + "; ".join(labels[-_LR_SHOWN:])))
    with st.expander(
        f"Latest evaluations ({min(panel.evaluations, _LOG_LINES)} of {panel.evaluations:,})"
    ):
        st.text(plain("\n".join(eval_log(panel, _LOG_LINES))))


def train_val_panels(state: RunState, metrics: pd.DataFrame, *, rank: int = 0) -> None:
    """Draw the section (nothing at all when the run logs no validation counterpart)."""
    if metrics.empty:
        return
    panels, total, key = _panels(state, metrics, rank)
    if not panels:
        return
    st.subheader("Train / validation")
    if total > len(panels):
        st.caption(f"{len(panels)} of {total} validation metrics shown.")
    if len(panels) == 1:
        _panel(panels[0], key)
        return
    labels = [p.pair.label for p in panels]
    picked = st.radio(
        "Validation metric",
        labels,
        format_func=md_text,
        horizontal=True,
        key="trainval_pair",
        label_visibility="collapsed",
    )
    _panel(panels[labels.index(picked) if picked in labels else 0], key)
