"""Records of the discrete events: growth, consolidation, stage and run_start.

Each ``*_event`` function validates the trainer's arguments (raising ``LogTypeError`` /
``LogValueError`` from :mod:`.values` before anything is written) and returns the record, a
dict of the shape of ``schemas/{event_type}.schema.json`` with ``event_type``, ``step`` and
``wall_time`` first. They are pure: the logger adds the ``rank`` field where its plan says so,
serialises and writes. A metric line's record is built here only, by :func:`metric_record`
(the hot path of :meth:`CurriculumLogger.log_metrics`): the common line (four plain finite
floats, two plain dicts) in type checks only, anything else by :func:`metric_event`, the full
validator it falls back to whenever one of its checks fails; :func:`metric_extras` adds the
extra fields, and :func:`explain_unwritable` turns an orjson refusal into a clear error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from .records import SCHEMA_VERSION
from .values import (
    INT64_MAX,
    LogTypeError,
    LogValueError,
    check_count,
    check_name,
    check_step,
    count_dict,
    explain_unencodable,
    number,
    number_dict,
    plain_counts,
    plain_numbers,
)

__all__ = [
    "RESERVED_METRIC_FIELDS",
    "SLEEP_STAGES",
    "consolidation_event",
    "explain_record",
    "explain_unwritable",
    "growth_event",
    "metric_event",
    "metric_extras",
    "metric_record",
    "run_start_event",
    "stage_event",
]

SLEEP_STAGES = ("NREM", "REM")
RESERVED_METRIC_FIELDS = frozenset({"event_type", "wall_time", "rank"})
"""Fields the logger sets itself; a metric of that name would overwrite them. Names starting
with ``_`` are reserved too (the reader's own columns: ``_seq``, ``_src``, ``_nonfinite``)."""


def growth_event(
    now: float,
    step: object,
    region: object,
    neurons_added: object,
    new_total: object,
    reason: object = "",
) -> dict[str, Any]:
    """A region grew by ``neurons_added`` neurons to ``new_total``."""
    return {
        "event_type": "growth",
        "step": check_step(step),
        "wall_time": now,
        "region": check_name("region", region),
        "neurons_added": check_count("neurons_added", neurons_added),
        "new_total": check_count("new_total", new_total),
        "reason": check_name("reason", reason, empty_ok=True),
    }


def _sleep_stage(sleep_stage: object) -> str:
    stage = getattr(sleep_stage, "name", sleep_stage)  # an Enum member works too
    if not isinstance(stage, str):
        raise LogTypeError(
            f"sleep_stage must be the string 'NREM' or 'REM', got {type(sleep_stage).__name__}"
        )
    if stage.upper() not in SLEEP_STAGES:
        raise LogValueError(f"unknown sleep_stage {stage!r}; use 'NREM' or 'REM'")
    return stage.upper()


def consolidation_event(
    now: float,
    step: object,
    sleep_stage: object,
    patterns_replayed: object,
    duration_steps: object,
) -> dict[str, Any]:
    """A sleep-replay phase; ``sleep_stage`` is ``"NREM"`` or ``"REM"`` in any case."""
    return {
        "event_type": "consolidation",
        "step": check_step(step),
        "wall_time": now,
        "sleep_stage": _sleep_stage(sleep_stage),
        "patterns_replayed": check_count("patterns_replayed", patterns_replayed),
        "duration_steps": check_count("duration_steps", duration_steps),
    }


def stage_event(now: float, step: object, stage: object, name: object = "") -> dict[str, Any]:
    """The run entered curriculum stage ``stage``."""
    return {
        "event_type": "stage",
        "step": check_step(step),
        "wall_time": now,
        "stage": check_count("stage", stage),
        "name": check_name("name", name, empty_ok=True),
    }


def run_start_event(
    now: float, run_id: str, resumed_from_step: int | None, config: Mapping[str, Any]
) -> dict[str, Any]:
    """The line a logger writes when it opens: ``step`` is where the run resumes (or 0)."""
    return {
        "event_type": "run_start",
        "step": 0 if resumed_from_step is None else resumed_from_step,
        "wall_time": now,
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "resumed_from_step": resumed_from_step,
        "config": dict(config),
    }


_isfinite = math.isfinite


def metric_record(
    now: float,
    step: Any,
    firing_rate: Any,
    capacity: Any,
    performance: Any,
    loss: Any,
    neuron_counts: Any,
    capacity_by_region: Any,
) -> dict[str, Any]:
    """A metric line's record without its extras: the one place it is built.

    Hot path: the common line (four plain floats whose sum is finite, so none is NaN or
    infinite, an int step within int64 and two plain dicts of plain values) is checked by type
    only and returned as a new dict holding the caller's dicts; anything else, or a failed check,
    goes to :func:`metric_event`, which converts or explains. Dict keys are checked when orjson
    writes the line (:func:`explain_unwritable`).
    """
    if (
        type(firing_rate) is float
        and type(capacity) is float
        and type(performance) is float
        and type(loss) is float
        and type(step) is int
        and 0 <= step <= INT64_MAX
        and _isfinite(firing_rate + capacity + performance + loss)
        and type(neuron_counts) is dict
        and type(capacity_by_region) is dict
    ):
        for v in neuron_counts.values():  # values only: orjson refuses non-str keys later
            if type(v) is not int or not 0 <= v <= INT64_MAX:
                break
        else:
            for v in capacity_by_region.values():
                if type(v) is not float or v - v != 0.0:  # x - x is NaN unless finite
                    break
            else:
                return {
                    "event_type": "metric",
                    "step": step,
                    "wall_time": now,
                    "firing_rate": firing_rate,
                    "capacity": capacity,
                    "performance": performance,
                    "loss": loss,
                    "neuron_counts": neuron_counts,
                    "capacity_by_region": capacity_by_region,
                }
    return metric_event(
        now, step, firing_rate, capacity, performance, loss, neuron_counts, capacity_by_region
    )


def metric_event(
    now: float,
    step: object,
    firing_rate: object,
    capacity: object,
    performance: object,
    loss: object,
    neuron_counts: object,
    capacity_by_region: object,
) -> dict[str, Any]:
    """A metric line's record without its extras (``None`` fields are left out).

    Accepts every number :func:`.values.number` does and converts it; the dicts are returned
    as they are when their values are already plain (keys are checked when orjson writes them,
    see :func:`explain_unwritable`), else rebuilt by :func:`.values.count_dict` /
    :func:`.values.number_dict`.
    """
    rec: dict[str, Any] = {"event_type": "metric", "step": check_step(step), "wall_time": now}
    for key, x in (
        ("firing_rate", firing_rate),
        ("capacity", capacity),
        ("performance", performance),
        ("loss", loss),
    ):
        if x is not None:
            rec[key] = x if type(x) is float and x - x == 0.0 else number(key, x)
    if neuron_counts is not None:
        rec["neuron_counts"] = (
            neuron_counts
            if plain_counts(neuron_counts)
            else count_dict("neuron_counts", neuron_counts)
        )
    if capacity_by_region is not None:
        rec["capacity_by_region"] = (
            capacity_by_region
            if plain_numbers(capacity_by_region)
            else number_dict("capacity_by_region", capacity_by_region)
        )
    return rec


def metric_extras(record: dict[str, Any], more: Mapping[str, Any]) -> None:
    """Add the extra numeric fields of a metric line to ``record`` (``None`` is left out)."""
    for key, x in more.items():
        if key in RESERVED_METRIC_FIELDS:
            raise LogValueError(
                f"{key!r} is set by the logger; rename your metric (e.g. 'my_{key}')"
            )
        if key[:1] == "_":
            raise LogValueError(
                f"metric names starting with '_' are reserved for the reader's own columns, "
                f"got {key!r}; rename your metric (e.g. {key.lstrip('_') or 'value'!r})"
            )
        if x is not None:
            record[key] = x if type(x) is float and x - x == 0.0 else number(key, x)


def explain_unwritable(
    record: Mapping[str, Any], neuron_counts: object, capacity_by_region: object
) -> LogValueError:
    """orjson refused a metric line: raise the strict check's error, else say why.

    The hot path checks dict values only; a non-``str`` key is what orjson refuses, and the
    strict checks name it. Otherwise it is a number orjson cannot write (an int beyond 64 bits).
    """
    if isinstance(neuron_counts, Mapping):
        count_dict("neuron_counts", dict(neuron_counts))
    if isinstance(capacity_by_region, Mapping):
        number_dict("capacity_by_region", dict(capacity_by_region))
    return explain_record(record)


def explain_record(record: Mapping[str, Any]) -> LogValueError:
    """The error for a record orjson refused (or would let through though the reader cannot
    keep it): the field with a lone surrogate or an int outside int64, else orjson's reason."""
    what = f"this {record.get('event_type', 'JSON')} line"
    found = explain_unencodable("the line", record)
    if found is not None:
        return LogValueError(f"cannot write {what}: {found}")
    try:
        orjson.dumps(record)
    except orjson.JSONEncodeError as exc:
        return LogValueError(f"cannot write {what}: {exc}")
    return LogValueError(f"cannot write {what}")  # pragma: no cover
