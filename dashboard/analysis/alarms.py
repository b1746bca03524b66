"""Alarms: the health warnings of one run over time, as a pure state machine.

An *alarm* is a warning that is active, keyed by :func:`alarm_key` (the warning's stable
``check`` id, so a message whose numbers change is the same alarm). :func:`advance` takes the
active alarms and the warnings seen now and returns the new active alarms and the events:

===========  =====================================================================
event        when
===========  =====================================================================
started      a key not active before is warned about now
escalated    an active key's severity rose (warning -> critical)
deescalated  an active key's severity fell (critical -> warning)
resolved     an active key is not warned about any more
===========  =====================================================================

Nothing is emitted while an alarm stays at its severity (fire on state change only).
:func:`project` maps an event onto a channel's minimum severity (an escalation across the
minimum is a start there, a de-escalation below it a resolution), and :class:`AlarmLog` keeps the
active alarms plus the history of past ones (started, resolved, step and time), for the page
and for ``thalia-watch``'s state file (``to_json`` / ``from_json``). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from dashboard.run_state import HealthWarning, Severity

__all__ = [
    "SEVERITY_RANK",
    "Alarm",
    "AlarmEvent",
    "AlarmLog",
    "EventKind",
    "PastAlarm",
    "advance",
    "alarm_key",
    "project",
]

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
EventKind = Literal["started", "escalated", "deescalated", "resolved"]


def alarm_key(warning: HealthWarning) -> str:
    """The stable id of what ``warning`` is about: its ``check``, else source and text."""
    return warning.check or f"{warning.source}:{warning.message}"


@dataclass(frozen=True)
class Alarm:
    """An active alarm: its key, current severity and message, and when it started."""

    key: str
    severity: Severity
    message: str
    started_step: int | None
    started_at: float


@dataclass(frozen=True)
class AlarmEvent:
    """A change of one alarm. ``severity`` is the new one (for ``resolved``: the last one),
    ``previous`` the one before (None for ``started``)."""

    kind: EventKind
    key: str
    severity: Severity
    previous: Severity | None
    message: str
    step: int | None
    time: float


def advance(
    active: Mapping[str, Alarm],
    warnings: Iterable[HealthWarning],
    *,
    step: int | None,
    now: float,
) -> tuple[dict[str, Alarm], list[AlarmEvent]]:
    """The new active alarms and the events from ``active`` to what ``warnings`` say now.

    Several warnings with one key count as one alarm at their highest severity."""
    current: dict[str, HealthWarning] = {}
    for w in warnings:
        key = alarm_key(w)
        seen = current.get(key)
        if seen is None or SEVERITY_RANK[w.severity] > SEVERITY_RANK[seen.severity]:
            current[key] = w
    out: dict[str, Alarm] = {}
    events: list[AlarmEvent] = []
    for key, w in current.items():
        old = active.get(key)
        if old is None:
            out[key] = Alarm(key, w.severity, w.message, step, now)
            events.append(AlarmEvent("started", key, w.severity, None, w.message, step, now))
            continue
        out[key] = replace(old, severity=w.severity, message=w.message)
        diff = SEVERITY_RANK[w.severity] - SEVERITY_RANK[old.severity]
        if diff:
            kind: EventKind = "escalated" if diff > 0 else "deescalated"
            events.append(AlarmEvent(kind, key, w.severity, old.severity, w.message, step, now))
    for key, old in active.items():
        if key not in current:
            events.append(
                AlarmEvent("resolved", key, old.severity, old.severity, old.message, step, now)
            )
    return out, events


def project(event: AlarmEvent, min_severity: Severity) -> AlarmEvent | None:
    """``event`` as a channel that only hears alarms at ``min_severity`` or above sees it."""
    floor = SEVERITY_RANK[min_severity]
    new_on = SEVERITY_RANK[event.severity] >= floor
    old_on = event.previous is not None and SEVERITY_RANK[event.previous] >= floor
    if event.kind == "started":
        return event if new_on else None
    if event.kind == "resolved":
        return event if old_on else None
    if old_on and new_on:
        return event
    if new_on:  # escalated across the floor: news there
        return replace(event, kind="started", previous=None)
    if old_on:  # de-escalated below the floor: over there
        return replace(event, kind="resolved", severity=event.previous or event.severity)
    return None


@dataclass(frozen=True)
class PastAlarm:
    """One alarm's life: the highest severity it reached, its last message, when it started
    and when it resolved (None while active)."""

    key: str
    severity: Severity
    message: str
    started_step: int | None
    started_at: float
    resolved_step: int | None = None
    resolved_at: float | None = None


class AlarmLog:
    """Active alarms and their history for one run; :meth:`update` feeds it a poll's warnings.

    ``max_history`` bounds the past alarms kept (oldest dropped first)."""

    def __init__(self, *, max_history: int = 500) -> None:
        self.active: dict[str, Alarm] = {}
        self.history: list[PastAlarm] = []
        self.max_history = max_history

    def update(
        self, warnings: Iterable[HealthWarning], *, step: int | None, now: float
    ) -> list[AlarmEvent]:
        self.active, events = advance(self.active, warnings, step=step, now=now)
        for e in events:
            if e.kind == "started":
                self.history.append(PastAlarm(e.key, e.severity, e.message, e.step, e.time))
                continue
            i = self._open_index(e.key)
            if i is None:
                continue
            past = self.history[i]
            if e.kind == "resolved":
                self.history[i] = replace(past, resolved_step=e.step, resolved_at=e.time)
            else:
                worst = max(past.severity, e.severity, key=SEVERITY_RANK.__getitem__)
                self.history[i] = replace(past, severity=worst, message=e.message)
        del self.history[: max(0, len(self.history) - self.max_history)]
        return events

    def _open_index(self, key: str) -> int | None:
        for i in range(len(self.history) - 1, -1, -1):
            if self.history[i].key == key and self.history[i].resolved_at is None:
                return i
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "active": [asdict(a) for a in self.active.values()],
            "history": [asdict(p) for p in self.history],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, max_history: int = 500) -> AlarmLog:
        """Rebuild a log from :meth:`to_json`'s output; raises ``ValueError`` if malformed."""
        log = cls(max_history=max_history)
        try:
            for a in data.get("active", []):
                alarm = Alarm(**a)
                _check_severity(alarm.severity)
                log.active[alarm.key] = alarm
            for p in data.get("history", []):
                past = PastAlarm(**p)
                _check_severity(past.severity)
                log.history.append(past)
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"malformed alarm state: {exc}") from None
        return log


def _check_severity(value: object) -> None:
    if value not in SEVERITY_RANK:
        raise ValueError(f"malformed alarm state: unknown severity {value!r}")
