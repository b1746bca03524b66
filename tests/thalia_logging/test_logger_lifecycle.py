"""run_end from the logger's side: once per logger, failed from a with block, signal handlers
installed while open and restored on close (the subprocess cases live in
tests/dashboard/analysis/test_lifecycle.py)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest
from logger_helpers import read_records, validate_record

from thalia_logging import CurriculumLogger


def _open(tmp_path: Path, **kw: object) -> CurriculumLogger:
    return CurriculumLogger(tmp_path, console_log=False, file_log=False, **kw)  # type: ignore[arg-type]


def test_with_block_exception_is_failed_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError), _open(tmp_path) as logger:
        logger.log_metrics(7, loss=0.5)
        raise ValueError("bad batch")
    records = read_records(tmp_path / "training_log.jsonl")
    ends = [r for r in records if r["event_type"] == "run_end"]
    assert ends == [
        {
            **ends[0],
            "status": "failed",
            "error_type": "ValueError",
            "message": "bad batch",
            "step": 7,
        }
    ]
    validate_record(ends[0])


def test_end_run_first_wins_and_close_adds_nothing(tmp_path: Path) -> None:
    logger = _open(tmp_path)
    logger.end_run("killed", None, "preempted")
    logger.close()
    logger.close()
    ends = [
        r for r in read_records(tmp_path / "training_log.jsonl") if r["event_type"] == "run_end"
    ]
    assert [e["status"] for e in ends] == ["killed"] and ends[0]["message"] == "preempted"


def test_signal_handlers_installed_while_open_and_restored(tmp_path: Path) -> None:
    def mine(signum: int, frame: object) -> None:
        pass

    before_int = signal.getsignal(signal.SIGINT)
    previous = signal.signal(signal.SIGTERM, mine)
    try:
        a = _open(tmp_path / "a")
        b = _open(tmp_path / "b")
        assert signal.getsignal(signal.SIGTERM) is not mine
        a.close()
        assert signal.getsignal(signal.SIGTERM) is not mine  # b is still open
        b.close()
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is before_int
        c = _open(tmp_path / "c", handle_signals=False)
        assert signal.getsignal(signal.SIGTERM) is mine
        c.close()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_no_handlers_from_another_thread(tmp_path: Path) -> None:
    seen: list[object] = []

    def work() -> None:
        logger = _open(tmp_path)
        seen.append(signal.getsignal(signal.SIGTERM))
        logger.close()

    before = signal.getsignal(signal.SIGTERM)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [before]
