from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

import pytest
from reader_helpers import line

from dashboard.reading.fs import LocalFileSystem
from dashboard.reading.line_parser import EVENT_KINDS, BadRecord, parse_line
from dashboard.reading.linebuffer import Block, split_lines
from dashboard.reading.tailer import Reset, Tailer

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def _new_lines(tailer: Tailer) -> list[tuple[int, bytes]]:
    """The new complete lines as ``(offset, line)``; overlong reports and resets are dropped."""
    return [
        pair
        for item in tailer.read_blocks()
        if isinstance(item, Block)
        for pair in split_lines(item)
    ]


def test_tailer_offsets_read_only_and_resets(tmp_path: Path) -> None:
    path = tmp_path / "log"
    modes: list[str] = []

    class RecordingFS(LocalFileSystem):
        def open(self, path: str) -> IO[bytes]:
            fh = super().open(path)
            modes.append(fh.mode)
            return fh

    tailer = Tailer(path, fs=RecordingFS())
    assert _new_lines(tailer) == []  # missing file: nothing
    path.write_bytes(b"a\nbb\nc")
    assert _new_lines(tailer) == [(0, b"a"), (2, b"bb")]
    assert tailer.offset == 5 and tailer.position == 6
    opened = len(modes)
    assert list(tailer.read_blocks()) == [] and len(modes) == opened  # nothing new: not even opened
    with open(path, "ab") as fh:
        fh.write(b"c\n")
    assert _new_lines(tailer) == [(5, b"cc")]
    path.write_bytes(b"x\n")  # shrank
    first, *rest = tailer.read_blocks()
    assert first == Reset("truncated") and rest[0].data == b"x\n"  # type: ignore[union-attr]
    tmp = tmp_path / "new"
    tmp.write_bytes(b"y\n")
    os.link(path, tmp_path / "keep")
    os.replace(tmp, path)
    items = list(tailer.read_blocks())
    assert items[0] == Reset("replaced") and items[1].data == b"y\n"  # type: ignore[union-attr]
    assert set(modes) == {"rb"}


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


VALID = {
    "metric": {"event_type": "metric", "step": 1},
    "growth": {
        "event_type": "growth",
        "step": 1,
        "region": "a",
        "neurons_added": 1,
        "new_total": 2,
    },
    "consolidation": {
        "event_type": "consolidation",
        "step": 1,
        "sleep_stage": "REM",
        "patterns_replayed": 1,
        "duration_steps": 1,
    },
    "stage": {"event_type": "stage", "step": 1, "stage": 0},
    "run_start": {
        "event_type": "run_start",
        "step": 0,
        "schema_version": 2,
        "run_id": "r",
        "resumed_from_step": None,
        "config": {},
        "host": "h",
        "pid": 7,
    },
    "run_end": {
        "event_type": "run_end",
        "step": 3,
        "status": "failed",
        "error_type": "E",
        "message": "m",
    },
}


def test_parser_knows_exactly_the_schema_event_types() -> None:
    names = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")} - {
        "metadata"
    }
    assert names == set(EVENT_KINDS) == set(VALID)
    for name in names:
        assert _schema(name)["properties"]["event_type"]["const"] == name


@pytest.mark.parametrize("event", sorted(VALID))
def test_required_fields_follow_the_schemas(event: str) -> None:
    import jsonschema

    schema = _schema(event)
    jsonschema.validate(VALID[event], schema)
    parse_line(line(VALID[event]))
    for field in schema["required"]:
        if field == "event_type":
            continue  # a line without event_type is a metric line (checked in test_reader)
        broken = {k: v for k, v in VALID[event].items() if k != field}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
        with pytest.raises(BadRecord):
            parse_line(line(broken))
