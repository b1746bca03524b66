"""Typed shapes of every record the logger writes, mirroring ``schemas/`` (contract version 2).

The names both sides share (event types, schema version, non-finite strings, severities, file
names) live in :mod:`thalia_logging.contract`; ``EVENT_TYPES`` and ``SCHEMA_VERSION`` are
re-exported here for existing imports.

These TypedDicts are documentation a type checker can hold code to: the logger builds plain
dicts of exactly these shapes and serialises them with orjson. ``tests/thalia_logging/
test_logger_records.py`` keeps them in step with the JSON Schemas: the same property names,
and every field the schema requires is required here (declared in a ``total=True`` base class,
which works on Python 3.10 and with postponed annotations, unlike ``Required``).

A number field holds an ``int``, a finite ``float`` or one of the strings ``"NaN"``,
``"Infinity"``, ``"-Infinity"`` (see :mod:`thalia_logging.values`). Metric lines may carry any
further numeric field (``lr``, ``grad_norm``, ``gpu_mem_bytes``, ...), which a TypedDict cannot
spell; the schema allows them through ``additionalProperties``.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from .contract import EVENT_TYPES, SCHEMA_VERSION

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "ConsolidationRecord",
    "GrowthRecord",
    "MetadataRecord",
    "MetricRecord",
    "NumberValue",
    "RunEndRecord",
    "RunStartRecord",
    "StageRecord",
    "WarningRecord",
]

NumberValue = int | float | str


class _MetricRecordRequired(TypedDict):
    """The fields of :class:`MetricRecord` that are always present."""

    event_type: Literal["metric"]
    step: int
    wall_time: float


class MetricRecord(_MetricRecordRequired, total=False):
    """One metric line (``event_type`` "metric"); further numeric fields are allowed."""

    firing_rate: NumberValue
    capacity: NumberValue
    performance: NumberValue
    loss: NumberValue
    neuron_counts: dict[str, int]
    capacity_by_region: dict[str, NumberValue]
    rank: int


class _GrowthRecordRequired(TypedDict):
    """The fields of :class:`GrowthRecord` that are always present."""

    event_type: Literal["growth"]
    step: int
    wall_time: float
    region: str
    neurons_added: int
    new_total: int
    reason: str


class GrowthRecord(_GrowthRecordRequired, total=False):
    """A region grew by ``neurons_added`` to ``new_total`` neurons."""

    rank: int


class _ConsolidationRecordRequired(TypedDict):
    """The fields of :class:`ConsolidationRecord` that are always present."""

    event_type: Literal["consolidation"]
    step: int
    wall_time: float
    sleep_stage: Literal["NREM", "REM"]
    patterns_replayed: int
    duration_steps: int


class ConsolidationRecord(_ConsolidationRecordRequired, total=False):
    """A sleep-replay consolidation phase ran."""

    rank: int


class _StageRecordRequired(TypedDict):
    """The fields of :class:`StageRecord` that are always present."""

    event_type: Literal["stage"]
    step: int
    wall_time: float
    stage: int
    name: str


class StageRecord(_StageRecordRequired, total=False):
    """The run entered curriculum stage ``stage``."""

    rank: int


class _RunStartRecordRequired(TypedDict):
    """The fields of :class:`RunStartRecord` that are always present."""

    event_type: Literal["run_start"]
    step: int
    wall_time: float
    schema_version: Literal[2]
    run_id: str
    resumed_from_step: int | None
    config: dict[str, object]


class RunStartRecord(_RunStartRecordRequired, total=False):
    """Written once each time a logger opens the directory."""

    host: str
    pid: int
    rank: int


class _RunEndRecordRequired(TypedDict):
    """The fields of :class:`RunEndRecord` that are always present."""

    event_type: Literal["run_end"]
    step: int
    wall_time: float
    status: Literal["finished", "failed", "killed"]


class RunEndRecord(_RunEndRecordRequired, total=False):
    """Written once when a logger stops (see :mod:`thalia_logging.lifecycle`)."""

    error_type: str
    message: str
    rank: int


class WarningRecord(TypedDict):
    """A structured warning in metadata (a plain string is also a warning)."""

    severity: Literal["info", "warning", "critical"]
    message: str


class _MetadataRecordRequired(TypedDict):
    """The fields of :class:`MetadataRecord` that are always present."""

    step: int
    current_stage: int


class MetadataRecord(_MetadataRecordRequired, total=False):
    """``metadata_{step}.json``: checkpoint metadata, as older Thalia trainers write it."""

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
    schema_version: Literal[1, 2]
