"""The run page: one checkpoint directory's live view (header, cards, charts, events, alerts).

:func:`render` draws it for one resolved directory: the sidebar settings, the export buttons and
an ``st.fragment(run_every=...)`` around the live part, so auto-refresh keeps tabs, toggles and
scroll position. Inside it, the charts with their controls (pick, scale, smoothing, validation
pair) are a nested fragment (:func:`charts_part`): a click there reruns the charts only. Every
refresh still sends each element of the live part (a fragment's rerun redraws all it holds);
what did not change goes as the same bytes (charts kept as specs per data key), which
Streamlit's message cache turns into a reference the browser resolves from its own copy; what
is hidden (the System history while closed) is not sent. The System section stays in the live
fragment itself: its stateful expander inside a nested fragment was drawn twice after a refresh
(tests/e2e/test_lazy_sections.py). One cached :class:`RunWatcher` per resolved directory is
shared by every browser session (:func:`get_watcher`). The page never writes into the
checkpoint directory. ``dashboard/app.py`` (the ``streamlit run`` script) calls it after the
origin guard.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.analysis.lifecycle import run_lifecycle
from dashboard.analysis.run_facts import run_facts
from dashboard.analysis.series import rank_frame, ranks
from dashboard.analysis.threshold_files import ThresholdsError, thresholds_from_env
from dashboard.analysis.thresholds import DEFAULT_THRESHOLDS, HealthThresholds
from dashboard.analysis.units import format_bytes
from dashboard.page import (
    alert_history,
    chart_specs,
    guard,
    sections,
    system_section,
    trainval_panels,
)
from dashboard.page.csv_export import MAX_PAGE_CSV_BYTES, export_command, kept_csv_size
from dashboard.page.summary_section import summary_section
from dashboard.page.text import md_text, path_key, plain
from dashboard.reading.directory import log_file_rank
from dashboard.reading.remote_fs import is_remote
from dashboard.reading.storage_options import storage_options_from_env
from dashboard.reading.watcher import RunWatcher
from dashboard.run_state import RunState

__all__ = [
    "DEFAULT_DIR",
    "TITLE",
    "charts_part",
    "downloads",
    "first_read_message",
    "get_watcher",
    "live",
    "parse_cli",
    "refuse_foreign_session",
    "render",
    "resolve_directory",
    "sidebar",
]

DEFAULT_DIR = "checkpoints/curriculum"
TITLE = "Thalia curriculum training monitor"


def parse_cli(
    argv: Sequence[str], env: dict[str, str] | os._Environ[str] = os.environ
) -> tuple[str, bool]:
    """(checkpoint dir, polling) from the script arguments (after ``--``), then the environment."""
    args = list(argv)
    if "--" in args:
        args = args[args.index("--") + 1 :]
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--checkpoint-dir")
    parser.add_argument("--poll", action="store_true")
    known, _ = parser.parse_known_args(args)
    directory = known.checkpoint_dir or env.get("THALIA_CHECKPOINT_DIR") or DEFAULT_DIR
    polling = bool(known.poll) or env.get("THALIA_POLL", "") == "1"
    return directory, polling


def resolve_directory(directory: str) -> str:
    """A local directory as an absolute path (``~`` expanded); an fsspec URL kept as given."""
    if is_remote(directory):
        return directory.rstrip("/")
    return str(Path(directory).expanduser().resolve())


def _close(watcher: RunWatcher) -> None:
    watcher.close()


def get_watcher(resolved_dir: str, polling: bool) -> RunWatcher:
    """One watcher per resolved directory for the whole server (thread-safe inside; closed when
    the cache drops it). A URL is polled with the storage options in ``THALIA_STORAGE_OPTIONS``.
    The cache is keyed by the path's bytes, so a name that is not UTF-8 works too."""
    return _cached_watcher(path_key(resolved_dir), polling, resolved_dir)


@st.cache_resource(show_spinner=False, max_entries=16, on_release=_close)
def _cached_watcher(key: str, polling: bool, _resolved_dir: str) -> RunWatcher:
    options = storage_options_from_env() if is_remote(_resolved_dir) else None
    return RunWatcher(_resolved_dir, polling_observer=polling, storage_options=options)


def _export(watcher: RunWatcher, frame: str) -> Callable[[], str]:
    def build() -> str:
        return str(getattr(watcher.refresh(), frame).to_csv(index=False))

    return build


def first_read_message(directory: str) -> str:
    """What the page says while it reads a run's logs for the first time (sizes from one stat)."""
    if is_remote(directory):
        return f"Reading {directory} (first load; later refreshes fetch only new bytes)..."
    try:
        sizes = [
            entry.stat().st_size
            for entry in os.scandir(directory)
            if log_file_rank(entry.name) is not None
        ]
    except OSError:
        return "Looking for the checkpoint directory..."
    return f"Reading {format_bytes(sum(sizes))} of training logs (first load; later refreshes read only new lines)..."


def sidebar(directory: str) -> sections.Options:
    """The settings. The directory is shown as text, not offered as an input: a server launched
    for one directory never reads another one, whoever visits the page."""
    with st.sidebar:
        st.header("Settings")
        st.caption("Checkpoint directory")
        st.text(plain(directory))  # st.text: shown literally, never as markdown
        auto = st.toggle("Auto-refresh", value=True, key="auto_refresh")
        interval = st.slider("Refresh every (s)", 1, 30, 5, key="interval", disabled=not auto)
        show_metrics = st.checkbox("Show detailed metrics", value=True, key="show_metrics")
        show_growth = st.checkbox("Show growth details", value=True, key="show_growth")
        show_cons = st.checkbox("Show consolidation details", value=True, key="show_consolidation")
        st.button("Refresh now", key="refresh_now")  # a click reruns the whole page
    return sections.Options(directory, auto, interval, show_metrics, show_growth, show_cons)


