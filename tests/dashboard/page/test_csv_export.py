"""The page's CSV size check: exact for short frames, close for long ones, the export command
quoted for a shell."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.page import csv_export, run_page
from dashboard.page.csv_export import (
    SAMPLE_ROWS,
    csv_size_estimate,
    export_command,
    kept_csv_size,
)

APP = str(Path(__file__).resolve().parents[3] / "dashboard" / "app.py")


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "step": np.arange(n, dtype=np.int64) * 10,
            "loss": rng.random(n),
            "region": np.where(np.arange(n) % 3 == 0, "cortex", "v1"),
        }
    )


def test_a_short_frame_is_measured_exactly() -> None:
    frame = _frame(SAMPLE_ROWS)
    assert csv_size_estimate(frame) == len(frame.to_csv(index=False).encode())
    assert csv_size_estimate(frame.iloc[:0]) == len(frame.iloc[:0].to_csv(index=False).encode())


def test_a_long_frame_is_estimated_within_a_few_percent() -> None:
    frame = _frame(60_000)
    real = len(frame.to_csv(index=False).encode())
    assert abs(csv_size_estimate(frame) - real) / real < 0.05


def test_the_kept_estimate_measures_again_only_when_the_frame_changed_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A live page asks every refresh: rows are measured again when the columns change or the
    rows double (or fall), and in between the estimate scales the kept bytes per row."""
    measured: list[int] = []
    measure = csv_export._measure
    monkeypatch.setattr(csv_export, "_measure", lambda f: measured.append(len(f)) or measure(f))
    whole = _frame(60_000)
    for n in (10_000, 12_000, 19_999, 20_000, 30_000, 15_000):
        got = kept_csv_size("/run", "metrics_history", whole.iloc[:n])
        real = len(whole.iloc[:n].to_csv(index=False).encode())
        assert abs(got - real) / real < 0.05
    assert measured == [10_000, 20_000, 15_000]
    kept_csv_size("/run", "metrics_history", whole.iloc[:15_000].assign(extra=1.5))
    kept_csv_size("/other", "metrics_history", whole.iloc[:15_000])
    assert measured == [10_000, 20_000, 15_000, 15_000, 15_000]
    small = whole.iloc[:SAMPLE_ROWS]
    assert kept_csv_size("/run", "growth_events", small) == csv_size_estimate(small)


def test_the_export_command_quotes_the_directory() -> None:
    odd = "/runs/it's a run; rm -rf ~"
    command = export_command(odd, "growth_events")
    assert shlex.split(command) == [
        "thalia-export",
        odd,
        "--what",
        "growth",
        "-o",
        "growth_export.csv",
    ]


def test_the_page_points_a_too_large_frame_to_thalia_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the limit, the metrics download becomes the export command (a Streamlit download is
    held whole in the server's memory); the small event frames keep their buttons."""
    run = tmp_path / "it's a run"
    run.mkdir()
    lines = [{"event_type": "metric", "step": s, "loss": 1.0 / (s + 1)} for s in range(300)]
    lines.append(
        {"event_type": "growth", "step": 5, "region": "v1", "neurons_added": 1, "new_total": 2}
    )
    (run / "training_log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    monkeypatch.setattr(run_page, "MAX_PAGE_CSV_BYTES", 2_000)
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(run))
    try:
        at = AppTest.from_file(APP, default_timeout=60).run()
        assert not at.exception, [e.value for e in at.exception]
        codes = [c.value for c in at.sidebar.code]
        assert codes == [export_command(str(run.resolve()), "metrics_history")]
        assert any("too large to build" in c.value for c in at.sidebar.caption)
        keys = {b.proto.id for b in at.sidebar.get("download_button")}
        assert len(keys) == 2  # growth and consolidation: still downloads
    finally:
        st.cache_resource.clear()  # closes the cached watcher
