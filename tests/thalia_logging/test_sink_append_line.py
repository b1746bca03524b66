"""``JsonlSink.append_line``, the logger's hot path, keeps the contract its docstring states, and
the logger writes metric lines only through it (never through the sink's private state); the
metric record is built in one place, ``events.metric_record``."""

from __future__ import annotations

import ast
import errno
import inspect
import os
from pathlib import Path
from typing import Any

import pytest

from thalia_logging import CurriculumLogger, events, logger
from thalia_logging.sink import JsonlSink, LogWriteError, NullSink


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def test_append_line_flushes_by_count_and_by_the_callers_clock(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    sink = JsonlSink(path, flush_every=3, flush_interval_s=1.0, background_flush=False)
    sink.append_line(b'{"a":1}\n', 100.0)  # the first line goes out at once
    assert _lines(path) == [b'{"a":1}\n'] and sink.pending == 0
    sink.append_line(b'{"a":2}\n', 100.2)
    sink.append_line(b'{"a":3}\n', 100.4)
    assert sink.pending == 2  # neither count (3) nor time (1 s) says so yet
    sink.append_line(b'{"a":4}\n', 100.5)  # three queued: the count flushes
    assert sink.pending == 0 and len(_lines(path)) == 4
    sink.append_line(b'{"a":5}\n', 101.4)
    assert sink.pending == 1
    sink.append_line(b'{"a":6}\n', 101.6)  # 1 s after the last write: the time flushes
    assert sink.pending == 0
    assert [line[-1:] for line in _lines(path)] == [b"\n"] * 6
    assert _lines(path)[-1] == b'{"a":6}\n'  # in order
    sink.close()


def test_append_line_keeps_lines_on_a_write_error_and_raises_only_when_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    full = {"on": False}

    def write(fd: int, data: Any) -> int:
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    path = tmp_path / "log.jsonl"
    lenient = JsonlSink(path, flush_every=1, background_flush=False)
    strict = JsonlSink(
        tmp_path / "strict.jsonl", flush_every=1, background_flush=False, strict=True
    )
    monkeypatch.setattr(os, "write", write)
    full["on"] = True
    lenient.append_line(b'{"a":1}\n', 0.0)  # said through logging, not raised
    assert lenient.pending == 1 and isinstance(lenient.write_error, OSError)
    with pytest.raises(LogWriteError):
        strict.append_line(b'{"a":1}\n', 0.0)
    assert strict.pending == 1
    full["on"] = False
    lenient.append_line(b'{"a":2}\n', 5.0)
    strict.append_line(b'{"a":2}\n', 5.0)
    assert _lines(path) == [b'{"a":1}\n', b'{"a":2}\n']
    assert _lines(tmp_path / "strict.jsonl") == [b'{"a":1}\n', b'{"a":2}\n']
    lenient.close()
    strict.close()


def test_null_sink_has_the_hot_path_too() -> None:
    NullSink().append_line(b"{}\n", 0.0)


def test_logger_writes_metric_lines_through_append_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bytes, float]] = []
    original = JsonlSink.append_line

    def spy(self: JsonlSink, line: bytes, now: float) -> None:
        seen.append((line, now))
        original(self, line, now)

    monkeypatch.setattr(JsonlSink, "append_line", spy)
    with CurriculumLogger(tmp_path, console_log=False, clock=lambda: 7.0) as log:
        log.log_metrics(3, 0.1, 0.5, 0.9, 1.25, {"cortex": 4}, {"cortex": 0.5})
    assert len(seen) == 1 and seen[0][1] == 7.0 and seen[0][0].endswith(b"\n")
    assert b'"event_type":"metric"' in seen[0][0]


def test_the_logger_touches_no_private_attribute_of_the_sink() -> None:
    source = inspect.getsource(logger)
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "_sink"
        ):
            assert not node.attr.startswith("_"), f"logger reaches into sink.{node.attr}"
    assert ".core" not in source and "queue" not in source


def test_the_metric_record_is_built_in_events_only() -> None:
    assert '"event_type": "metric"' not in inspect.getsource(logger)
    plain = events.metric_record(1.0, 5, 0.1, 0.2, 0.3, 0.4, {"r": 1}, {"r": 0.5})
    assert plain == events.metric_event(1.0, 5, 0.1, 0.2, 0.3, 0.4, {"r": 1}, {"r": 0.5})
    assert list(plain)[:3] == ["event_type", "step", "wall_time"]
    # anything off the common shape goes to the full validator, with its answer
    assert events.metric_record(1.0, 5, 1, None, 0.3, 0.4, None, None) == events.metric_event(
        1.0, 5, 1, None, 0.3, 0.4, None, None
    )
