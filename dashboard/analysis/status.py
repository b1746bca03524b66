"""Run status (waiting / running / stalled / finished / failed / killed / crashed) and speed: duration, steps/s, ETA."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.analysis.lifecycle import LifecycleKind, process_alive, run_lifecycle
from dashboard.analysis.pyramid import same_prefix
from dashboard.analysis.series import float_column
from dashboard.analysis.units import format_duration
from dashboard.reading.forget import parts
from dashboard.run_state import RunState

__all__ = ["RunStatus", "SpeedInfo", "WallSpan", "run_status", "speed_info"]


@dataclass(frozen=True)
class RunStatus:
    """The run's state for the header badge: ``kind`` and the words to show."""

    kind: LifecycleKind
    text: str


def run_status(
    state: RunState,
    step: int | None,
    *,
    now: float,
    stall_minutes: float = 10.0,
    host: str | None = None,
    pid_alive: Callable[[int], bool] | None = process_alive,
) -> RunStatus:
    """The run's lifecycle as a badge: see :func:`dashboard.analysis.lifecycle.run_lifecycle`
    (``run_end`` says finished / failed / killed; ``total_steps`` reached is finished for older
    loggers; crashed when the logger's process is gone; stalled / running by the newest line's
    age; waiting before any data)."""
    life = run_lifecycle(
        state, step, now=now, stall_minutes=stall_minutes, host=host, pid_alive=pid_alive
    )
    return RunStatus(life.kind, life.text)


@dataclass(frozen=True)
class SpeedInfo:
    """Run duration, recent speed and the time left: an ETA while running with ``total_steps``
    known, ``"done"`` once finished, ``"—"`` otherwise (stalled, waiting, total unknown)."""

    duration: str
    steps_per_s: str
    eta: str


class WallSpan:
    """``np.nanmin`` / ``np.nanmax`` of a growing ``wall_time`` column and whether it holds a
    finite value, extended from the appended rows when the new column starts with the old one
    (else scanned afresh). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: np.ndarray = np.empty(0)
        self._span = (math.nan, math.nan, False)

    def update(self, wall: np.ndarray) -> tuple[float, float, bool]:
        """(nanmin, nanmax, any finite) of ``wall``."""
        with self._lock:
            start = self._values.size if same_prefix(self._values, wall) else 0
            lo, hi, known = self._span if start else (math.nan, math.nan, False)
            for end in parts(start, wall.size, wall):  # a long read: pages given back
                new = wall[start:end]
                new, start = new[~np.isnan(new)], end
                if new.size:
                    low, high = float(new.min()), float(new.max())
                    lo, hi = (low, high) if math.isnan(lo) else (min(lo, low), max(hi, high))
                    known = known or bool(np.isfinite(new).any())
            self._values, self._span = wall, (lo, hi, known)
            return self._span


def speed_info(
    state: RunState,
    metrics: pd.DataFrame,
    *,
    window: int = 200,
    status: str = "running",
    span: WallSpan | None = None,
) -> SpeedInfo:
    """Duration from the first to the newest line, speed over the last ``window`` metric rows;
    ``status`` is the :class:`RunStatus` kind (no ETA unless ``"running"``).

    Lines without ``wall_time`` (older Thalia logs) take their times from when the reader saw
    them (``state.activity``: the log file's mtime and the step then), so a live legacy run
    has a duration (since the first sample: the dashboard cannot know more), speed and ETA.
    ``span`` (kept by the caller for one run and rank) extends the first and newest wall time
    from the appended rows instead of scanning the column."""
    if metrics.empty:
        return SpeedInfo("—", "—", "done" if status == "finished" else "—")
    wall = (
        float_column(metrics, "wall_time")
        if "wall_time" in metrics.columns
        else np.full(len(metrics), np.nan)
    )
    step = metrics["step"].to_numpy(dtype=np.int64)
    first, newest, known = (span or WallSpan()).update(wall)
    if not known and state.activity:
        return _speed_from_activity(state, int(step[-1]), window=window, status=status)
    duration = format_duration(newest - first) if known else "—"
    tail_w, tail_s = wall[-window:], step[-window:]
    rate = math.nan
    if tail_w.size >= 2 and math.isfinite(tail_w[0]) and tail_w[-1] > tail_w[0]:
        rate = float(tail_s[-1] - tail_s[0]) / float(tail_w[-1] - tail_w[0])
    total = (state.metadata or {}).get("total_steps")
    eta = "done" if status == "finished" else "—"
    if status == "running" and isinstance(total, int | float) and rate > 0:
        eta = format_duration(max(0.0, float(total) - float(step[-1])) / rate)
    return SpeedInfo(duration, f"{rate:,.1f}" if math.isfinite(rate) else "—", eta)


def _speed_from_activity(state: RunState, last_step: int, *, window: int, status: str) -> SpeedInfo:
    times = np.array([t for t, _ in state.activity], dtype=np.float64)
    steps = np.array([s for _, s in state.activity], dtype=np.float64)
    newest = max(float(times.max()), state.last_update or -math.inf)
    span = newest - float(times.min())
    duration = format_duration(span) if span > 0 else "—"
    tail_t, tail_s = times[-window:], steps[-window:]
    rate = math.nan
    if tail_t.size >= 2 and tail_t[-1] > tail_t[0]:
        rate = float(tail_s[-1] - tail_s[0]) / float(tail_t[-1] - tail_t[0])
    total = (state.metadata or {}).get("total_steps")
    eta = "done" if status == "finished" else "—"
    if (
        status == "running"
        and isinstance(total, int | float)
        and not isinstance(total, bool)
        and rate > 0
        and math.isfinite(float(total))
    ):
        eta = format_duration(max(0.0, float(total) - float(last_step)) / rate)
    return SpeedInfo(duration, f"{rate:,.1f}" if math.isfinite(rate) else "—", eta)
