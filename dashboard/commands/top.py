"""``thalia-top DIR``: a terminal view of a run for SSH users, built on textual.

The same reader (:class:`RunWatcher`, refreshed on an interval: new bytes only) and the same
facts as the page and the report (:func:`report_facts.run_facts`: health checks, status, speed,
milestones). Read-only: nothing is written into the run directory. Run text is shown as
:class:`rich.text.Text` (never parsed as console markup) after the page's :func:`plain`.
``q`` quits, ``r`` refreshes now. Fits 80×24 (the body scrolls when it is taller).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Sparkline, Static

from dashboard.analysis.units import PERCENT_METRICS, format_value
from dashboard.commands.remote_args import add_storage_option, storage_options
from dashboard.commands.report_facts import MetricSummary, RunFacts, run_facts
from dashboard.errors import RemoteUnavailable
from dashboard.page.text import plain
from dashboard.reading.watcher import RunWatcher

__all__ = ["SPARK_POINTS", "TopApp", "build_parser", "main"]

#: Points (the latest) drawn in each sparkline.
SPARK_POINTS = 120
_MAX_METRIC_ROWS = 8
_MAX_ALERTS = 6
_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_STATUS_STYLE = {
    "running": "bold green",
    "stalled": "bold dark_orange",
    "finished": "bold blue",
    "waiting": "dim",
}


def _delta(s: MetricSummary) -> Text:
    if s.last is None or s.previous is None:
        return Text("")
    d = s.last - s.previous
    if d == 0:
        return Text("  0", style="dim")
    if s.name in PERCENT_METRICS:
        shown = f" {d * 100:+.2f} pp"
        if not any(ch in "123456789" for ch in shown):
            return Text("  0", style="dim")
    else:
        shown = f" {d:+.2g}"
    good = (d < 0) if s.direction == "down" else (d > 0) if s.direction == "up" else None
    style = "dim" if good is None else "green" if good else "red"
    return Text(shown, style=style)


def _tail(facts: RunFacts, column: str) -> list[float]:
    m = facts.metrics
    if column not in m.columns or m.empty:
        return []
    values = m[column].to_numpy(dtype=np.float64, na_value=np.nan)[-SPARK_POINTS * 4 :]
    values = values[np.isfinite(values)][-SPARK_POINTS:]
    return [float(v) for v in values]


class TopApp(App[None]):
    """The terminal view of ``checkpoint_dir``, refreshed every ``interval_s`` seconds.

    :meth:`refresh_view` reads new bytes and redraws (the interval timer calls it; tests call it
    directly). The watcher's observer thread (when ``use_watchdog``) stops when the app exits."""

    TITLE = "thalia-top"
    BINDINGS: ClassVar[list[BindingType]] = [
        ("q", "quit", "Quit"),
        ("r", "refresh_now", "Refresh now"),
    ]
    CSS = """
    Screen { layout: vertical; }
    #header { height: auto; padding: 0 1; background: $boost; }
    #body { height: 1fr; }
    #top { height: auto; }
    #metrics { width: 1fr; height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    #sparks { width: 1fr; height: auto; padding: 0 1; }
    .spark-label { height: 1; }
    Sparkline { height: 2; margin-bottom: 1; }
    #alerts, #counts, #milestones { height: auto; padding: 0 1; }
    """

    def __init__(
        self,
        checkpoint_dir: str | os.PathLike[str],
        *,
        interval_s: float = 2.0,
        use_watchdog: bool = True,
        poll_interval_s: float | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.checkpoint_dir = str(checkpoint_dir)
        self.interval_s = interval_s
        self.watcher = RunWatcher(
            checkpoint_dir,
            use_watchdog=use_watchdog,
            poll_interval_s=interval_s if poll_interval_s is None else poll_interval_s,
            storage_options=storage_options,
        )
        self.facts: RunFacts | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        with VerticalScroll(id="body"):
            with Horizontal(id="top"):
                yield Static(id="metrics")
                with Vertical(id="sparks"):
                    yield Static(Text("loss"), classes="spark-label", id="loss-label")
                    yield Sparkline([], id="loss-spark")
                    yield Static(Text("performance"), classes="spark-label", id="perf-label")
                    yield Sparkline([], id="perf-spark")
            yield Static(id="alerts")
            yield Static(id="counts")
            yield Static(id="milestones")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_view()
        self.set_interval(self.interval_s, self.refresh_view)

    def on_unmount(self) -> None:
        self.watcher.close()

    def action_refresh_now(self) -> None:
        self.watcher.mark_dirty()
        self.refresh_view()

    def refresh_view(self) -> None:
        """Read what is new and redraw every part of the view."""
        state = self.watcher.refresh()
        facts = run_facts(state, with_configs=False)
        self.facts = facts
        self.query_one("#header", Static).update(self._header(facts))
        self.query_one("#metrics", Static).update(self._metrics(facts))
        for name, column in (("loss", "loss"), ("perf", "performance")):
            data = _tail(facts, column)
            self.query_one(f"#{name}-spark", Sparkline).data = data
            s = facts.summary.get(column)
            label = Text(column, style="bold")
            if s is not None and s.last is not None:
                label.append(f"  {format_value(column, s.last)}")
                if s.best is not None and s.best_step is not None:
                    label.append(
                        f"  best {format_value(column, s.best)} @ {s.best_step:,}", style="dim"
                    )
            self.query_one(f"#{name}-label", Static).update(label)
        self.query_one("#alerts", Static).update(self._alerts(facts))
        self.query_one("#counts", Static).update(self._counts(facts))
        self.query_one("#milestones", Static).update(self._milestones(facts))

    def _header(self, facts: RunFacts) -> Text:
        h = facts.header
        state = facts.state
        t = Text()
        t.append(plain(state.where, limit=60), style="bold")
        t.append("  ")
        t.append(
            f" {facts.status.text} ", style="reverse " + _STATUS_STYLE.get(facts.status.kind, "")
        )
        t.append("\n")
        stage = h.stage + (f" {h.stage_name}" if h.stage_name else "")
        t.append("stage ", style="dim")
        t.append(plain(stage, limit=30))
        t.append("  week ", style="dim")
        t.append(h.week)
        t.append("  step ", style="dim")
        t.append("—" if h.step is None else f"{h.step:,}", style="bold")
        t.append("  ETA ", style="dim")
        t.append(facts.speed.eta)
        t.append("  ", style="dim")
        t.append(f"{facts.speed.steps_per_s} steps/s", style="dim")
        if not state.exists:
            t.append("\nwaiting for the directory to appear", style="yellow")
        elif state.not_a_directory:
            t.append("\nthis path is a file, not a checkpoint directory", style="red")
        if state.error:
            t.append(
                f"\nlast read failed (previous data kept): {plain(state.error, limit=200)}",
                style="red",
            )
        return t

    def _metrics(self, facts: RunFacts) -> Text:
        t = Text()
        t.append("Current metrics\n", style="bold underline")
        if not facts.summaries:
            t.append("waiting for the first metric line", style="dim")
            return t
        rows = facts.summaries[:_MAX_METRIC_ROWS]
        for s in rows:
            t.append(f"{plain(s.name, limit=14):<14} ")
            t.append(f"{format_value(s.name, s.last):>9}")
            t.append_text(_delta(s))
            t.append("\n")
        if len(facts.summaries) > len(rows):
            t.append(f"… {len(facts.summaries) - len(rows)} more (thalia-report)", style="dim")
        return t

    def _alerts(self, facts: RunFacts) -> Text:
        t = Text()
        t.append("Alerts\n", style="bold underline")
        if not facts.alerts:
            t.append("✓ no alerts: every check passed", style="green")
            return t
        for a in facts.alerts[:_MAX_ALERTS]:
            mark = "✗" if a.severity == "critical" else "⚠" if a.severity == "warning" else "ℹ"
            t.append(
                f"{mark} {plain(a.message, limit=300)}\n",
                style=_SEVERITY_STYLE.get(a.severity, "yellow"),
            )
        if len(facts.alerts) > _MAX_ALERTS:
            t.append(f"… {len(facts.alerts) - _MAX_ALERTS} more", style="dim")
        return t

    def _counts(self, facts: RunFacts) -> Text:
        s = facts.state
        return Text.assemble(
            ("growth ", "dim"),
            f"{len(s.growth_events):,}",
            ("  consolidations ", "dim"),
            f"{len(s.consolidation_events):,}",
            ("  restarts ", "dim"),
            f"{len(s.restarts):,}",
            ("  bad lines ", "dim"),
            f"{s.bad_line_count:,}",
            ("  duration ", "dim"),
            facts.speed.duration,
        )

    def _milestones(self, facts: RunFacts) -> Text:
        total, passed, items = facts.milestones
        t = Text()
        t.append("Milestones ", style="bold")
        if not total:
            t.append("none yet", style="dim")
            return t
        t.append(f"{passed}/{total}  ")
        for name, ok in items[:12]:
            t.append(
                ("✓ " if ok else "✗ ") + plain(name, limit=30) + "  ",
                style="green" if ok else "red",
            )
        if len(items) > 12:
            t.append(f"… {len(items) - 12} more", style="dim")
        return t


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="thalia-top", description="Watch a Thalia run in the terminal (read only; q quits)."
    )
    p.add_argument("checkpoint_dir", help="the run's checkpoint directory")
    p.add_argument(
        "--interval", type=float, default=2.0, help="seconds between refreshes (default 2)"
    )
    add_storage_option(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    options = storage_options(parser, args, [args.checkpoint_dir])
    if args.interval <= 0:
        print("thalia-top: --interval must be a positive number of seconds", file=sys.stderr)
        return 3
    if os.path.exists(args.checkpoint_dir) and not os.path.isdir(args.checkpoint_dir):
        print(
            f"thalia-top: {args.checkpoint_dir} is a file, not a directory. Give the checkpoint "
            "directory (the folder holding training_log.jsonl).",
            file=sys.stderr,
        )
        return 3
    try:
        app = TopApp(args.checkpoint_dir, interval_s=args.interval, storage_options=options)
    except RemoteUnavailable as exc:  # a URL whose fsspec backend is not installed
        print(f"thalia-top: {exc}", file=sys.stderr)
        return 3
    app.run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
