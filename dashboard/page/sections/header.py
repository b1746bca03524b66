"""The top of the page: the calm message of an empty run, the header (run, status badge, stage,
week, step, last update, stage progress) and the alerts grouped by severity."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from dashboard.analysis.run_facts import RunFacts
from dashboard.analysis.units import format_age
from dashboard.page.sections.widgets import card, waiting
from dashboard.page.text import escape_markdown, md_text, plain
from dashboard.page.views import header_facts
from dashboard.run_state import HealthWarning, RunState

__all__ = ["empty_state", "header", "health_warnings"]

_ALERT = {"critical": st.error, "warning": st.warning, "info": st.info}
_SEVERITY_TITLES = (("critical", "Critical"), ("warning", "Warnings"), ("info", "Info"))
_OPEN_WARNINGS = 3  # warnings are listed open when there is no critical one and at most this many
_STATUS_BADGE = {
    "running": ("green", ":material/play_circle:"),
    "stalled": ("orange", ":material/pause_circle:"),
    "finished": ("blue", ":material/check_circle:"),
    "waiting": ("gray", ":material/hourglass_empty:"),
    "failed": ("red", ":material/error:"),
    "killed": ("violet", ":material/cancel:"),
    "crashed": ("red", ":material/dangerous:"),
}


def empty_state(state: RunState) -> bool:
    """Show a calm message when there is nothing to draw yet; True if the page should stop."""
    where = state.where
    if state.not_a_directory:
        st.error(
            "This path is a file, not a directory. Give the checkpoint directory the trainer "
            "writes into (the folder holding training_log.jsonl), in the sidebar or on the "
            "command line."
        )
        st.code(where, language=None)
        return True
    if not state.exists and state.error:  # unreachable (a remote store refusing), not absent
        st.error("This directory cannot be read now: " + escape_markdown(state.error))
        st.code(where, language=None)
        return True
    if not state.exists:
        st.info(
            "Waiting for the checkpoint directory to appear. Start the trainer with a "
            "CurriculumLogger writing there; this page updates by itself."
        )
        st.code(where, language=None)
        return True
    if not state.log_files and state.metadata is None:
        st.info(
            "No training logs yet. Expecting training_log.jsonl (or training_log.json) and "
            "metadata_*.json in this directory; this page updates by itself."
        )
        st.code(where, language=None)
        return True
    if state.metadata is None:
        st.info(
            "No checkpoint metadata yet (metadata_*.json): stage, week and milestones appear "
            "with the first checkpoint. Metrics below come from the training log."
        )
    return False


def header(state: RunState, metrics: pd.DataFrame, run: RunFacts, *, now: float) -> None:
    """Run path and status badge, then stage, week, step, last update and stage progress."""
    facts = header_facts(state, metrics)
    status = run.status
    top = st.columns([5, 1])
    top[0].text(f"Run: {plain(state.where)}")
    if status.kind in _STATUS_BADGE:
        color, icon = _STATUS_BADGE[status.kind]
        label = status.kind if status.kind in ("failed", "killed", "crashed") else status.text
        top[1].badge(label.capitalize(), icon=icon, color=color)  # type: ignore[arg-type]
        if label != status.text:  # the run's own words (an exception message): plain text
            top[0].text(f"Run {plain(status.text)}")
    cols = st.columns(4)
    card(cols[0], "Stage", facts.stage)
    if facts.stage_name:
        cols[0].text(facts.stage_name)  # the full name, as text (never cut like a card value)
    card(cols[1], "Week", facts.week)
    card(cols[2], "Training step", "—" if facts.step is None else f"{facts.step:,}")
    age = None if state.last_update is None else now - state.last_update
    card(cols[3], "Last update", "—" if age is None else format_age(age))
    if facts.progress is not None:
        st.progress(facts.progress, text=md_text(facts.progress_text))
    else:
        waiting(facts.progress_text)
    if facts.odd_fields:
        st.warning(
            md_text(
                "The latest checkpoint metadata has fields of an unexpected type "
                f"(shown as text above): {', '.join(facts.odd_fields)}."
            )
        )
    if state.error:
        st.warning(
            "Reading this directory hit a problem; everything read so far is kept and shown: "
            + escape_markdown(state.error)
        )


def health_warnings(warnings: Sequence[HealthWarning]) -> None:
    """The alerts grouped by severity: one line of counts, then an expander per severity with
    its count in the label (critical first and open; warnings open only when there is no
    critical one and they are few; info closed), each alert text through the safe path."""
    if not warnings:
        return
    severity = [w.severity if w.severity in _ALERT else "warning" for w in warnings]
    counts: Counter[str] = Counter(severity)
    st.caption(
        "Alerts: "
        + " · ".join(
            f"{counts[sev]:,} {title.lower()}" for sev, title in _SEVERITY_TITLES if counts[sev]
        )
    )
    for sev, title in _SEVERITY_TITLES:
        if not counts[sev]:
            continue
        expanded = sev == "critical" or (
            sev == "warning" and not counts["critical"] and counts[sev] <= _OPEN_WARNINGS
        )
        with st.expander(f"{title} ({counts[sev]:,})", expanded=expanded):
            for w, w_sev in zip(warnings, severity, strict=True):
                if w_sev == sev:
                    _ALERT[sev](escape_markdown(w.message))
