"""thalia-watch: alerts that reach you off the page (headless; never imports Streamlit).

    thalia-watch DIR|ROOT [...] --notify URL [URL ...] [--min-severity warning]
                 [--thresholds FILE] [--state FILE] [--interval 30] [--cooldown 900]
                 [--digest daily] [--once]

Tails each run with the page's reader (:class:`~dashboard.RunWatcher`) and health checks
(:func:`~dashboard.analysis.health.check_health`), feeds the warnings through the alarm state
machine (:mod:`dashboard.analysis.alarms`) and the lifecycle (:mod:`dashboard.analysis.lifecycle`),
and sends through apprise URLs (``json://``, ``slack://``, ``mailto://``, ``ntfy://``, ...):

- an alarm that starts, escalates, de-escalates or resolves, once per change; alarms of one run
  that change within one poll go out as one message; a URL hears alarms at its minimum severity
  or above (``URL`` with ``--min-severity``, or ``severity=URL``, e.g. ``critical=slack://...``);
- a run that finishes, fails, is killed or crashes (to every URL, whatever its minimum);
- ``--cooldown`` seconds: an alarm that starts again within that time of its last resolution is
  not sent again (nor its resolution): flapping checks stay quiet;
- ``--digest daily``: a daily summary per URL of every run's status and active alarms.

Messages that cannot be sent stay queued in the state file and are retried with exponential
backoff (said on stderr once per failure streak); watching never stops for a channel. The state
(alarms already sent, queued messages) lives in ``--state FILE``, by default
``$XDG_STATE_HOME/thalia/watch-<hash>.json`` (``~/.local/state`` without it), never in a
checkpoint directory: a restart sends nothing twice. SIGTERM/SIGINT stop the loop cleanly.
``--once`` evaluates once (sending what is due) and exits 0 healthy, 1 warnings, 2 critical
(a failed or crashed run counts as critical).

A ROOT is searched for runs (``training_log*`` or ``metadata_*.json``) to ``--depth`` levels
at every poll, so new runs are picked up; a URL (``s3://bucket/run``) is one remote run.

Here: argument parsing and the poll loop (:class:`WatchLoop`); channels, retry and message
texts in :mod:`dashboard.commands.notify`; run search and state file in :mod:`.watch_state`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dashboard.analysis.alarms import SEVERITY_RANK, AlarmEvent, AlarmLog, project
from dashboard.analysis.health import check_health
from dashboard.analysis.lifecycle import ENDED, run_lifecycle
from dashboard.analysis.threshold_files import ThresholdsError, load_thresholds
from dashboard.analysis.thresholds import DEFAULT_THRESHOLDS, HealthThresholds
from dashboard.commands.notify import (
    Channel,
    Message,
    alarm_message,
    default_send,
    lifecycle_message,
    parse_urls,
)
from dashboard.commands.remote_args import add_storage_option, storage_options
from dashboard.commands.watch_state import (
    STATE_VERSION,
    default_state_file,
    find_runs,
    latest_step,
    load_state,
    save_state,
)
from dashboard.reading.watcher import RunWatcher

__all__ = [
    "STATE_VERSION",
    "Channel",
    "Message",
    "WatchLoop",
    "build_parser",
    "default_state_file",
    "find_runs",
    "main",
]

_default_send = default_send  # the default of main(send=...)


class WatchLoop:
    """The watcher: :meth:`poll` once (what tests drive, with their own clock), :meth:`run`
    until :meth:`stop`. State is saved after every poll that changed it."""

    def __init__(
        self,
        paths: Sequence[str],
        channels: Sequence[Channel],
        *,
        state_file: Path,
        thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
        cooldown_s: float = 900.0,
        digest: str | None = None,
        depth: int = 3,
        clock: Callable[[], float] = time.time,
        err: Callable[[str], None] | None = None,
        pid_alive: Any = ...,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.paths, self.channels = list(paths), list(channels)
        self.state_file, self.thresholds = state_file, thresholds
        self.cooldown_s, self.digest, self.depth = cooldown_s, digest, depth
        self.clock, self.storage_options = clock, storage_options
        self.err = err or (lambda text: print(text, file=sys.stderr, flush=True))
        self._life_kw: dict[str, Any] = {} if pid_alive is ... else {"pid_alive": pid_alive}
        self._watchers: dict[str, RunWatcher] = {}
        self._stop = threading.Event()
        self.worst = 0  # 0 healthy, 1 warnings, 2 critical (after the last poll)
        self.runs, self.last_digest = load_state(self.state_file, self.channels, self.err)

    def save(self) -> None:
        save_state(self.state_file, self.runs, self.channels, self.last_digest)

    # -- one poll -----------------------------------------------------------------------
    def poll(self) -> int:
        """Read every run, queue what changed, send what is due; returns the exit status
        ``--once`` would give (0 healthy, 1 warnings, 2 critical)."""
        now = self.clock()
        worst = 0
        for run in find_runs(self.paths, depth=self.depth):
            worst = max(worst, self._poll_run(str(run), now))
        if self.digest == "daily" and (self.last_digest is None or now - self.last_digest >= 86400):
            if self.last_digest is not None:
                self._queue_all(self._digest_message(), None)
            self.last_digest = now
        for ch in self.channels:
            ch.deliver(now, self.err)
        self.save()
        self.worst = worst
        return worst

    def _poll_run(self, run: str, now: float) -> int:
        watcher = self._watchers.get(run)
        if watcher is None:
            watcher = self._watchers[run] = RunWatcher(
                run, use_watchdog=False, poll_interval_s=0, storage_options=self.storage_options
            )
        state = watcher.refresh()
        step = latest_step(state)
        warnings = [*state.warnings, *check_health(state, now=now, thresholds=self.thresholds)]
        life = run_lifecycle(
            state, step, now=now, stall_minutes=self.thresholds.stall_minutes, **self._life_kw
        )
        entry = self.runs.setdefault(
            run, {"alarms": AlarmLog(), "lifecycle": "", "resolved_at": {}, "muted": []}
        )
        events = entry["alarms"].update(warnings, step=step, now=now)
        name = Path(run).name or run
        for ch in self.channels:
            seen = [e for e in (project(ev, ch.min_severity) for ev in events) if e is not None]
            seen = self._throttle(entry, ch.id, seen, now)
            if seen:
                ch.queue.append(alarm_message(name, run, seen))
        if life.kind != entry["lifecycle"]:
            if life.kind in ENDED:
                self._queue_all(lifecycle_message(name, run, life, step), None)
            entry["lifecycle"] = life.kind
        worst = max((SEVERITY_RANK[w.severity] for w in warnings), default=0)
        if life.kind in ("failed", "crashed"):
            worst = 2
        return 1 if worst == 1 else (2 if worst == 2 else 0)

    def _throttle(
        self, entry: dict[str, Any], channel: str, events: list[AlarmEvent], now: float
    ) -> list[AlarmEvent]:
        """Cooldown per (run, check) and channel: an alarm that starts again within
        ``cooldown_s`` of its last resolution is muted, with its changes, until it resolves."""
        muted: list[str] = entry["muted"]
        resolved_at: dict[str, float] = entry["resolved_at"]
        out = []
        for e in events:
            key = f"{channel}:{e.key}"
            if e.kind == "started":
                last = resolved_at.get(key)
                if last is not None and now - last < self.cooldown_s:
                    muted.append(key)
                    continue
            if key in muted:
                if e.kind == "resolved":
                    muted.remove(key)
                    resolved_at[key] = now
                continue
            if e.kind == "resolved":
                resolved_at[key] = now
            out.append(e)
        return out

    def _queue_all(self, message: Message, _: object) -> None:
        for ch in self.channels:
            ch.queue.append(message)

    def _digest_message(self) -> Message:
        lines = []
        for run, e in sorted(self.runs.items()):
            active = sorted(e["alarms"].active.values(), key=lambda a: -SEVERITY_RANK[a.severity])
            lines.append(f"{run}: {e['lifecycle'] or 'waiting'}, {len(active)} active alarm(s)")
            lines += [f"  [{a.severity}] {a.message}" for a in active]
        return Message("thalia: daily digest", "\n".join(lines) or "no runs", "info")

    def run(self, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:
                self.err(f"thalia-watch: poll failed ({type(exc).__name__}: {exc}); retrying")
            self._stop.wait(interval_s)

    def stop(self, *_: object) -> None:
        self._stop.set()

    def close(self) -> None:
        for w in self._watchers.values():
            w.close()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="thalia-watch",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="DIR|ROOT", help="run directories or roots")
    p.add_argument(
        "--notify",
        nargs="+",
        default=[],
        metavar="URL",
        help="apprise URLs; severity=URL sets that URL's minimum severity",
    )
    p.add_argument("--min-severity", choices=list(SEVERITY_RANK), default="warning")
    p.add_argument("--thresholds", metavar="FILE", help="TOML thresholds file or preset name")
    p.add_argument(
        "--state", metavar="FILE", type=Path, help="state file (default: user state dir)"
    )
    p.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
    p.add_argument(
        "--cooldown",
        type=float,
        default=900.0,
        help="seconds before an alarm that resolved is sent again",
    )
    p.add_argument("--digest", choices=["daily"], help="also send a daily summary")
    p.add_argument("--depth", type=int, default=3, help="how deep to look for runs under a ROOT")
    p.add_argument("--once", action="store_true", help="evaluate once; exit 0/1/2")
    add_storage_option(p)
    return p


def main(
    argv: Sequence[str] | None = None, *, send: Callable[[str, Message], bool] = _default_send
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    options = storage_options(parser, args, args.paths)
    try:
        thresholds = load_thresholds(args.thresholds) if args.thresholds else DEFAULT_THRESHOLDS
    except ThresholdsError as exc:
        print(f"thalia-watch: {exc}", file=sys.stderr)
        return 64
    if args.notify and send is _default_send:
        try:
            import apprise  # noqa: F401
        except ModuleNotFoundError:
            print(
                "thalia-watch: notifications need apprise: pip install 'thalia[alerts]'",
                file=sys.stderr,
            )
            return 64
    urls = parse_urls(args.notify, args.min_severity)
    channels = [Channel(u, s, send) for u, s in urls]
    state_file = args.state or default_state_file(args.paths, [u for u, _ in urls])
    loop = WatchLoop(
        args.paths,
        channels,
        state_file=state_file,
        thresholds=thresholds,
        cooldown_s=args.cooldown,
        digest=args.digest,
        depth=args.depth,
        storage_options=options,
    )
    try:
        if args.once:
            return loop.poll()
        previous = {s: signal.signal(s, loop.stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            loop.run(args.interval)
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
        return 0
    finally:
        loop.close()


if __name__ == "__main__":
    raise SystemExit(main())
