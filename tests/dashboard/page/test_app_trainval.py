"""The page under AppTest with a run that logs validation metrics: the train/val panels appear,
with the reference's summary line, the lr change and NEW BEST lines; without val, nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from page_helpers import write_lines, write_metadata
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[3] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def _release_watchers() -> Iterator[None]:
    yield
    st.cache_resource.clear()  # closes every cached RunWatcher (no leaked observer threads)


def run_page(directory: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(directory))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(markdown: str) -> str:
    """What a markdown caption made by page.text.md_text reads as (escapes and joiners off)."""
    return markdown.replace("\\", "").replace("\u2060", "")


def run(directory: Path, *, val: bool) -> None:
    now = time.time()
    lines: list[dict[str, Any]] = []
    for i, step in enumerate(range(0, 5000, 100)):
        line: dict[str, Any] = {
            "event_type": "metric",
            "step": step,
            "wall_time": now - 60 + step / 1000,
            "firing_rate": 0.1,
            "capacity": 0.5,
            "performance": 0.5 + step / 20_000,
            "loss": 2.0 - step / 5000,
            "lr": 1e-3 if step < 2500 else 5e-4,
        }
        if val and i % 10 == 9:
            line["val_loss"] = [1.9, 1.5, 1.3, 1.35, 1.2][i // 10]
            line["val_accuracy"] = 0.5 + step / 25_000
        lines.append(line)
    write_lines(directory / "training_log.jsonl", lines)
    write_metadata(directory, 4900, total_steps=10_000)


def test_a_run_with_val_loss_shows_the_panels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(tmp_path, val=True)
    at = run_page(tmp_path, monkeypatch)
    assert "Train / validation" in [h.value for h in at.subheader]
    pick = at.radio(key="trainval_pair")
    assert [shown(o) for o in pick.options] == ["loss / val_loss", "performance / val_accuracy"]
    summaries = [
        "Step 4,900 | Train: 1.02 | Val: 1.2 | Gap: +0.18 | Δ: -0.15 | "
        "Best val_loss: 1.2 at step 4,900 ✓ NEW BEST",
        "Step 4,900 | Train: 0.745 | Val: 0.696 | Gap: -0.049 | Δ: +0.04 | "
        "Best val_accuracy: 0.696 at step 4,900 ✓ NEW BEST",
    ]
    for label, summary in zip(
        ["loss / val_loss", "performance / val_accuracy"], summaries, strict=True
    ):
        at = pick.set_value(label).run()  # only the picked pair's panel is built and sent
        assert not at.exception, [e.value for e in at.exception]
        pick = at.radio(key="trainval_pair")
        captions = [shown(c.value) for c in at.caption]
        assert [c for c in captions if c.startswith("Step 4,900 | Train")] == [summary]
        assert captions.count("Learning-rate changes: lr 0.001 → 0.0005 at step 2,500") == 1
        logs = [t.value for t in at.text if t.value.startswith("Step ")]
        assert len(logs) == 1
        assert logs[0].splitlines()[-1].endswith("✓ NEW BEST")
        if label == "loss / val_loss":
            assert "Step 3,900: Train=1.22, Val=1.35, Gap=+0.13" in logs[0].splitlines()
        assert len(at.get("vega_lite_chart")) == 4 + 4  # the picked metrics, the pair's 2×2 grid


def test_no_panels_without_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(tmp_path, val=False)
    at = run_page(tmp_path, monkeypatch)
    assert "Train / validation" not in [h.value for h in at.subheader]
