"""Flush policy of the JSONL sink: by count, by time, every line, on close, in a fork."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from logger_helpers import read_records

from thalia_logging.sink import JsonlSink


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines() if path.exists() else []


def test_flush_by_count(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    sink = JsonlSink(path, flush_every=3, background_flush=False)
    sink.write(b"{}\n", 0.0)  # the first line goes out at once (no flush yet)
    sink.write(b"{}\n", 0.0)
    sink.write(b"{}\n", 0.0)
    assert len(_lines(path)) == 1 and sink.pending == 2
    sink.write(b"{}\n", 0.0)
    assert len(_lines(path)) == 4 and sink.pending == 0
    sink.close()


def test_flush_by_time_on_the_callers_clock(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    sink = JsonlSink(path, flush_every=1000, flush_interval_s=1.0, background_flush=False)
    sink.write(b"{}\n", 100.0)
    sink.write(b"{}\n", 100.5)
    assert sink.pending == 1
    sink.write(b"{}\n", 101.0)
    assert sink.pending == 0 and len(_lines(path)) == 3
    sink.write(b"{}\n", None)  # no clock: only count and flush() apply
    assert sink.pending == 1
    sink.flush()
    assert len(_lines(path)) == 4
    sink.close()
    sink.close()  # idempotent


def test_background_flusher_writes_when_the_trainer_goes_quiet(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    sink = JsonlSink(path, flush_every=1000, flush_interval_s=0.01)
    sink.write(b"{}\n", 1.0)
    sink.write(b"{}\n", 1.0)
    deadline = time.monotonic() + 10
    while len(_lines(path)) < 2:  # poll with a deadline: the thread flushes on its own
        assert time.monotonic() < deadline, "flusher thread never wrote the buffered line"
        time.sleep(0.005)
    thread = sink.flusher_thread
    sink.close()
    assert thread is not None and not thread.is_alive()


def test_flush_every_line_has_no_thread(make_logger, tmp_path: Path) -> None:
    logger = make_logger(flush_every_line=True, clock=lambda: 5.0)
    assert logger._sink.flusher_thread is None
    for step in range(3):
        logger.log_metrics(step, loss=1.0)
        assert len(_lines(tmp_path / "training_log.jsonl")) == step + 2


def test_bad_policy(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flush_every must be an int >= 1"):
        JsonlSink(tmp_path / "x", flush_every=0)
    with pytest.raises(ValueError, match="flush_interval_s"):
        JsonlSink(tmp_path / "x", flush_interval_s=0)


def test_torn_tail_is_ended_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"step":1}\n{"step":2,"lo')
    sink = JsonlSink(path, background_flush=False)
    sink.write(b'{"step":3}\n')
    sink.close()
    assert path.read_bytes() == b'{"step":1}\n{"step":2,"lo\n{"step":3}\n'


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_does_not_repeat_parent_lines(make_logger, tmp_path: Path) -> None:
    logger = make_logger(flush_every=1000, background_flush=False, clock=lambda: 1.0)
    for step in range(5):
        logger.log_metrics(step)
    pid = os.fork()
    if pid == 0:  # child: log one line of its own, flush, leave without atexit
        code = 0
        try:
            logger.log_metrics(100)
            logger.flush()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    logger.close()
    steps = [
        r["step"]
        for r in read_records(tmp_path / "training_log.jsonl")
        if r["event_type"] != "run_end"
    ]
    assert sorted(steps) == [0, 0, 1, 2, 3, 4, 100]


def test_no_thread_when_json_log_off(make_logger, tmp_path: Path) -> None:
    logger = make_logger(json_log=False, file_log=False)
    logger.log_metrics(1, loss=0.5)
    logger.close()
    assert not (tmp_path / "training_log.jsonl").exists()
    assert sys.getrefcount(logger) > 0


def test_a_fragment_that_could_not_be_cut_stays_a_line_of_its_own(tmp_path: Path) -> None:
    """The fallback when ftruncate fails: the next write starts with a newline."""
    path = tmp_path / "log.jsonl"
    sink = JsonlSink(path, flush_every=1, background_flush=False)
    sink.write(b'{"step":0}\n')
    with open(path, "ab") as f:  # what a short write leaves when the cut failed
        f.write(b'{"step":1,"lo')
    sink.core.need_newline = True
    sink.write(b'{"step":2}\n')
    sink.close()
    assert path.read_bytes().split(b"\n") == [b'{"step":0}', b'{"step":1,"lo', b'{"step":2}', b""]
