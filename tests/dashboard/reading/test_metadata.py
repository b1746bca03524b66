from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import IO

import pytest

from dashboard import HealthWarning, RunWatcher, load_training_state
from dashboard.reading.fs import LocalFileSystem
from dashboard.reading.metadata import MetadataScanner, normalise_warnings


def write(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj))


def test_latest_is_by_inner_step_not_file_name(tmp_path: Path) -> None:
    write(tmp_path / "metadata_900.json", {"step": 100, "current_stage": 0})
    write(
        tmp_path / "metadata_a.json", {"step": 5000, "current_stage": 2, "metrics": {"loss": "NaN"}}
    )
    write(tmp_path / "metadata_50000.json", {"step": 300, "current_stage": 1})
    state = load_training_state(tmp_path)
    assert state.metadata_file == "metadata_a.json"
    assert state.metadata is not None and state.metadata["current_stage"] == 2
    assert math.isnan(state.metadata["metrics"]["loss"])


def test_half_written_metadata_keeps_previous(tmp_path: Path) -> None:
    clock = [0.0]
    good = tmp_path / "metadata_1.json"
    write(good, {"step": 1, "current_stage": 0, "warnings": ["slow"]})
    with RunWatcher(tmp_path, use_watchdog=False, clock=lambda: clock[0]) as w:
        assert w.refresh().metadata_file == "metadata_1.json"
        (tmp_path / "metadata_2.json").write_text('{"step": 2, "current_st')
        good.write_text('{"step": 1, "curr')  # the previous file rewritten half-way
        clock[0] += 10
        state = w.refresh()
        assert state.metadata_file == "metadata_1.json" and state.metadata["step"] == 1  # type: ignore[index]
        assert state.warnings == (HealthWarning("warning", "slow"),)
        assert state.bad_line_count == 2
        assert {(b.file, b.offset) for b in state.bad_lines} == {
            ("metadata_1.json", 0),
            ("metadata_2.json", 0),
        }
        clock[0] += 10
        assert w.refresh().bad_line_count == 2  # unchanged files are not re-read nor re-reported
        write(tmp_path / "metadata_2.json", {"step": 2, "current_stage": 1})
        clock[0] += 10
        assert w.refresh().metadata_file == "metadata_2.json"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["a"], (HealthWarning("warning", "a"),)),
        ([{"severity": "critical", "message": "b"}], (HealthWarning("critical", "b"),)),
        ([{"severity": "odd", "message": "c"}], (HealthWarning("warning", "c"),)),
        (
            [{"severity": "info", "message": "d"}, "e"],
            (HealthWarning("info", "d"), HealthWarning("warning", "e")),
        ),
        ("not a list", ()),
    ],
)
def test_warnings_normalised(raw: object, expected: tuple[HealthWarning, ...]) -> None:
    assert normalise_warnings(raw) == expected


@pytest.mark.parametrize(
    "content", [b"", b"[1]", b'{"step": "x", "current_stage": 0}', b'{"step": 1}']
)
def test_invalid_metadata_is_a_bad_line(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "metadata_1.json").write_bytes(content)
    state = load_training_state(tmp_path)
    assert state.metadata is None and state.bad_line_count == 1


def test_unchanged_metadata_is_not_read_again(tmp_path: Path) -> None:
    reads: list[str] = []

    class CountingFS(LocalFileSystem):
        def open(self, path: str) -> IO[bytes]:
            reads.append(path)
            return super().open(path)

    write(tmp_path / "metadata_1.json", {"step": 1, "current_stage": 0, "updated_at": 123.0})
    scanner = MetadataScanner(str(tmp_path), fs=CountingFS())
    assert scanner.update(["metadata_1.json"]) == (True, [])
    assert scanner.update(["metadata_1.json"]) == (False, [])
    assert len(reads) == 1 and scanner.latest_mtime == 123.0
    os.remove(tmp_path / "metadata_1.json")
    assert scanner.update([]) == (True, []) and scanner.latest is None
