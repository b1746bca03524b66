"""The last sections: the milestone checklist and the training information (duration, speed, ETA,
counts, bad lines, the console log tail)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard.analysis.run_facts import RunFacts
from dashboard.page.sections.widgets import INT_COLUMN, card, waiting
from dashboard.page.text import plain
from dashboard.page.views import milestone_summary
from dashboard.reading.console_tail import read_log_tail
from dashboard.run_state import RunState
from thalia_logging.contract import CONSOLE_LOG_NAME

__all__ = ["milestones", "training_info"]

_LOG_TAIL_HEIGHT = 320  # px: the console tail scrolls inside this, opened at the newest line


def milestones(state: RunState) -> None:
    st.subheader("Milestone checklist")
    total, passed, items = milestone_summary(state.metadata)
    if total == 0:
        waiting(
            "No milestones yet — they come with the checkpoint metadata "
            "(write_metadata(milestones={name: passed}))."
        )
        return
    cols = st.columns(3)
    card(cols[0], "Total", f"{total:,}")
    card(cols[1], "Passed", f"{passed:,}")
    card(cols[2], "Completion", f"{passed / total:.0%}")
    st.progress(passed / total)
    grid = st.columns(min(3, total))
    lines = [f"{'✅' if ok else '❌'} {plain(name)}" for name, ok in items]
    for i, column in enumerate(grid):  # one text per column, not one element per milestone
        column.text("\n".join(lines[i :: len(grid)]))


def training_info(
    state: RunState, run: RunFacts, *, log_tail: Callable[[], str | None] | None = None
) -> None:
    """Duration, speed and ETA (from ``run``), event counts, bad lines and the console tail
    (``log_tail``: the watcher's reader, which reaches a remote run too)."""
    st.subheader("Training information")
    speed = run.speed
    # three cards a row: "4 min 10 s" or an ETA of "1 h 23 min" stays whole at 1280 px
    for row in (
        (("Duration", speed.duration), ("Steps/s", speed.steps_per_s), ("ETA", speed.eta)),
        (
            ("Growth events", f"{len(state.growth_events):,}"),
            ("Consolidations", f"{len(state.consolidation_events):,}"),
            ("Bad lines skipped", f"{state.bad_line_count:,}"),
        ),
    ):
        for col, (label, value) in zip(st.columns(3), row, strict=True):
            card(col, label, value)
    if state.bad_lines:
        with st.expander(
            f"Bad lines ({state.bad_line_count:,} skipped, latest {len(state.bad_lines):,} listed)"
        ):
            st.dataframe(
                pd.DataFrame(
                    [
                        (plain(b.file), b.offset, plain(b.reason), plain(b.excerpt))
                        for b in state.bad_lines
                    ],
                    columns=["File", "Byte offset", "Reason", "Line (start)"],
                ),
                hide_index=True,
                width="stretch",
                column_config={"Byte offset": INT_COLUMN},
            )
    st.caption("Console log (last lines, newest at the bottom)")
    if log_tail is None and state.url is not None:  # only the watcher's fs reaches a remote run
        waiting("The console log of a remote run is not shown here.")
        return
    tail = (
        read_log_tail(state.checkpoint_dir / CONSOLE_LOG_NAME) if log_tail is None else log_tail()
    )
    if tail is None:
        waiting("No console.log yet — the logger writes it with file_log=True.")
        return
    # height-bounded and scrolled to its end: the newest line is what shows first
    with st.container(height=_LOG_TAIL_HEIGHT, autoscroll=True, key="console_tail"):
        st.code(tail or "(empty)", language=None)
