"""The run page's view in the URL: the picked metrics, log scale and smoothing come from a pasted
link, go back into the address bar when changed, and a link naming a metric the run never logged
says so instead of drawing something else silently."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from page_helpers import write_lines
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[3] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def _release_watchers() -> Iterator[None]:
    yield
    st.cache_resource.clear()  # closes the cached watchers (no observer thread left)


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    lines = [
        {"event_type": "metric", "step": s, "wall_time": 1e9 + s, "loss": 1 / (1 + s),
         "performance": s / 100, "firing_rate": 0.1, "capacity": 0.5, "lr": 1e-3}
        for s in range(50)
    ]  # fmt: skip
    write_lines(run / "training_log.jsonl", lines)
    return run


def _open(run: Path, monkeypatch: pytest.MonkeyPatch, **params: str | list[str]) -> AppTest:
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(run))
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value if isinstance(value, list) else [value]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _param(at: AppTest, key: str) -> list[str]:
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def test_a_pasted_link_restores_the_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(_run(tmp_path), monkeypatch, metrics=["lr", "loss"], log="1", smooth="0.9")
    assert at.multiselect(key="metric_pick").value == ["lr", "loss"]
    assert at.toggle(key="log_scale").value is True
    assert at.slider(key="ema_weight").value == pytest.approx(0.9)
    assert len(at.get("vega_lite_chart")) == 2


def test_changes_go_into_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(_run(tmp_path), monkeypatch)
    assert _param(at, "metrics") == ["firing_rate", "capacity", "performance", "loss"]
    at.multiselect(key="metric_pick").set_value(["loss"]).run()
    at.slider(key="ema_weight").set_value(0.0).run()
    at.toggle(key="log_scale").set_value(True).run()
    assert _param(at, "metrics") == ["loss"]
    assert _param(at, "smooth") == ["0"] and _param(at, "log") == ["1"]


def test_a_link_to_an_unlogged_metric_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(_run(tmp_path), monkeypatch, metrics="loss,grad_norm", smooth="nan")
    assert at.multiselect(key="metric_pick").value == ["loss"]
    said = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "metrics= names 'grad_norm'" in said
    assert at.slider(key="ema_weight").value == pytest.approx(0.6)  # NaN is no smoothing value
