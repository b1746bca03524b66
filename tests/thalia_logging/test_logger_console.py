"""Console one-liners go through logging ("thalia.curriculum"); console.log has timestamps."""

from __future__ import annotations

import io
import logging
import math
import re
from pathlib import Path

import pytest

from thalia_logging.console import (
    ConsoleLog,
    format_consolidation,
    format_growth,
    format_metrics,
    format_stage,
)


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "thalia.curriculum"]


def test_console_lines_through_logging(make_logger, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="thalia.curriculum")
    logger = make_logger(console_log=True, file_log=False, run_id="r1", console_every=1000)
    logger.log_metrics(5000, firing_rate=0.112, capacity=0.75, performance=0.92, loss=0.2341)
    logger.log_metrics(5001, loss=0.2)  # throttled: fewer than 1000 steps later
    logger.log_growth(5100, "cortex", 256, 4352, reason="capacity 0.91 > 0.90")
    logger.log_consolidation(5200, "REM", 150, 500)
    logger.log_stage(5300, 2, "phonology")
    logger.log_metrics(6000, loss=math.nan, neuron_counts={"a": 10, "b": 5})
    messages = _messages(caplog)
    assert messages[0].startswith("run r1 started (fresh run)")
    assert messages[1:] == [
        "step 5000 | loss 0.2341 | firing 0.112 | capacity 0.750 | perf 0.920",
        "step 5100 | growth | cortex grew by 256 neurons to 4352 (reason: capacity 0.91 > 0.90)",
        "step 5200 | consolidation | REM sleep replayed 150 patterns over 500 steps",
        "step 5300 | stage 2 entered: phonology",
        "step 6000 | loss nan | neurons 15",
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "thalia.curriculum")


def test_trainer_logging_config_applies(make_logger, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="thalia.curriculum")  # the trainer silences INFO
    logger = make_logger(console_log=True, file_log=True)
    logger.log_stage(1, 1, "x")
    assert _messages(caplog) == []
    logger.close()
    assert "stage 1 entered: x" in (logger.log_dir / "console.log").read_text()


def test_console_log_false_still_writes_console_file(make_logger, caplog, tmp_path: Path) -> None:
    caplog.set_level(logging.INFO, logger="thalia.curriculum")
    logger = make_logger(console_log=False, file_log=True)
    logger.log_growth(10, "cortex", 1, 2)
    logger.close()
    assert _messages(caplog) == []
    lines = (tmp_path / "console.log").read_text(encoding="utf-8").splitlines()
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO run .* started", lines[0])
    assert re.match(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO step 10 \| growth \| cortex", lines[1]
    )


def test_two_loggers_do_not_share_console_files(make_logger, tmp_path: Path) -> None:
    a = make_logger(tmp_path / "a", file_log=True)
    b = make_logger(tmp_path / "b", file_log=True)
    a.log_stage(1, 1, "only-a")
    b.log_stage(2, 2, "only-b")
    a.close()
    b.close()
    assert "only-b" not in (tmp_path / "a" / "console.log").read_text()
    assert "only-a" not in (tmp_path / "b" / "console.log").read_text()


def test_fallback_stream_when_logging_is_unconfigured() -> None:
    name = "thalia.test.unconfigured"
    logging.getLogger(name).propagate = False  # no handler anywhere up the chain
    stream = io.StringIO()
    console = ConsoleLog(".", console=True, file_log=False, stream=stream, logger_name=name)
    console.emit("step 1 | stage 1 entered")
    assert stream.getvalue().endswith("thalia: step 1 | stage 1 entered\n")
    logging.getLogger(name).setLevel(logging.WARNING)  # a level on our logger still counts
    console.emit("step 9 | silenced")
    assert "silenced" not in stream.getvalue()
    logging.getLogger(name).addHandler(handler := logging.StreamHandler(io.StringIO()))
    logging.getLogger(name).setLevel(logging.INFO)  # the trainer's own configuration
    try:
        console.emit("step 2 | stage 2 entered")  # configured now: the trainer's handler wins
        assert "stage 2" not in stream.getvalue()
        assert "stage 2" in handler.stream.getvalue()
    finally:
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger(name).propagate = True
        console.close()


def test_formatters() -> None:
    assert format_metrics(3, {"capacity": "Infinity", "performance": 1}) == (
        "step 3 | capacity inf | perf 1"
    )
    assert format_growth(1, "a", 2, 3, "") == "step 1 | growth | a grew by 2 neurons to 3"
    assert format_consolidation(1, "NREM", 0, 0).endswith(
        "NREM sleep replayed 0 patterns over 0 steps"
    )
    assert format_stage(4, 0, "") == "step 4 | stage 0 entered"


def test_throttle_prints_after_resume_going_back() -> None:
    console = ConsoleLog(".", console=False, file_log=False, every=100)
    assert [console.wants_metrics(s) for s in (0, 50, 100, 150, 20, 60, 120)] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
    ]
