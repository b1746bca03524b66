"""Typed shapes of every record the logger writes, mirroring ``schemas/`` (contract version 1).

These TypedDicts are documentation a type checker can hold code to: the logger builds plain
dicts of exactly these shapes and serialises them with orjson. ``tests/thalia_logging/
test_records.py`` keeps them in step with the JSON Schemas: the same property names, and every
field the schema requires is ``Required`` here.

A number field holds an ``int``, a finite ``float`` or one of the strings ``"NaN"``,
``"Infinity"``, ``"-Infinity"`` (see :mod:`thalia_logging.values`). Metric lines may carry any
further numeric field (``lr``, ``grad_norm``, ``gpu_mem_bytes``, ...), which a TypedDict cannot
spell; the schema allows them through ``additionalProperties``.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "ConsolidationRecord",
    "GrowthRecord",
    "MetadataRecord",
    "MetricRecord",
    "RunStartRecord",
    "StageRecord",
    "WarningRecord",
]

SCHEMA_VERSION = 1
"""Version of the on-disk contract written into ``run_start`` lines and metadata."""

EVENT_TYPES = ("metric", "growth", "consolidation", "stage", "run_start")
"""Every ``event_type`` the logger writes; each has ``schemas/{event_type}.schema.json``."""

NumberValue = int | float | str


class MetricRecord(TypedDict, total=False):
    """One metric line (``event_type`` "metric"); further numeric fields are allowed."""

    event_type: Required[Literal["metric"]]
    step: Required[int]
    wall_time: Required[float]
    firing_rate: NumberValue
    capacity: NumberValue
    performance: NumberValue
    loss: NumberValue
    neuron_counts: dict[str, int]
    capacity_by_region: dict[str, NumberValue]
    rank: int


class GrowthRecord(TypedDict, total=False):
    """A region grew by ``neurons_added`` to ``new_total`` neurons."""

    event_type: Required[Literal["growth"]]
    step: Required[int]
    wall_time: Required[float]
    region: Required[str]
    neurons_added: Required[int]
    new_total: Required[int]
    reason: Required[str]
    rank: int


class ConsolidationRecord(TypedDict, total=False):
    """A sleep-replay consolidation phase ran."""

    event_type: Required[Literal["consolidation"]]
    step: Required[int]
    wall_time: Required[float]
    sleep_stage: Required[Literal["NREM", "REM"]]
    patterns_replayed: Required[int]
    duration_steps: Required[int]
    rank: int


class StageRecord(TypedDict, total=False):
    """The run entered curriculum stage ``stage``."""

    event_type: Required[Literal["stage"]]
    step: Required[int]
    wall_time: Required[float]
    stage: Required[int]
    name: Required[str]
    rank: int


class RunStartRecord(TypedDict, total=False):
    """Written once each time a logger opens the directory."""

    event_type: Required[Literal["run_start"]]
    step: Required[int]
    wall_time: Required[float]
    schema_version: Required[Literal[1]]
    run_id: Required[str]
    resumed_from_step: Required[int | None]
    config: Required[dict[str, object]]
    rank: int


class WarningRecord(TypedDict):
    """A structured warning in metadata (a plain string is also a warning)."""

    severity: Literal["info", "warning", "critical"]
    message: str


class MetadataRecord(TypedDict, total=False):
    """``metadata_{step}.json``: checkpoint metadata, as older Thalia trainers write it."""

    step: Required[int]
    current_stage: Required[int]
    current_week: int
    total_weeks: int
    metrics: dict[str, NumberValue]
    milestones: dict[str, bool]
    warnings: list[str | WarningRecord]
    stage_name: str
    total_stages: int
    run_id: str
    started_at: float
    updated_at: float
    total_steps: int
    schema_version: Literal[1]
