"""What a live refresh of the run page re-sends: charts keyed by the content of their own frame
(:mod:`dashboard.page.sections.frame_keys`), so a refresh that changed nothing a chart draws
sends the same bytes (a cached reference for the browser) without rebuilding it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from page_helpers import write_lines, write_metadata
from streamlit.testing.v1 import AppTest

from dashboard.page import charts
from dashboard.page.sections.frame_keys import content_key, extends, frame_digest
from dashboard.reading.watcher import RunWatcher

APP = str(Path(__file__).resolve().parents[3] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def _release_watchers() -> Iterator[None]:
    yield
    st.cache_resource.clear()  # closes the cached RunWatcher and its threads


def _events(values: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "step": [i * 10 for i in range(len(values))],
            "sleep_stage": ["NREM" if v % 2 else "REM" for v in values],
            "patterns_replayed": values,
        }
    )


@given(hs.lists(hs.integers(0, 1000), min_size=1, max_size=40), hs.data())
def test_digest_follows_every_row_in_order(values: list[int], data: hs.DataObject) -> None:
    frame = _events(values)
    assert frame_digest(frame) == frame_digest(frame.copy())
    i = data.draw(hs.integers(0, len(values) - 1))
    changed = frame.copy()
    changed.loc[i, "patterns_replayed"] += 1  # a late line merged into an old row: same length
    assert frame_digest(changed) != frame_digest(frame)
    if values != values[::-1]:
        reordered = frame.assign(patterns_replayed=values[::-1])
        assert frame_digest(reordered) != frame_digest(frame)


def test_digest_tells_dtypes_and_empty_frames_apart() -> None:
    assert frame_digest(pd.DataFrame({"a": [1]})) != frame_digest(pd.DataFrame({"a": [1.0]}))
    assert frame_digest(pd.DataFrame({"a": []})) != frame_digest(pd.DataFrame({"b": []}))


def test_content_key_follows_the_frame_not_the_state_version(tmp_path: Path) -> None:
    frame = _events([1, 2, 3])
    first = content_key(SimpleNamespace(checkpoint_dir=tmp_path, version=1), frame, "t")
    later = SimpleNamespace(checkpoint_dir=tmp_path, version=2)
    assert content_key(later, frame.copy(), "t") == first  # new lines elsewhere in the run
    changed = frame.assign(patterns_replayed=[1, 2, 4])
    assert content_key(SimpleNamespace(checkpoint_dir=tmp_path, version=3), changed, "t") != first
    other = SimpleNamespace(checkpoint_dir=tmp_path / "other", version=1)
    assert content_key(other, frame, "t") != first  # another run's chart is never reused


@settings(max_examples=15, deadline=None)
@given(
    chunks=hs.lists(hs.integers(1, 30), min_size=1, max_size=5),
    late_at=hs.integers(0, 6),
    sleep=hs.sampled_from(["NREM", "REM", "REM\u00e9", ""]),
)
def test_content_key_of_a_growing_frame_reads_only_new_rows(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[int], late_at: int, sleep: str
) -> None:
    """Over appended events (and a late one, which rebuilds the table), the kept key's digest
    equals a fresh digest of the whole frame; appended rows are recognised as such (the digest
    then hashes the new rows only)."""
    directory = tmp_path_factory.mktemp("events")
    state_of = SimpleNamespace(checkpoint_dir=directory)
    step, grew = 100, 0
    with RunWatcher(directory, use_watchdog=False, poll_interval_s=0.0) as watcher:
        previous = None
        for i, count in enumerate([*chunks, 1]):
            late = i == len(chunks)
            lines = [
                {"event_type": "consolidation", "step": late_at if late else step + k,
                 "sleep_stage": f"{sleep}{k % 3}", "patterns_replayed": k, "duration_steps": 5}
                for k in range(count)
            ]  # fmt: skip
            write_lines(directory / "training_log.jsonl", lines)
            step += count
            state = watcher.refresh()
            events = state.consolidation_events
            if previous is not None and not late:
                grew += extends(previous, events)
            key = content_key(SimpleNamespace(**vars(state_of), version=state.version), events, "c")
            assert key[3] == frame_digest(events)
            previous = events
    assert len(chunks) == 1 or grew > 0


def _metric(step: int) -> dict[str, Any]:
    return {
        "event_type": "metric",
        "step": step,
        "wall_time": 1.7e9 + step,
        "firing_rate": 0.1,
        "capacity": 0.5,
        "performance": 0.5,
        "loss": 1.0 / (1 + step),
    }


def _consolidation(step: int) -> dict[str, Any]:
    return {
        "event_type": "consolidation",
        "step": step,
        "wall_time": 1.7e9 + step,
        "sleep_stage": "NREM",
        "patterns_replayed": step // 10,
        "duration_steps": 5,
    }


def _charts(at: AppTest) -> dict[str, bytes]:
    """Each chart's bytes as sent, by its y-axis titles."""
    out = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        layers = [spec, *spec.get("layer", [])]
        titles = [str(layer.get("encoding", {}).get("y", {}).get("title")) for layer in layers]
        out[" / ".join(titles)] = chart.proto.SerializeToString()
    return out


def test_new_metric_lines_leave_the_consolidation_chart_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[int] = []
    build = charts.consolidation_chart

    def counted(events: pd.DataFrame, **kwargs: Any) -> Any:
        builds.append(len(events))
        return build(events, **kwargs)

    monkeypatch.setattr(charts, "consolidation_chart", counted)
    log = tmp_path / "training_log.jsonl"
    write_lines(log, [_metric(s) for s in range(0, 500, 10)] + [_consolidation(250)])
    write_metadata(tmp_path, 490)
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    before = _charts(at)
    (name,) = [n for n in before if "Patterns replayed" in n]
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(_metric(s)) + "\n" for s in range(500, 600, 10)))
    at.run()
    after = _charts(at)
    assert after[name] == before[name]  # the same bytes: the browser's cached copy is reused
    assert any(after[n] != before[n] for n in before if n != name)  # the metric charts moved
    assert builds == [1]  # and it was not built again
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(_consolidation(590)) + "\n")
    at.run()
    assert _charts(at)[name] != after[name]  # a new event: the chart is drawn again
    assert builds == [1, 2]
