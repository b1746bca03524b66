"""Shared helpers for the CurriculumLogger tests (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO / "schemas"
EVENT_TYPES = ("metric", "growth", "consolidation", "stage", "run_start", "run_end")
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


def _validators() -> dict[str, Draft202012Validator]:
    out = {}
    for name in (*EVENT_TYPES, "metadata"):
        schema = load_schema(name)
        Draft202012Validator.check_schema(schema)
        out[name] = Draft202012Validator(schema)
    return out


VALIDATORS = _validators()


def validate_record(record: dict[str, Any]) -> None:
    """Raise if ``record`` (one JSON line) breaks its event type's schema or the logger's rules."""
    assert isinstance(record, dict), record
    for key in ("event_type", "step", "wall_time"):
        assert key in record, f"{key} missing from {record}"
    VALIDATORS[record["event_type"]].validate(record)


def validate_metadata(record: dict[str, Any]) -> None:
    VALIDATORS["metadata"].validate(record)


def read_lines(path: Path) -> tuple[list[dict[str, Any]], bytes]:
    """Complete lines of ``path`` parsed with orjson, and the trailing bytes after the last \\n."""
    data = path.read_bytes()
    *complete, tail = data.split(b"\n")
    return [orjson.loads(line) for line in complete], tail


def read_records(path: Path) -> list[dict[str, Any]]:
    records, tail = read_lines(path)
    assert tail == b"", f"file ends with an incomplete line: {tail[:80]!r}"
    return records


def as_float(value: Any) -> Any:
    """Undo the non-finite encoding: "NaN"/"Infinity"/"-Infinity" -> floats, recursively."""
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, dict):
        return {k: as_float(v) for k, v in value.items()}
    return value


def same_number(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b) and type(a) is type(b)
