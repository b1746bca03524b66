"""The shared vocabulary (thalia_logging.contract) stays in step with schemas/ and its users."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, get_args, get_type_hints

from thalia_logging import contract, records
from thalia_logging.records import MetricRecord, WarningRecord

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def test_event_types_are_the_event_schemas() -> None:
    files = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    assert set(contract.EVENT_TYPES) == files - {"metadata"}
    assert len(set(contract.EVENT_TYPES)) == len(contract.EVENT_TYPES)
    for event_type in contract.EVENT_TYPES:
        assert _schema(event_type)["properties"]["event_type"]["const"] == event_type
    assert contract.EVENT_TYPES[0] == "metric"  # a line without event_type is a metric line


def test_non_finite_strings_are_the_schema_enum() -> None:
    number = _schema("metric")["$defs"]["number"]["oneOf"]
    enum = next(item["enum"] for item in number if "enum" in item)
    assert list(contract.NON_FINITE) == enum
    assert math.isnan(contract.NON_FINITE["NaN"])
    assert (
        contract.NON_FINITE["Infinity"] == math.inf
        and contract.NON_FINITE["-Infinity"] == -math.inf
    )
    for text, value in contract.NON_FINITE.items():
        assert contract.non_finite_text(value) == text


def test_schema_version_is_the_schema_const() -> None:
    assert _schema("run_start")["properties"]["schema_version"]["const"] == contract.SCHEMA_VERSION
    # metadata of every version so far stays valid; the newest is the one the logger writes
    assert (
        max(_schema("metadata")["properties"]["schema_version"]["enum"]) == contract.SCHEMA_VERSION
    )
    assert records.SCHEMA_VERSION is contract.SCHEMA_VERSION
    assert records.EVENT_TYPES is contract.EVENT_TYPES


def test_severities_are_the_schema_enum_in_order() -> None:
    warning = _schema("metadata")["$defs"]["warning"]["oneOf"]
    enum = next(item for item in warning if item.get("type") == "object")["properties"]["severity"][
        "enum"
    ]
    assert contract.SEVERITIES == tuple(enum) == ("info", "warning", "critical")
    assert get_args(get_type_hints(WarningRecord)["severity"]) == contract.SEVERITIES


def test_core_metrics_are_metric_schema_fields() -> None:
    properties = _schema("metric")["properties"]
    assert all(name in properties for name in contract.CORE_METRICS)
    assert all(name in MetricRecord.__annotations__ for name in contract.CORE_METRICS)


def test_file_names() -> None:
    assert contract.rank_log_name(0) == contract.LOG_NAME == "training_log.jsonl"
    assert contract.rank_log_name(3) == "training_log.rank3.jsonl"
    match = contract.RANK_LOG_PATTERN.match(contract.rank_log_name(12))
    assert match is not None and match.group(1) == "12"
    assert contract.RANK_LOG_PATTERN.match(contract.LOG_NAME) is None
    assert re.fullmatch(contract.RANK_LOG_GLOB.replace(".", r"\.").replace("*", r"\d+"),
                        contract.rank_log_name(5))  # fmt: skip
    assert contract.metadata_name(40) == "metadata_40.json"
    assert contract.is_metadata_name(contract.metadata_name(40))
    assert not contract.is_metadata_name(contract.LOG_NAME)
    assert Path(contract.metadata_name(7)).match(contract.METADATA_GLOB)


def test_reader_knows_every_event_type_and_severity() -> None:
    from dashboard.reading.line_parser import EVENT_KINDS
    from dashboard.run_state import Severity

    assert tuple(EVENT_KINDS) == contract.EVENT_TYPES
    assert get_args(Severity) == contract.SEVERITIES
