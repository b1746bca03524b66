"""Runs side by side (pure): stable colours, x axes (stage-aligned too), overlay series,
growth per region, consolidation counts and the milestone matrix.

X axes (:data:`X_AXES`): ``step``; ``wall`` (the logged ``wall_time``); ``relative`` (hours since
the run's first logged ``wall_time``); ``stage`` (steps since the start of the row's curriculum
stage, so stage k of run A lies over stage k of run B). A row's stage is its ``stage`` metric
column when the trainer logs one, else the last ``stage`` event at or before its step (rows before
the first event are stage 0: a run starts in its first stage); a stage starts at its first row's
step. Rows without a wall time (or one outside :data:`MAX_WALL_TIME`) have no ``wall`` /
``relative`` position and are left out; a logged ``stage`` that is not a whole number counts as
not logged on that row.

Series are smoothed at full resolution (TensorBoard's debiased EMA,
:func:`~dashboard.analysis.smoothing.ema`) and then down-sampled keeping spikes and non-finite
points (:func:`~dashboard.analysis.downsample.downsample`), as on the run page.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from dashboard.analysis.downsample import DEFAULT_MAX_POINTS, downsample
from dashboard.analysis.smoothing import ema
from dashboard.reading.overview import Checkpoint
from dashboard.run_state import RunState

__all__ = [
    "MAX_STAGE",
    "MAX_WALL_TIME",
    "PALETTE",
    "X_AXES",
    "XAxis",
    "consolidation_table",
    "growth_table",
    "milestone_matrix",
    "overlay_frame",
    "row_stages",
    "run_colour",
    "x_values",
]

XAxis = Literal["step", "wall", "relative", "stage"]
X_AXES: dict[XAxis, str] = {
    "step": "Step",
    "wall": "Wall time",
    "relative": "Hours since start",
    "stage": "Step within stage",
}
#: wall times from 1970 up to the last second a datetime axis can show (pandas' ns range, 2262):
#: one outside it (1e300, a negative clock) has no position on the wall / relative axes
MAX_WALL_TIME = 9_223_372_036.0
#: the largest stage number taken from a ``stage`` metric column (exact in a float)
MAX_STAGE = 2**53

#: Tableau 20: distinct, readable on white; a run keeps its colour on every page and refresh
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip


def run_colour(name: str) -> str:
    """The colour of run ``name``: a hash of the name (not its position in a list)."""
    return PALETTE[zlib.crc32(name.encode("utf-8", "replace")) % len(PALETTE)]


def row_stages(state: RunState, metrics: pd.DataFrame) -> np.ndarray:
    """The curriculum stage of each row of ``metrics`` (int64; see the module docstring)."""
    steps = metrics["step"].to_numpy(dtype=np.int64)
    if "stage" in metrics.columns:
        logged = metrics["stage"].to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(logged) & (np.abs(logged) <= MAX_STAGE)
        whole[whole] = logged[whole] == np.floor(logged[whole])
        if whole.any():  # a stage that is no whole number (NaN, 1e300, 2.5) is no stage
            filled = pd.Series(np.where(whole, logged, np.nan)).ffill().fillna(0.0).to_numpy()
            return filled.astype(np.int64)
    events = state.stage_events
    if events.empty:
        return np.zeros(len(steps), dtype=np.int64)
    event_steps = events["step"].to_numpy(dtype=np.int64)
    stages = events["stage"].to_numpy(dtype=np.int64)
    at = np.searchsorted(event_steps, steps, side="right") - 1
    return np.where(at >= 0, stages[np.clip(at, 0, None)], 0).astype(np.int64)


def x_values(state: RunState, metrics: pd.DataFrame, axis: XAxis) -> np.ndarray:
    """The x position of each row of ``metrics`` on ``axis`` (float64; NaN: no position)."""
    steps = metrics["step"].to_numpy(dtype=np.float64)
    if axis == "step":
        return steps
    if axis == "stage":
        stages = row_stages(state, metrics)
        start = pd.Series(steps).groupby(stages).transform("min").to_numpy()
        return steps - start
    wall = (
        metrics["wall_time"].to_numpy(dtype=np.float64, na_value=np.nan)
        if "wall_time" in metrics.columns
        else np.full(len(steps), np.nan)
    )
    wall = np.where((wall >= 0) & (wall < MAX_WALL_TIME), wall, np.nan)  # NaN stays NaN
    if axis == "wall":
        return wall
    finite = wall[np.isfinite(wall)]
    return (wall - finite.min()) / 3600.0 if finite.size else wall


def overlay_frame(
    runs: Sequence[tuple[str, RunState, pd.DataFrame]],
    metric: str,
    axis: XAxis,
    *,
    stage: int | None = None,
    smoothing: float = 0.0,
    max_points: int = DEFAULT_MAX_POINTS,
) -> pd.DataFrame:
    """Long frame ``run, x, step, value, raw`` of ``metric`` for each ``(name, state, rows)``:
    on ``axis`` (only the rows of ``stage`` when given), smoothed, down-sampled per run to
    ``max_points`` (non-finite points kept with ``value`` NaN/inf for markers)."""
    parts = []
    budget = max(6, max_points // max(1, len(runs)))
    for name, state, metrics in runs:
        if metric not in metrics.columns or metrics.empty:
            continue
        x = x_values(state, metrics, axis)
        keep = ~np.isnan(x)
        if stage is not None:
            keep &= row_stages(state, metrics) == stage
        raw = metrics[metric].to_numpy(dtype=np.float64, na_value=np.nan)[keep]
        steps = metrics["step"].to_numpy(dtype=np.int64)[keep]
        x = x[keep]
        if not raw.size:
            continue
        value = ema(raw, smoothing) if smoothing > 0 else raw
        picked = downsample(value, budget)
        pos = np.union1d(picked.finite, picked.nonfinite)
        parts.append(
            pd.DataFrame(
                {"run": name, "x": x[pos], "step": steps[pos], "value": value[pos], "raw": raw[pos]}
            )
        )
    if not parts:
        return pd.DataFrame({"run": [], "x": [], "step": [], "value": [], "raw": []})
    return pd.concat(parts, ignore_index=True)


def growth_table(states: Mapping[str, RunState]) -> pd.DataFrame:
    """Neurons added per region (rows) and run (columns); 0 where a run never grew a region."""
    columns = {}
    for name, state in states.items():
        growth = state.growth_events
        columns[name] = growth.groupby("region")["neurons_added"].sum() if len(growth) else None
    present = {k: v for k, v in columns.items() if v is not None}
    if not present:
        return pd.DataFrame()
    frame = pd.DataFrame(present).fillna(0).astype(np.int64)
    return frame.reindex(columns=list(states), fill_value=0).sort_index()


def consolidation_table(states: Mapping[str, RunState]) -> pd.DataFrame:
    """Per run: consolidation events (NREM, REM, all) and patterns replayed."""
    rows = []
    for name, state in states.items():
        events = state.consolidation_events
        stages = events["sleep_stage"].astype(str) if len(events) else pd.Series([], dtype=str)
        rows.append(
            {
                "run": name,
                "NREM": int((stages == "NREM").sum()),
                "REM": int((stages == "REM").sum()),
                "events": len(events),
                "patterns replayed": int(events["patterns_replayed"].sum()) if len(events) else 0,
            }
        )
    return pd.DataFrame(rows)


def milestone_matrix(checkpoints: Mapping[str, Sequence[Checkpoint]]) -> pd.DataFrame:
    """Runs (rows) × milestones (columns): ``"✅ step N"`` at the first checkpoint that marked it
    passed, ``"❌"`` when the latest one says not passed, ``""`` when a run never mentions it."""
    table: dict[str, dict[str, str]] = {}
    for name, history in checkpoints.items():
        row: dict[str, str] = {}
        for checkpoint in sorted(history, key=lambda c: c.step):
            for milestone, passed in checkpoint.milestones.items():
                if passed is True and not row.get(milestone, "").startswith("✅"):
                    row[milestone] = f"✅ step {checkpoint.step:,}"
                elif passed is not True:
                    row[milestone] = "❌"
        table[name] = row
    return pd.DataFrame.from_dict(table, orient="index").fillna("")
