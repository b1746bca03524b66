"""The Compare page: chosen runs overlaid, their config differences, summaries and milestones.

Controls (each kept in the URL, :mod:`dashboard.page.deep_links`): a name filter (a glob such as
``sweep/lr*`` or a plain substring), a config filter (a key and the values to keep), the runs
(at most :data:`MAX_RUNS`, each opened with the run page's cached full
:class:`~dashboard.reading.watcher.RunWatcher`), the metrics, the x axis (step, wall time, hours
since start, step within a stage, with the stage to align) and the EMA smoothing. The charts and
tables refresh in a fragment like the run page's live part.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.analysis.compare import X_AXES, XAxis, overlay_frame, row_stages
from dashboard.analysis.config_diff import config_values, flat_config
from dashboard.analysis.metric_summary import metric_columns
from dashboard.analysis.series import rank_frame
from dashboard.analysis.smoothing import MAX_WEIGHT
from dashboard.page import compare_charts, compare_tables, deep_links, root_app, run_page
from dashboard.page.text import md_text
from dashboard.reading.overview import RunSummary
from dashboard.reading.runs import run_path, shown
from dashboard.run_state import RunState

__all__ = ["FILTER_CHARS", "MAX_RUNS", "Choice", "choose", "match_name", "render", "show"]

MAX_RUNS = 8
#: config values longer than this are cut (``…``) in the config filter, listed and matched alike
FILTER_CHARS = 200
_AXES: list[str] = list(X_AXES)


@dataclass(frozen=True)
class Choice:
    """What the controls decided."""

    runs: tuple[str, ...]
    metrics: tuple[str, ...]
    axis: XAxis
    smoothing: float
    stage: int | None
    auto_refresh: bool


def match_name(name: str, pattern: str) -> bool:
    """Whether run ``name`` matches the filter: a glob when it has ``*?[``, else a substring."""
    pattern = pattern.strip().lower()
    if not pattern:
        return True
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name.lower(), pattern)
    return pattern in name.lower()


def _key_label(key: str | None) -> str:
    return "(none)" if key is None else key or '"" (the empty key)'


def _filtered(summaries: list[RunSummary]) -> list[str]:
    deep_links.seed_text("cmp_filter", "filter")
    pattern = st.text_input("Filter runs by name (glob or text)", key="cmp_filter")
    deep_links.publish("filter", pattern or None)
    configs = {s.name: s.state.config for s in summaries}
    values = config_values(configs, FILTER_CHARS)
    keys: list[str | None] = [None, *values]  # None: no filter ("" is a key a config may have)
    left, right = st.columns(2)
    deep_links.seed("cmp_cfg_key", "cfg", keys, None)
    key = left.selectbox("Filter by config key", keys, key="cmp_cfg_key",
                         format_func=_key_label)  # fmt: skip
    deep_links.publish("cfg", key)
    names = [s.name for s in summaries if match_name(s.name, pattern)]
    if key is None:
        deep_links.publish_list("cfgv", [])  # no key, no values: a stale cfgv= goes
    else:
        deep_links.seed_list("cmp_cfg_values", "cfgv", values[key], [])
        keep = right.multiselect("Values", values[key], key="cmp_cfg_values")
        deep_links.publish_list("cfgv", keep)
        if keep:
            names = [n for n in names if flat_config(configs[n], FILTER_CHARS).get(key) in keep]
    return names


def _states(
    root: str, names: list[str], polling: bool, *, say: bool = False
) -> dict[str, tuple[RunState, pd.DataFrame]]:
    discovery = root_app.overview_reader(root).discovery
    out = {}
    for name in names:
        path = run_path(discovery, name)
        if path is None:
            continue
        if shown(path) != path:  # no cache key, no page text can hold it
            if say:
                st.warning(md_text(f"{name}: the folder's name is not valid UTF-8 text, so it "
                                   "cannot be opened here; rename the folder."))  # fmt: skip
            continue
        state = run_page.get_watcher(path, polling).refresh()
        out[name] = (state, rank_frame(state.metrics_history, 0))
    return out


def choose(root: str, polling: bool) -> tuple[Choice, dict[str, tuple[RunState, pd.DataFrame]]]:
    """Draw the controls; the choice and the chosen runs' states (first rank's metric rows)."""
    summaries = root_app.summaries(root)
    names = _filtered(summaries)
    deep_links.seed_list("cmp_runs", "runs", names, names[:2], MAX_RUNS)
    runs = st.multiselect("Runs", names, key="cmp_runs", max_selections=MAX_RUNS)
    deep_links.publish_list("runs", runs)
    states = _states(root, runs, polling, say=True)
    options: dict[str, None] = {}
    for state, rows in states.values():
        options.update(dict.fromkeys(metric_columns(state, rows)))
    metric_names = list(options)
    deep_links.seed_list("cmp_metrics", "metrics", metric_names, ["loss", "performance"])
    metrics = st.multiselect("Metrics", metric_names, key="cmp_metrics")
    deep_links.publish_list("metrics", metrics)
    cols = st.columns([2, 2, 1, 1])
    deep_links.seed("cmp_x", "x", _AXES, "step")
    axis = cols[0].radio("X axis", _AXES, key="cmp_x", format_func=X_AXES.__getitem__,
                         horizontal=True)  # fmt: skip
    deep_links.publish("x", axis)
    deep_links.seed_float("cmp_smooth", "smooth", 0.0, MAX_WEIGHT, 0.0)
    smoothing = cols[1].slider("EMA smoothing", 0.0, MAX_WEIGHT, key="cmp_smooth", step=0.01)
    deep_links.publish("smooth", f"{smoothing:g}")
    stage = _stage(cols[2], states) if axis == "stage" else None
    auto = cols[3].toggle("Auto-refresh", value=True, key="cmp_auto")
    choice = Choice(tuple(runs), tuple(metrics), axis, smoothing, stage, auto)  # type: ignore[arg-type]
    return choice, states


def _stage(
    where: st.delta_generator.DeltaGenerator, states: dict[str, tuple[RunState, pd.DataFrame]]
) -> int | None:
    """The stage to align (default: the highest stage every chosen run reached)."""
    per_run = [
        set(np.unique(row_stages(s, rows)).tolist()) for s, rows in states.values() if len(rows)
    ]
    if not per_run:
        return None
    every = sorted(set.union(*per_run))
    common = set.intersection(*per_run)
    labels = [str(s) for s in every]
    deep_links.seed("cmp_stage", "stage", labels, str(max(common) if common else every[0]))
    picked = where.selectbox("Stage", labels, key="cmp_stage")
    deep_links.publish("stage", picked)
    return int(picked) if picked is not None else None


def show(root: str, choice: Choice, polling: bool) -> None:
    """The charts and tables of ``choice`` (refreshed by the fragment)."""
    root_app.root_warning(root)
    states = _states(root, list(choice.runs), polling)
    if len(states) < 1:
        st.info("Pick runs to compare.")
        return
    series = [(name, state, rows) for name, (state, rows) in states.items()]
    for metric in choice.metrics:
        frame = overlay_frame(series, metric, choice.axis, stage=choice.stage,
                              smoothing=choice.smoothing)  # fmt: skip
        if frame.empty:
            st.caption(md_text(f"{metric}: no values on this axis for the chosen runs."))
            continue
        chart = compare_charts.overlay_chart(frame, list(states), metric, choice.axis)
        st.altair_chart(chart, width="stretch", key=f"cmp_chart_{metric}")
        missing = [name for name in states if name not in set(frame["run"])]
        if missing:
            st.caption(md_text(f"No {metric} on this axis for: {', '.join(missing)}"))
    summaries = compare_tables.summary_section(states, choice.metrics)
    plain_states = {name: state for name, (state, _rows) in states.items()}
    compare_tables.config_section(plain_states, summaries, choice.metrics)
    compare_tables.events_section(plain_states)
    checkpoints = {s.name: s.checkpoints for s in root_app.summaries(root) if s.name in states}
    compare_tables.milestones_section(checkpoints)


def render() -> None:
    """The Compare page (a page script of :mod:`dashboard.page.root_app` calls it)."""
    root, polling = root_app.root_args()
    st.title("Compare runs")
    choice, _states_now = choose(root, polling)
    st.fragment(run_every=5 if choice.auto_refresh else None)(show)(root, choice, polling)
