"""Where a run is in its life: waiting, running, stalled, finished, failed, killed or crashed.

Pure, except the one seam that asks whether a process is alive (``pid_alive``, defaulting to
:func:`process_alive`) and the host name (``host``); tests pass both.

Rules, first match wins (the *current logger* is the latest ``run_start``, rank 0 preferred;
a ``run_end`` counts only when written at or after it, so a resumed run is live again):

==========  ==================================================================================
kind        when
==========  ==================================================================================
finished    a ``run_end`` with status ``finished``; or (no ``run_end``) the metadata's
            ``total_steps`` reached (older loggers write no ``run_end``)
failed      a ``run_end`` with status ``failed`` (``error_type``, ``message`` shown)
killed      a ``run_end`` with status ``killed`` (SIGTERM/SIGINT)
waiting     no data yet
crashed     the ``run_start`` recorded ``host`` and ``pid``, this is that host and the pid is
            gone: at once
crashed     a logger that writes ``run_end`` (its ``run_start`` recorded ``host``, contract
            version 2) and no new line for more than ``stall_minutes``, unless its process is
            seen alive on this host (then: stalled)
stalled     no new line for more than ``stall_minutes`` (older loggers: no ``run_end`` is
            ever written, so silence cannot tell a crash)
running     otherwise
==========  ==================================================================================
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from dashboard.analysis.units import format_age
from dashboard.run_state import RunState
from thalia_logging.contract import RUN_END_STATUSES

__all__ = [
    "ENDED",
    "LIFECYCLE_KINDS",
    "Lifecycle",
    "LifecycleKind",
    "process_alive",
    "run_lifecycle",
]

LifecycleKind = Literal["waiting", "running", "stalled", "finished", "failed", "killed", "crashed"]
LIFECYCLE_KINDS: tuple[LifecycleKind, ...] = (
    "waiting",
    "running",
    "stalled",
    "finished",
    "failed",
    "killed",
    "crashed",
)
#: kinds after which the run writes nothing more (until a new logger opens)
ENDED: frozenset[str] = frozenset(("finished", "failed", "killed", "crashed"))


@dataclass(frozen=True)
class Lifecycle:
    """The run's lifecycle: ``kind``, the words to show, and what the ``run_end`` said.

    ``step`` / ``wall_time`` are the ``run_end``'s (None without one); ``error_type`` and
    ``message`` are "" unless the run failed or was killed."""

    kind: LifecycleKind
    text: str
    step: int | None = None
    wall_time: float | None = None
    error_type: str = ""
    message: str = ""

    @property
    def ended(self) -> bool:
        return self.kind in ENDED


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2 :][:1] not in (b"Z", b"X")
    except OSError:
        return True


def _latest(frame: pd.DataFrame) -> pd.Series | None:
    if frame.empty:
        return None
    if "rank" in frame.columns and (frame["rank"] == 0).any():
        frame = frame[frame["rank"] == 0]
    order = frame["wall_time"].fillna(-math.inf).to_numpy().argsort(kind="stable")
    return frame.iloc[int(order[-1])]


def _ended(end: pd.Series) -> Lifecycle:
    """The :class:`Lifecycle` a ``run_end`` record says (finished, failed or killed)."""
    kind = str(end["status"])
    error_type, message = str(end.get("error_type", "")), str(end.get("message", ""))
    text = kind
    if kind == "failed":
        text = f"failed: {error_type}: {message}" if error_type else f"failed: {message}"
    elif kind == "killed":
        text = f"killed ({message})" if message else "killed"
    return Lifecycle(
        kind if kind in RUN_END_STATUSES else "finished",  # type: ignore[arg-type]
        text.rstrip(": "),
        int(end["step"]),
        float(end["wall_time"]),
        error_type,
        message,
    )


def _reached_total(state: RunState, step: int | None) -> bool:
    """Whether ``step`` reached the metadata's ``total_steps`` (older loggers: no ``run_end``)."""
    total = (state.metadata or {}).get("total_steps")
    return (
        isinstance(total, int | float)
        and not isinstance(total, bool)
        and step is not None
        and total > 0
        and step >= total - 1
    )


def run_lifecycle(
    state: RunState,
    step: int | None,
    *,
    now: float,
    stall_minutes: float = 10.0,
    host: str | None = None,
    pid_alive: Callable[[int], bool] | None = process_alive,
) -> Lifecycle:
    """The run's :class:`Lifecycle` (rules in the module docstring). ``step`` is the run's
    latest step (metric or metadata), for the ``total_steps`` rule; ``host`` defaults to this
    machine's name; ``pid_alive=None`` turns the process check off."""
    start = _latest(state.run_starts)
    end = _latest(state.run_ends)
    if (
        end is not None
        and start is not None
        and (float(end["wall_time"]) < float(start["wall_time"]))
    ):  # a logger opened since
        end = None
    if end is not None:
        return _ended(end)
    if _reached_total(state, step):
        return Lifecycle("finished", "finished")
    if state.last_update is None:
        return Lifecycle("waiting", "waiting for data")
    writes_end = start is not None and bool(start.get("host", ""))
    alive: bool | None = None
    if writes_end and start is not None and pid_alive is not None:
        pid = start.get("pid", math.nan)
        here = socket.gethostname() if host is None else host
        if str(start["host"]) == here and isinstance(pid, float) and math.isfinite(pid):
            alive = pid_alive(int(pid))
            if not alive:
                return Lifecycle("crashed", f"crashed (process {int(pid)} is gone, no run_end)")
    idle = max(0.0, now - state.last_update)
    if idle > stall_minutes * 60:
        quiet = format_age(idle).removesuffix(" ago")
        if writes_end and not alive:
            return Lifecycle("crashed", f"crashed (no run_end, no new data for {quiet})")
        return Lifecycle("stalled", f"stalled for {quiet}")
    return Lifecycle("running", "running")
