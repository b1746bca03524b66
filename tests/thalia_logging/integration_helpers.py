"""Shared checks of the trainer-integration tests: a run directory against the contract.

``check_run_directory`` validates every line and metadata file against ``schemas/`` and loads
the directory with ``dashboard.load_training_state``; ``render_page`` runs the Streamlit page on
it in an AppTest and closes the cached watcher afterwards (no thread left running).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from logger_helpers import REPO, read_records, validate_metadata, validate_record

__all__ = ["check_run_directory", "render_page"]


def check_run_directory(directory: Path) -> tuple[list[dict[str, Any]], Any]:
    """``(records, state)`` of a directory whose lines and metadata all follow the schemas."""
    records = read_records(directory / "training_log.jsonl")
    assert records and records[0]["event_type"] == "run_start"
    for record in records:
        validate_record(record)
    metadata = sorted(directory.glob("metadata_*.json"))
    assert metadata, "no metadata file"
    for path in metadata:
        data = json.loads(path.read_text(encoding="utf-8"))
        validate_metadata(data)
        assert path.name == f"metadata_{data['step']}.json"
    from dashboard import load_training_state

    state = load_training_state(directory)
    assert state.bad_line_count == 0, state.bad_lines
    assert not state.restarts, state.restarts
    assert state.metadata is not None
    return records, state


def render_page(directory: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The run page on ``directory`` in an AppTest, after one run without exceptions."""
    st = pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(directory))
    try:
        at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=60).run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    finally:
        st.cache_resource.clear()  # closes the cached RunWatcher and its threads
