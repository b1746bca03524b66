"""The page under AppTest: the lifecycle badge (failed with its message, crashed) and the alert
history (past alarms with started / resolved step, not only active ones)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from page_helpers import write_lines
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[3] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def _release_watchers() -> Iterator[None]:
    yield
    st.cache_resource.clear()


def _start(now: float, **extra: Any) -> dict[str, Any]:
    return {
        "event_type": "run_start",
        "step": 0,
        "wall_time": now - 100,
        "schema_version": 2,
        "run_id": "r",
        "resumed_from_step": None,
        "config": {},
        **extra,
    }


def _metric(now: float, step: int, loss: Any) -> dict[str, Any]:
    return {"event_type": "metric", "step": step, "wall_time": now - 100 + step, "loss": loss}


def _history(at: AppTest) -> list[str]:
    return [line for t in at.text if t.value.startswith("[") for line in t.value.splitlines()]


def _badges(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "badge" in m.value]


def test_failed_run_shows_badge_and_its_message_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    write_lines(
        tmp_path / "training_log.jsonl",
        [
            _start(now),
            _metric(now, 1, 0.5),
            {
                "event_type": "run_end",
                "step": 1,
                "wall_time": now - 90,
                "status": "failed",
                "error_type": "RuntimeError",
                "message": "CUDA out of memory <b>x</b>",
            },
        ],
    )
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert _badges(at) == [":red-badge[:material/error: Failed]"]
    texts = [t.value for t in at.text]
    assert "Run failed: RuntimeError: CUDA out of memory <b>x</b>" in texts
    assert "Run status: failed: RuntimeError: CUDA out of memory <b>x</b>" in texts


def test_crashed_run_badge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time() - 3600  # silent for an hour, no run_end, written by a v2 logger elsewhere
    write_lines(
        tmp_path / "training_log.jsonl",
        [_start(now, host="another-machine", pid=1), _metric(now, 1, 0.5)],
    )
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert _badges(at) == [":red-badge[:material/dangerous: Crashed]"]


def _refresh_until_step(at: AppTest, step: int, timeout_s: float = 15.0) -> None:
    """Rerun the page until its "Training step" card shows ``step`` (a file event can reach the
    watcher after the rerun began on a loaded machine; it polls anyway within its interval)."""
    deadline = time.monotonic() + timeout_s
    while True:
        at.run()
        shown = [str(m.value).replace(",", "") for m in at.metric if m.label == "Training step"]
        if shown == [str(step)] or time.monotonic() > deadline:
            return
        time.sleep(0.2)


def test_alert_history_lists_past_and_active_alarms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    log = tmp_path / "training_log.jsonl"
    write_lines(log, [_start(now), _metric(now, 1, 0.5), _metric(now, 2, "NaN")])
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    (line,) = _history(at)
    assert line.startswith("[critical] nonfinite_loss: started at step 2, ")
    assert "; active. Loss became NaN at step 2" in line
    write_lines(
        log, [_start(now), _metric(now, 1, 0.5), _metric(now, 2, "NaN"), _metric(now, 3, 0.4)]
    )
    _refresh_until_step(at, 3)  # as the live page does: the watcher may see the write a poll later
    assert not at.exception
    # recovered: the critical alarm eased to a warning; still listed, with its worst severity
    (line,) = _history(at)
    assert line.startswith("[critical] nonfinite_loss: started at step 2, ")
    assert "recovered since step 3" in line
