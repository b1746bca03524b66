"""The notifier side of thalia-watch: messages, apprise channels with their queue and backoff,
and the texts of alarm and lifecycle messages. No Streamlit, no reading.

- :class:`Message` — one notification (title, body, apprise notify type)
- :class:`Channel` — one apprise URL with its minimum severity, its queue of unsent messages and
  exponential backoff (5 s doubling to 10 min; said on stderr once per failure streak)
- :func:`default_send` — send through apprise (imported when the first message goes out)
- :func:`alarm_message` / :func:`lifecycle_message` — the texts :mod:`dashboard.commands.watch`
  queues
- :func:`parse_urls` — ``--notify`` arguments as (URL, minimum severity)
- :func:`redact` — a URL as stderr may show it (never its secrets)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dashboard.analysis.alarms import SEVERITY_RANK, AlarmEvent
from dashboard.analysis.lifecycle import Lifecycle
from dashboard.run_state import Severity

__all__ = [
    "Channel",
    "Message",
    "alarm_message",
    "default_send",
    "lifecycle_message",
    "parse_urls",
    "redact",
]

_LIFECYCLE_SEVERITY = {
    "finished": "info",
    "killed": "warning",
    "failed": "critical",
    "crashed": "critical",
}


@dataclass
class Message:
    """One notification: title, body and apprise's notify type."""

    title: str
    body: str
    notify_type: str  # apprise's: info, success, warning, failure


def default_send(url: str, message: Message) -> bool:
    """Send ``message`` to ``url`` through apprise; False when the service refused it."""
    import apprise  # the alerts extra; imported when the first message goes out

    app = apprise.Apprise()
    if not app.add(url):
        raise ValueError(f"apprise does not understand the URL {redact(url)}")
    return bool(app.notify(body=message.body, title=message.title, notify_type=message.notify_type))


def redact(url: str) -> str:
    """``url`` cut after 24 characters of its address (URLs carry tokens and passwords)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest[:24]}…" if len(rest) > 24 else url


class Channel:
    """One apprise URL with its minimum severity, its queue of unsent messages and its backoff."""

    def __init__(
        self, url: str, min_severity: Severity, send: Callable[[str, Message], bool]
    ) -> None:
        self.url, self.min_severity, self._send = url, min_severity, send
        self.id = hashlib.sha256(url.encode()).hexdigest()[:16]  # never the URL (secrets)
        self.queue: list[Message] = []
        self.failures = 0
        self.next_try = 0.0

    def deliver(self, now: float, err: Callable[[str], None]) -> None:
        """Send the queued messages in order; stop at the first failure and back off."""
        if not self.queue or now < self.next_try:
            return
        while self.queue:
            try:
                ok = self._send(self.url, self.queue[0])
            except Exception as exc:
                ok, why = False, f"{type(exc).__name__}: {exc}"
            else:
                why = "the service refused or could not be reached"
            if not ok:
                self.failures += 1
                delay = min(600.0, 5.0 * 2 ** (self.failures - 1))
                self.next_try = now + delay
                if self.failures == 1 or self.failures % 10 == 0:
                    err(
                        f"thalia-watch: cannot send to {redact(self.url)} ({why}); "
                        f"{len(self.queue)} message(s) kept, retrying in {delay:.0f} s"
                    )
                return
            self.queue.pop(0)
            if self.failures:
                err(f"thalia-watch: {redact(self.url)} works again")
            self.failures, self.next_try = 0, 0.0


_VERB = {
    "started": "started",
    "escalated": "escalated",
    "deescalated": "eased",
    "resolved": "resolved",
}


def alarm_message(name: str, run: str, events: list[AlarmEvent]) -> Message:
    """One message for the alarm changes of one run in one poll."""
    started = [e for e in events if e.kind in ("started", "escalated")]
    worst = max((SEVERITY_RANK[e.severity] for e in started), default=-1)
    counts: dict[str, int] = {}
    for e in events:
        counts[_VERB[e.kind]] = counts.get(_VERB[e.kind], 0) + 1
    title = f"thalia {name}: " + ", ".join(f"{n} alarm(s) {v}" for v, n in counts.items())
    body = [f"Run {run}"]
    for e in events:
        at = f" at step {e.step:,}" if e.step is not None else ""
        body.append(f"- {_VERB[e.kind]} [{e.severity}] {e.key}{at}: {e.message}")
    kind = "failure" if worst == 2 else "warning" if worst >= 0 else "success"
    return Message(title, "\n".join(body), kind)


def lifecycle_message(name: str, run: str, life: Lifecycle, step: int | None) -> Message:
    """The message for a run that finished, failed, was killed or crashed."""
    sev = _LIFECYCLE_SEVERITY[life.kind]
    at = f" at step {step:,}" if step is not None else ""
    kind = {"info": "success", "warning": "warning", "critical": "failure"}[sev]
    return Message(f"thalia {name}: run {life.kind}", f"Run {run} {life.text}{at}.", kind)


def parse_urls(urls: Sequence[str], default: str) -> list[tuple[str, Severity]]:
    """(URL, minimum severity) of each ``--notify`` argument: ``severity=URL`` or ``URL`` with
    ``default``."""
    out: list[tuple[str, Severity]] = []
    for u in urls:
        sev, sep, rest = u.partition("=")
        if sep and sev in SEVERITY_RANK and "://" in rest:
            out.append((rest, sev))  # type: ignore[arg-type]
        else:
            out.append((u, default))  # type: ignore[arg-type]
    return out
