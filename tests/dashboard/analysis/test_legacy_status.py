"""Older Thalia logs (no ``event_type``, no ``wall_time``): status, speed and metadata cards.

The writer is plain ``json`` (not our logger), and time is the log files' mtime set with
``os.utime``: no sleeps.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from page_helpers import write_metadata

from dashboard.analysis.series import rank_frame
from dashboard.analysis.status import run_status, speed_info
from dashboard.analysis.units import format_duration
from dashboard.page.views import metadata_cards
from dashboard.reading.directory import DirectoryReader

REFERENCE_METADATA = {
    "current_stage": 0,
    "step": 50000,
    "current_week": 2,
    "total_weeks": 4,
    "metrics": {"firing_rate": 0.112, "capacity": 0.75, "performance": 0.92, "loss": 0.234},
    "milestones": {
        "mnist_accuracy": True,
        "sequence_prediction": True,
        "phoneme_discrimination": False,
    },
    "warnings": [],
}


def append_legacy(path: Path, steps: range, *, mtime: float) -> None:
    """Older Thalia lines: plain JSON objects with ``step`` and the metrics, nothing else."""
    with path.open("a", encoding="utf-8") as f:
        for s in steps:
            f.write(
                json.dumps(
                    {
                        "step": s,
                        "firing_rate": 0.1,
                        "capacity": 0.5,
                        "performance": 0.5,
                        "loss": 1.0 - s / 1e4,
                    }
                )
                + "\n"
            )
    os.utime(path, (mtime, mtime))


def test_live_legacy_run_is_running_with_duration_speed_and_eta(tmp_path: Path) -> None:
    now = time.time()
    meta = write_metadata(tmp_path, 0, total_steps=1000)
    os.utime(meta, (now - 3 * 3600, now - 3 * 3600))  # metadata 3 hours old
    log = tmp_path / "training_log.json"
    reader = DirectoryReader(tmp_path)
    for i, t in enumerate((now - 120, now - 60, now)):  # 100 steps a minute
        append_legacy(log, range(i * 100, (i + 1) * 100), mtime=t)
        reader.update()
    state = reader.state(1)
    assert state.last_update == now
    metrics = rank_frame(state.metrics_history)
    status = run_status(state, 299, now=now + 5)
    assert status.kind == "running"
    speed = speed_info(state, metrics, status=status.kind)
    assert speed.duration == format_duration(120.0) == "2 min 0 s"
    assert speed.steps_per_s == "1.7"  # 200 steps in 120 s
    assert speed.eta == format_duration(700 / (200 / 120))  # 700 steps left: 420 s


def test_cold_load_of_an_old_legacy_log_is_not_running(tmp_path: Path) -> None:
    now = time.time()
    append_legacy(tmp_path / "training_log.json", range(50), mtime=now - 3 * 3600)
    reader = DirectoryReader(tmp_path)
    reader.update()
    state = reader.state(1)
    assert state.last_update == now - 3 * 3600
    status = run_status(state, 49, now=now)
    assert status.kind == "stalled" and status.text.startswith("stalled for 3 h")
    speed = speed_info(state, rank_frame(state.metrics_history), status=status.kind)
    assert speed.steps_per_s == "—" and speed.eta == "—"  # one sample: no speed to tell


def test_legacy_log_without_metadata_is_not_waiting(tmp_path: Path) -> None:
    now = time.time()
    append_legacy(tmp_path / "training_log.json", range(50), mtime=now - 5)
    reader = DirectoryReader(tmp_path)
    reader.update()
    assert run_status(reader.state(1), 49, now=now).kind == "running"


def test_lines_with_wall_time_keep_their_own_times(tmp_path: Path) -> None:
    log = tmp_path / "training_log.jsonl"
    log.write_text(
        json.dumps({"event_type": "metric", "step": 1, "wall_time": 1000.0, "loss": 1.0}) + "\n",
        encoding="utf-8",
    )
    reader = DirectoryReader(tmp_path)
    reader.update()
    assert reader.state(1).last_update == 1000.0  # not the file's mtime


def test_metadata_cards_from_the_reference_metadata() -> None:
    cards = metadata_cards(REFERENCE_METADATA)
    assert cards is not None
    assert [(c.label, c.value) for c in cards] == [
        ("Firing rate", "11.2%"),
        ("Capacity", "75.0%"),
        ("Performance", "92.0%"),
        ("Loss", "0.234"),
    ]
    assert metadata_cards({"metrics": {}}) is None and metadata_cards(None) is None
    assert metadata_cards({"metrics": {"loss": True}}) is None
