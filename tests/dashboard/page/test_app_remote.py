"""The run page over an ``s3://`` URL (moto on 127.0.0.1), in Streamlit's AppTest: the run is
shown under its URL, storage options come from THALIA_STORAGE_OPTIONS, and a store that cannot
be reached from the start is said as an error, not as a directory still to appear."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from test_app import APP

from dashboard.reading.storage_options import STORAGE_OPTIONS_ENV
from tests.s3_server import FAST_FAIL, S3, metric_lines, s3_server

URL = "s3://runs/page-run"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    with s3_server(monkeypatch) as server:
        monkeypatch.setenv(STORAGE_OPTIONS_ENV, json.dumps(FAST_FAIL))
        monkeypatch.setenv("THALIA_CHECKPOINT_DIR", URL)
        yield server
    st.cache_resource.clear()  # on_release closes every cached RunWatcher


def test_a_remote_run_on_the_page(s3: S3) -> None:
    s3.put("runs/page-run/training_log.jsonl", metric_lines(0, 30))
    s3.put("runs/page-run/console.log", b"step 28 loss=0.03\nstep 29 loss=0.03\n")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"Run: {URL}" in [t.value for t in at.text]
    assert "step 29 loss=0.03" in at.code[-1].value  # the console tail, read remotely
    assert {m.label: m.value for m in at.metric}["Training step"] == "29"
    assert not at.error


def test_an_unreachable_store_is_an_error_not_a_wait(s3: S3) -> None:
    s3.stop()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert errors and "cannot be read now" in errors[0] and "Could not connect" in errors[0]
    assert not any("Waiting for the checkpoint directory" in i.value for i in at.info)
