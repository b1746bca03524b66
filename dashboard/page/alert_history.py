"""The run page's alert history: past alarms (started, resolved, step and time), not only the
active ones, from the same state machine as thalia-watch (:mod:`dashboard.analysis.alarms`).

One :class:`~dashboard.analysis.alarms.AlarmLog` per checkpoint directory lives in
``st.cache_resource`` (shared by every browser session of this server, like the watcher); each
page run feeds it the warnings it shows. Feeding the same warnings twice changes nothing, so
concurrent sessions only need the lock. The history therefore starts when this page server
started watching the run (thalia-watch keeps its own, across restarts, in its state file).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import streamlit as st

from dashboard.analysis.alarms import AlarmLog, PastAlarm
from dashboard.analysis.lifecycle import Lifecycle
from dashboard.page.text import path_key, plain
from dashboard.run_state import HealthWarning

__all__ = ["alarm_log", "section", "update"]

_SCROLL_AFTER = 12  # lines: a longer history scrolls inside a box this many pixels high
_HISTORY_HEIGHT = 320


class _Held:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log = AlarmLog()


@st.cache_resource(show_spinner=False, max_entries=16)
def _held(directory: str) -> _Held:
    return _Held()


def alarm_log(directory: str) -> AlarmLog:
    """The alarm log of ``directory`` held by this server."""
    return _held(path_key(directory)).log


def update(
    directory: str, warnings: Sequence[HealthWarning], *, step: int | None, now: float
) -> AlarmLog:
    held = _held(path_key(directory))
    with held.lock:
        held.log.update(warnings, step=step, now=now)
    return held.log


def _when(t: float | None) -> str:
    return "—" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _step(s: int | None) -> str:
    return "—" if s is None else f"{s:,}"


def section(log: AlarmLog, life: Lifecycle | None = None) -> None:
    """The lifecycle line and a table of every alarm seen, newest first."""
    st.subheader("Alert history")
    if life is not None:
        st.text(f"Run status: {plain(life.text)}")
    if not log.history:
        st.caption("No alarm so far.")
        return
    # plain text lines (the one safe path for run text; st.table would render Markdown), in one
    # element: up to max_history (500) episodes cost one element per refresh, not one each, and
    # an unchanged history goes to the browser as a cached reference
    lines = [_line(p) for p in reversed(log.history)]
    box = st.container(height=_HISTORY_HEIGHT) if len(lines) > _SCROLL_AFTER else st.container()
    box.text("\n".join(lines))


def _line(p: PastAlarm) -> str:
    started = f"started at step {_step(p.started_step)}, {_when(p.started_at)}"
    ended = (
        "active"
        if p.resolved_at is None
        else f"resolved at step {_step(p.resolved_step)}, {_when(p.resolved_at)}"
    )
    return f"[{plain(p.severity)}] {plain(p.key)}: {started}; {ended}. {plain(p.message)}"
