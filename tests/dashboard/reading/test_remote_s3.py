"""Remote checkpoint directories against a real S3-protocol server (moto) on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard import RunWatcher, load_training_state
from dashboard.reading.remote_fs import FsspecFileSystem, filesystem_for
from dashboard.reading.tailer import FINGERPRINT_BYTES
from tests.s3_server import FAST_FAIL, S3, metric_lines, s3_server

URL = "s3://runs/run1"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    with s3_server(monkeypatch) as server:
        yield server


def _watcher(url: str = URL, **options: Any) -> tuple[RunWatcher, FsspecFileSystem]:
    fs, location = filesystem_for(url, {**FAST_FAIL, **options})
    assert isinstance(fs, FsspecFileSystem)
    return RunWatcher(location, fs=fs, poll_interval_s=0), fs


def test_a_run_uploaded_there_loads_through_s3(s3: S3) -> None:
    s3.put("runs/run1/training_log.jsonl", metric_lines(0, 50))
    meta = {"step": 49, "current_stage": 1, "metrics": {"loss": 0.02}, "warnings": ["slow"]}
    s3.put("runs/run1/metadata_49.json", json.dumps(meta).encode())
    s3.put("runs/run1/checkpoint_49.pt", b"\0" * 100)
    state = load_training_state(URL + "/", storage_options=FAST_FAIL)
    assert state.error is None and state.exists
    assert state.where == URL and state.url == URL
    assert list(state.metrics_history["step"]) == list(range(50))
    assert state.metadata is not None and state.metadata["current_stage"] == 1
    assert [w.message for w in state.warnings] == ["slow"]
    assert state.log_files == ("training_log.jsonl",)


def test_a_missing_prefix_waits(s3: S3) -> None:
    state = load_training_state("s3://runs/not-yet", storage_options=FAST_FAIL)
    assert not state.exists and state.error is None


def test_a_growing_object_is_tailed_by_range_reads(s3: S3) -> None:
    history = metric_lines(0, 2000)
    s3.put("runs/run1/training_log.jsonl", history)
    watcher, fs = _watcher()
    assert len(watcher.refresh().metrics_history) == 2000
    assert fs.bytes_fetched == len(history)
    for grow in range(3):
        new = metric_lines(2000 + 10 * grow, 2010 + 10 * grow)
        history += new
        s3.put("runs/run1/training_log.jsonl", history)  # re-uploaded whole, longer
        before, requests = fs.bytes_fetched, fs.requests
        state = watcher.refresh()
        fetched = fs.bytes_fetched - before
        # the new bytes plus the two fingerprints that prove the old bytes are unchanged
        assert len(new) <= fetched <= len(new) + 2 * FINGERPRINT_BYTES
        assert fs.requests - requests == 2  # the head, then the tail through to the end
        assert len(state.metrics_history) == 2010 + 10 * grow
        assert state.restarts == ()
    before = fs.bytes_fetched
    watcher.refresh()  # nothing new: a listing, no object bytes
    assert fs.bytes_fetched == before


def test_an_incomplete_last_line_waits_for_its_newline(s3: S3) -> None:
    lines = metric_lines(0, 5)
    s3.put("runs/run1/training_log.jsonl", lines + b'{"event_type": "metric", "st')
    watcher, _ = _watcher()
    assert len(watcher.refresh().metrics_history) == 5
    s3.put("runs/run1/training_log.jsonl", lines + metric_lines(5, 6))
    state = watcher.refresh()
    assert list(state.metrics_history["step"]) == list(range(6)) and state.bad_line_count == 0


@pytest.mark.parametrize("longer", [False, True], ids=["same-size", "longer"])
def test_a_rewritten_object_is_detected(s3: S3, longer: bool) -> None:
    s3.put("runs/run1/training_log.jsonl", metric_lines(0, 100, wall0=1000.0))
    watcher, _ = _watcher()
    assert watcher.refresh().metrics_history["wall_time"].iloc[0] == 1000.0
    rewritten = metric_lines(0, 150 if longer else 100, wall0=2000.0)
    assert longer or len(rewritten) == len(metric_lines(0, 100, wall0=1000.0))
    s3.put("runs/run1/training_log.jsonl", rewritten)
    state = watcher.refresh()
    assert state.restarts and state.restarts[0].kind in ("truncated", "replaced")
    assert state.metrics_history["wall_time"].iloc[0] == 2000.0
    assert len(state.metrics_history) == (150 if longer else 100)


def test_bad_credentials_say_so_and_keep_the_data(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import settings

    s3.put("runs/run1/training_log.jsonl", metric_lines(0, 20))
    watcher, _ = _watcher()
    assert len(watcher.refresh().metrics_history) == 20
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # the server checks keys now
    s3.client.invalidate_cache()
    state = watcher.refresh()
    assert state.error is not None and "cannot list s3://runs/run1" in state.error
    assert "AWS_ACCESS_KEY_ID" in state.error  # says what to check
    assert len(state.metrics_history) == 20  # nothing read is lost
    assert watcher.poll_delay_s > watcher.poll_interval_s  # backs off while failing


def test_a_stopped_server_says_so_keeps_the_data_and_recovers(
    s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put("runs/run1/training_log.jsonl", metric_lines(0, 30))
    watcher, _ = _watcher()
    assert len(watcher.refresh().metrics_history) == 30
    s3.stop()
    state = watcher.refresh()
    assert state.error is not None and "Could not connect" in state.error
    assert "AWS_ENDPOINT_URL" in state.error
    assert len(state.metrics_history) == 30
    first, second = watcher.poll_delay_s, None
    watcher.mark_dirty()
    watcher.refresh()
    second = watcher.poll_delay_s
    assert watcher.poll_interval_s < first < second  # doubling while the server is away
    s3.server.start()  # back on the same port, with the same objects
    s3.put("runs/run1/training_log.jsonl", metric_lines(0, 31))
    watcher.mark_dirty()
    state = watcher.refresh()
    assert state.error is None and len(state.metrics_history) == 31
    assert watcher.poll_delay_s == watcher.poll_interval_s


def test_no_observer_thread_for_a_url(s3: S3) -> None:
    with RunWatcher(URL, storage_options=FAST_FAIL) as watcher:
        assert watcher.observer is None and watcher.remote
        assert watcher.poll_interval_s >= 5.0


def test_segment_mode_written_to_s3_is_read_live(s3: S3) -> None:
    from thalia_logging import CurriculumLogger

    clock = [1000.0]
    url = "s3://runs/live"
    watcher, fs = _watcher(url)
    assert not watcher.refresh().exists  # nothing there yet: waited for
    with CurriculumLogger(
        url, segment_every_s=10, clock=lambda: clock[0], console_log=False,
        background_flush=False, storage_options=FAST_FAIL,
    ) as logger:  # fmt: skip
        seen = []
        for step in range(40):
            clock[0] += 1
            logger.log_metrics(step, loss=1.0 / (step + 1))
            if step % 10 == 9:
                seen.append(len(watcher.refresh().metrics_history))
        assert seen == sorted(seen) and 0 < seen[-1] < 40  # lags by up to one segment
        assert logger.write_metadata(39, current_stage=2) == url + "/metadata_39.json"
        before = fs.bytes_fetched
        state = watcher.refresh()
        assert list(state.metrics_history["step"]) == list(range(40))  # flushed first
        assert state.metadata is not None and state.metadata["current_stage"] == 2
        fetched = fs.bytes_fetched - before
    names = [n.rsplit("/", 1)[-1] for n in s3.client.ls("runs/live")]
    assert "training_log.000000.jsonl" in names and "console.log" not in names
    state = watcher.refresh()
    assert state.run_ends is not None and len(state.run_ends) == 1
    assert state.error is None and state.restarts == () and state.bad_line_count == 0
    assert fetched < 2000  # only the new segment and the metadata, not the history


def test_a_logger_writing_to_a_stopped_server_keeps_training(
    s3: S3, caplog: pytest.LogCaptureFixture
) -> None:
    from thalia_logging import CurriculumLogger

    logger = CurriculumLogger(
        "s3://runs/down", segment_every_s=3600, console_log=False, background_flush=False,
        storage_options=FAST_FAIL,
    )  # fmt: skip
    logger.log_metrics(1, loss=1.0)
    logger.flush()
    s3.stop()
    logger.log_metrics(2, loss=0.5)
    logger.flush()  # never raises (strict=False): the lines are kept for a retry
    assert logger.write_error is not None and logger.pending_lines == 1
    assert "cannot write s3://runs/down/training_log." in str(logger.write_error)
    logger.close()
    assert logger.lost_lines == 2  # the kept line and run_end, said in the log
    assert any("lines unwritten" in r.message for r in caplog.records)


def test_the_console_tail_is_read_remotely_and_only_when_it_changed(s3: S3) -> None:
    s3.put("runs/run1/training_log.jsonl", metric_lines(0, 5))
    watcher, fs = _watcher()
    assert watcher.read_log_tail() is None  # no console.log yet
    s3.put("runs/run1/console.log", b"one\ntwo\n")
    watcher.refresh()  # the poll lists the directory; the tail's stat comes from that listing
    assert watcher.read_log_tail() == "one\ntwo"
    requests = fs.requests
    assert watcher.read_log_tail() == "one\ntwo"
    assert fs.requests == requests  # unchanged: nothing fetched
    s3.put("runs/run1/console.log", b"one\ntwo\nthree\n")
    watcher.refresh()
    assert watcher.read_log_tail() == "one\ntwo\nthree"
