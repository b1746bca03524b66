"""The TypedDicts of thalia_logging.records stay in step with schemas/."""

from __future__ import annotations

import pytest
from logger_helpers import load_schema

from thalia_logging import records

PAIRS = [
    ("metric", records.MetricRecord),
    ("growth", records.GrowthRecord),
    ("consolidation", records.ConsolidationRecord),
    ("stage", records.StageRecord),
    ("run_start", records.RunStartRecord),
    ("run_end", records.RunEndRecord),
    ("metadata", records.MetadataRecord),
]


@pytest.mark.parametrize(("name", "typed"), PAIRS, ids=[p[0] for p in PAIRS])
def test_same_fields_as_schema(name: str, typed: type) -> None:
    schema = load_schema(name)
    assert set(typed.__annotations__) == set(schema["properties"])


@pytest.mark.parametrize(("name", "typed"), PAIRS, ids=[p[0] for p in PAIRS])
def test_schema_required_fields_are_required(name: str, typed: type) -> None:
    schema = load_schema(name)
    required = set(schema["required"])
    if name == "metric":
        required.add("event_type")  # optional for older logs, always written by the logger
    assert required <= typed.__required_keys__  # type: ignore[attr-defined]


def test_event_types_and_version() -> None:
    assert set(records.EVENT_TYPES) == {p[0] for p in PAIRS} - {"metadata"}
    for name in records.EVENT_TYPES:
        assert load_schema(name)["x-schema-version"] == records.SCHEMA_VERSION
    assert load_schema("run_start")["properties"]["schema_version"]["const"] == 2


def test_warning_record_matches_schema() -> None:
    warning = load_schema("metadata")["$defs"]["warning"]["oneOf"][1]
    assert set(records.WarningRecord.__annotations__) == set(warning["properties"])
    assert set(warning["properties"]["severity"]["enum"]) == {"info", "warning", "critical"}
