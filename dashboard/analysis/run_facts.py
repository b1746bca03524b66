"""The facts of one page refresh, computed once and handed to every section that needs them.

The latest step, the run status (waiting / running / stalled / finished), the speed and the
alerts all depend on the same snapshot and the same ``now``; :func:`run_facts` computes each
exactly once per refresh (the header badge, the stall alert and the ETA agree because they are
the same value), so no section computes them again. The health rules that depend on the snapshot
alone are kept per snapshot (:data:`HEALTH_MEMO`): refreshes with nothing new reuse them; the
loss segment (:mod:`dashboard.analysis.loss_segment`) and the wall-time span
(:class:`~dashboard.analysis.status.WallSpan`) are kept per run and rank, extended from the rows
appended since the last refresh.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pandas as pd

from dashboard.analysis.health import check_health
from dashboard.analysis.memo import SnapshotMemo
from dashboard.analysis.series import latest_step
from dashboard.analysis.status import RunStatus, SpeedInfo, WallSpan, run_status, speed_info
from dashboard.analysis.thresholds import DEFAULT_THRESHOLDS, HealthThresholds
from dashboard.run_state import HealthWarning, RunState

__all__ = ["HEALTH_MEMO", "RunFacts", "run_facts"]

#: the health rules' verdicts per snapshot (every refresh of an unchanged run reuses them)
HEALTH_MEMO: SnapshotMemo[tuple[tuple[HealthWarning, ...], ...]] = SnapshotMemo(8)


_SPANS: dict[tuple[str, int], WallSpan] = {}
_SPANS_LOCK = threading.Lock()


def _span(state: RunState, rank: int) -> WallSpan:
    """The wall-time span kept for one run and rank (extended from appended rows)."""
    with _SPANS_LOCK:
        key = (str(state.checkpoint_dir), rank)
        found = _SPANS.get(key)
        if found is None:
            while len(_SPANS) >= 16:
                _SPANS.pop(next(iter(_SPANS)))
            found = _SPANS[key] = WallSpan()
        return found


@dataclass(frozen=True)
class RunFacts:
    """What one refresh knows about the run (one rank's metric rows).

    ``step`` is the latest step (metric rows or checkpoint metadata, whichever is higher),
    ``alerts`` the health checks' warnings (critical first) followed by the metadata's own."""

    step: int | None
    status: RunStatus
    speed: SpeedInfo
    alerts: tuple[HealthWarning, ...]


def run_facts(
    state: RunState,
    metrics: pd.DataFrame,
    *,
    now: float,
    rank: int = 0,
    thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
) -> RunFacts:
    """The facts of ``state`` at ``now`` for ``metrics``, the metric rows of ``rank``."""
    step = latest_step(metrics, state.metadata)
    status = run_status(state, step, now=now, stall_minutes=thresholds.stall_minutes)
    speed = speed_info(state, metrics, status=status.kind, span=_span(state, rank))
    health = check_health(
        state, now=now, thresholds=thresholds, rank=rank, status=status, memo=HEALTH_MEMO
    )
    return RunFacts(step, status, speed, (*health, *state.warnings))