def downloads(watcher: RunWatcher, directory: str) -> None:
    """The CSV downloads, each built when clicked; a frame whose CSV would pass
    :data:`~dashboard.page.csv_export.MAX_PAGE_CSV_BYTES` gets the ``thalia-export`` command
    instead (a download is held whole in the server's memory)."""
    state = watcher.state
    with st.sidebar:
        st.subheader("Export CSV")
        for label, frame, name in (
            ("Metrics", "metrics_history", "metrics_export.csv"),
            ("Growth events", "growth_events", "growth_export.csv"),
            ("Consolidation events", "consolidation_events", "consolidation_export.csv"),
        ):
            size = kept_csv_size(directory, frame, getattr(state, frame))
            if size > MAX_PAGE_CSV_BYTES:
                st.caption(
                    f"{label}: about {format_bytes(size)} as CSV, too large to build in the "
                    "dashboard's memory. Write it to a file with:"
                )
                st.code(plain(export_command(directory, frame)), language="bash")
                continue
            st.download_button(
                label,
                _export(watcher, frame),
                file_name=name,
                mime="text/csv",
                on_click="ignore",
                key=f"download_{frame}",
            )


@st.fragment
def charts_part(state: RunState, metrics: pd.DataFrame, rank: int) -> None:
    """The metric history and train/validation charts, with their controls (pick, log scale,
    smoothing, validation pair): a nested fragment, so changing a control reruns these charts
    only, not the watcher's refresh, the health checks and the rest of the page."""
    sections.metric_history(state, metrics, rank=rank)
    trainval_panels.train_val_panels(state, metrics, rank=rank)


def _rank(state: RunState) -> int:
    """The rank shown: 0 when it logged, else the first; a picker when there are several."""
    all_ranks = ranks(state.metrics_history)
    rank = 0 if 0 in all_ranks else all_ranks[0]
    if all_ranks != [0]:
        rank = st.selectbox("Rank", all_ranks, index=all_ranks.index(rank), key="rank")
    return rank


def live(watcher: RunWatcher, options: sections.Options) -> None:
    """The part that refreshes: everything computed from the latest snapshot. The sections
    with chart controls of their own run as a nested fragment (:func:`charts_part`); each
    refresh runs it too, with the new snapshot."""
    state = watcher.refresh()
    now = time.time()
    st.title(TITLE)
    if sections.empty_state(state):
        return
    rank = _rank(state)
    metrics = rank_frame(state.metrics_history, rank)
    facts = run_facts(state, metrics, now=now, rank=rank, thresholds=_thresholds())
    sections.header(state, metrics, facts, now=now)
    sections.health_warnings(facts.alerts)
    history = alert_history.update(
        str(state.checkpoint_dir), list(facts.alerts), step=facts.step, now=now
    )
    sections.metrics_now(metrics, state.metadata)
    system_section.system(metrics, chart_specs.state_key(state, metrics, rank))
    if options.show_metrics:
        charts_part(state, metrics, rank)
    sections.growth(state, metrics, details=options.show_growth, rank=rank)
    sections.consolidation(state, details=options.show_consolidation)
    sections.milestones(state)
    summary_section(state, metrics, rank)
    sections.training_info(state, facts, log_tail=watcher.read_log_tail)
    system_section.config(state)
    alert_history.section(history, run_lifecycle(state, facts.step, now=now))
    watcher.release_memory()  # the old rows this tick read go back to the spill files


def _thresholds() -> HealthThresholds:
    """The thresholds ``THALIA_THRESHOLDS`` names (thalia-dashboard --thresholds), validated
    by the launcher; a bad value set by hand is said on the page and the defaults are used."""
    try:
        return thresholds_from_env()
    except ThresholdsError as exc:
        st.warning(md_text(f"Ignoring THALIA_THRESHOLDS: {exc}"), icon=":material/tune:")
        return DEFAULT_THRESHOLDS


def refuse_foreign_session() -> bool:
    """Stop this session when its WebSocket came with another Host / Origin than this server's
    (DNS rebinding). Under ``streamlit run`` the first session connects before this script could
    install the guard; the guard refuses every later one at the door."""
    from streamlit import config

    reason = guard.session_refusal(
        dict(st.context.headers),
        bind_host=str(config.get_option("server.address") or ""),
        port=int(config.get_option("server.port")),
    )
    if reason is None:
        return False
    st.error("This dashboard only answers its own address. Request refused.")
    return True


def render(directory: str, polling: bool) -> None:
    """The whole run page for ``directory`` (already resolved); the caller set the page config."""
    options = sidebar(directory)
    watcher = get_watcher(directory, polling)
    if watcher.state.version == 0:  # nothing read yet: the first read of a long run takes seconds
        with st.spinner(first_read_message(directory)):
            watcher.refresh()
    downloads(watcher, directory)
    run_every = options.interval_s if options.auto_refresh else None
    st.fragment(run_every=run_every)(live)(watcher, options)
