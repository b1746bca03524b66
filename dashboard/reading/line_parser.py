"""One JSON line in, one validated record out (or a reason why not). Knows only JSON and schemas/.

A record is ``(kind, fields)``: ``kind`` names the frame (``"metrics_history"``, ``"growth_events"``,
``"consolidation_events"``, ``"stage_events"``, ``"run_starts"``, ``"run_ends"``) and ``fields`` maps that frame's
column names to plain values (nested ``neuron_counts`` / ``capacity_by_region`` flattened to
``neuron_counts.<region>`` columns, non-finite strings and bare ``NaN``/``Infinity`` tokens read back
as floats, numbers of metric lines as floats). ``rank`` is only present when the line has one.
A metric record whose line explicitly logged a non-finite value (a ``"NaN"``/``"Infinity"``/
``"-Infinity"`` string, a bare token, or a number too big for a double) also has ``_nonfinite``:
the tuple of those column names, so the loader can tell a logged NaN from a value the line left
out (both are NaN in a float64 column). The key is absent when every value is finite.

Rules (following ``schemas/*.schema.json``): the line must be a UTF-8 JSON object; ``step`` an int
>= 0 (a bool is not an int); ``wall_time`` a number when present; a line without ``event_type`` is
a metric line. A ``null`` metric value counts as missing (NaN). Anything else raises
:class:`BadRecord` with a reason a user can act on.

No value can break the frames later: every integer field (``step``, ``rank``, counts, region
neuron counts, ``resumed_from_step``) must fit in int64 (``0 <= n <= 2**63 - 1``); metric names
starting with ``_`` are reserved for the reader's own columns (``_seq``, ``_src``, ``_nonfinite``)
and refused; names and strings must be valid Unicode (a ``"\ud800"`` escape, a lone surrogate,
is refused: it cannot be encoded as UTF-8, so no frame, page or export could show it). A metric
integer too big for a double reads as ±inf (logged non-finite), like ``1e400``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from dashboard.errors import BadRecord
from dashboard.reading.config_values import CONFIG_MAX_DEPTH, CONFIG_TOO_DEEP, safe_config
from thalia_logging.contract import NON_FINITE, RUN_END_STATUSES, SCHEMA_VERSION

__all__ = [
    "CONFIG_MAX_DEPTH",
    "CONFIG_TOO_DEEP",
    "EVENT_KINDS",
    "INT64_MAX",
    "RUN_END_STATUSES",
    "SCHEMA_VERSIONS",
    "BadRecord",
    "check_text",
    "loads",
    "parse_line",
    "to_number",
]

#: event_type -> frame name
EVENT_KINDS: dict[str, str] = {
    "metric": "metrics_history",
    "growth": "growth_events",
    "consolidation": "consolidation_events",
    "stage": "stage_events",
    "run_start": "run_starts",
    "run_end": "run_ends",
}
#: the ``schema_version`` values of ``run_start`` this reader knows (2 added ``run_end``)
SCHEMA_VERSIONS = tuple(range(1, SCHEMA_VERSION + 1))
_NESTED = ("neuron_counts", "capacity_by_region")
_JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}
_SKIP = frozenset(("event_type", "step", "wall_time", "rank"))
#: the largest integer any integer field may hold (int64 columns)
INT64_MAX = 2**63 - 1


def _constant(token: str) -> float:
    return NON_FINITE[token]


def loads(data: bytes) -> Any:
    """Parse JSON bytes; bare ``NaN``/``Infinity``/``-Infinity`` (Python's json.dumps) accepted."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise BadRecord(f"not valid UTF-8 ({uexc.reason} at byte {uexc.start})") from None
        try:
            return json.loads(text, parse_constant=_constant)
        except (ValueError, RecursionError):
            raise BadRecord(f"not valid JSON ({exc})") from None


def to_number(value: Any, name: str) -> float:
    """A JSON number or non-finite string as float; raises BadRecord otherwise. An integer too
    big for a double is ±inf (as ``1e400`` is)."""
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if type(value) is str and value in NON_FINITE:
        return NON_FINITE[value]
    raise BadRecord(f"{name!r} must be a number, got {_show(value)}")


def _show(value: Any) -> str:
    """A short description of a JSON value for a reason text (never recursive: a value may be
    nested thousands deep, and never longer than 40 characters)."""
    if isinstance(value, dict):
        return f"an object of {len(value)} field(s)"
    if isinstance(value, list):
        return f"an array of {len(value)} item(s)"
    if type(value) is int and abs(value) > INT64_MAX:
        return (
            f"an integer of {len(str(abs(value)))} digits"
            if abs(value) < 10**4000
            else "a huge integer"
        )
    text = repr(value) if isinstance(value, float) else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_text(text: str, what: str) -> str:
    """``text`` if it can be encoded as UTF-8 (no lone surrogate from a ``\\udXXX`` escape);
    raises BadRecord otherwise."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadRecord(
                f"{what} holds invalid Unicode (lone surrogate \\u{ord(text[exc.start]):04x}); "
                "the writer must log valid UTF-8 text"
            ) from None
    return text


def _count(value: Any) -> bool:
    """An integer that fits an int64 column and is >= 0 (a bool is not an int)."""
    return type(value) is int and 0 <= value <= INT64_MAX


def _int(obj: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    value = obj.get(name)
    if value is None and not required and name not in obj:
        return None
    if not _count(value):
        if name not in obj:
            raise BadRecord(f"missing required field {name!r}")
        raise BadRecord(f"{name!r} must be an integer >= 0 (at most 2**63-1), got {_show(value)}")
    return value


def _str(obj: dict[str, Any], name: str, *, required: bool = True, nonempty: bool = False) -> str:
    value = obj.get(name)
    if value is None and not required:
        return ""
    if type(value) is not str or (nonempty and not value):
        if name not in obj:
            raise BadRecord(f"missing required field {name!r}")
        raise BadRecord(
            f"{name!r} must be a {'non-empty ' if nonempty else ''}string, got {_show(value)}"
        )
    return check_text(value, repr(name))


def parse_line(line: bytes) -> tuple[str, dict[str, Any]]:
    """Validate one line (without its newline); return ``(frame name, fields)``."""
    obj = loads(line)
    if type(obj) is not dict:
        raise BadRecord(f"expected a JSON object, got a JSON {_JSON_TYPES.get(type(obj), 'value')}")
    event_type = obj.get("event_type", "metric")
    kind = EVENT_KINDS.get(event_type) if type(event_type) is str else None
    if kind is None:
        raise BadRecord(f"unknown event_type {_show(event_type)} (known: {', '.join(EVENT_KINDS)})")
    step = obj.get("step")
    if not _count(step):
        if "step" not in obj:
            raise BadRecord("missing required field 'step'")
        raise BadRecord(f"'step' must be an integer >= 0 (at most 2**63-1), got {_show(step)}")
    wall = obj.get("wall_time")
    fields: dict[str, Any] = {
        "step": step,
        "wall_time": math.nan if wall is None else to_number(wall, "wall_time"),
    }
    rank = obj.get("rank")
    if rank is not None:
        if not _count(rank):
            raise BadRecord(f"'rank' must be an integer >= 0 (at most 2**63-1), got {_show(rank)}")
        fields["rank"] = rank
    if kind == "metrics_history":
        _metric_fields(obj, fields)
    elif kind == "growth_events":
        fields["region"] = _str(obj, "region", nonempty=True)
        fields["neurons_added"] = _int(obj, "neurons_added")
        fields["new_total"] = _int(obj, "new_total")
        fields["reason"] = _str(obj, "reason", required=False)
    elif kind == "consolidation_events":
        stage = obj.get("sleep_stage")
        if stage not in ("NREM", "REM"):
            raise BadRecord(f'\'sleep_stage\' must be "NREM" or "REM", got {_show(stage)}')
        fields["sleep_stage"] = stage
        fields["patterns_replayed"] = _int(obj, "patterns_replayed")
        fields["duration_steps"] = _int(obj, "duration_steps")
    elif kind == "stage_events":
        fields["stage"] = _int(obj, "stage")
        fields["name"] = _str(obj, "name", required=False)
    elif kind == "run_ends":
        _run_end_fields(obj, fields)
    else:
        _run_start_fields(obj, fields)
    return kind, fields


def _run_end_fields(obj: dict[str, Any], fields: dict[str, Any]) -> None:
    status = obj.get("status")
    if status not in RUN_END_STATUSES:
        raise BadRecord(
            f"'status' must be one of {', '.join(RUN_END_STATUSES)}, got {_show(status)}"
        )
    fields["status"] = status
    fields["error_type"] = _str(obj, "error_type", required=False)
    fields["message"] = _str(obj, "message", required=False)


def _metric_fields(obj: dict[str, Any], fields: dict[str, Any]) -> None:
    nonfinite: list[str] = []
    for key, value in obj.items():
        if key in _SKIP or value is None:
            continue
        if key[:1] == "_":
            raise BadRecord(
                f"metric name {_show(key)} is reserved (names starting with '_' are the reader's own "
                "columns); rename the metric"
            )
        if not key.isascii():
            check_text(key, "a metric name")
        if key in _NESTED:
            if type(value) is not dict:
                raise BadRecord(f"{key!r} must be an object {{region: number}}, got {_show(value)}")
            for region, inner in value.items():
                if inner is None:
                    continue
                if not region.isascii():
                    check_text(region, f"a region name in {key!r}")
                name = f"{key}.{region}"
                if key == "neuron_counts" and not _count(inner):
                    raise BadRecord(
                        f"{name!r} must be an integer >= 0 (at most 2**63-1), got {_show(inner)}"
                    )
                x = fields[name] = to_number(inner, name)
                if x - x:  # NaN or ±inf (0.0 for every finite x)
                    nonfinite.append(name)
        else:
            x = fields[key] = to_number(value, key)
            if x - x:
                nonfinite.append(key)
    if nonfinite:
        fields["_nonfinite"] = tuple(nonfinite)


def _run_start_fields(obj: dict[str, Any], fields: dict[str, Any]) -> None:
    version = obj.get("schema_version")
    if type(version) is not int or version not in SCHEMA_VERSIONS:
        raise BadRecord(
            f"unsupported schema_version {_show(version)} (this reader knows "
            f"{', '.join(map(str, SCHEMA_VERSIONS))}; upgrade the dashboard)"
        )
    fields["run_id"] = _str(obj, "run_id")
    if "resumed_from_step" not in obj:
        raise BadRecord("missing required field 'resumed_from_step' (null for a fresh run)")
    resumed = obj["resumed_from_step"]
    if resumed is not None and not _count(resumed):
        raise BadRecord(
            f"'resumed_from_step' must be an integer >= 0 (at most 2**63-1) or null, got {_show(resumed)}"
        )
    fields["resumed_from_step"] = math.nan if resumed is None else float(resumed)
    if "config" not in obj:
        raise BadRecord("missing required field 'config'")
    if type(obj["config"]) is not dict:
        raise BadRecord(f"'config' must be an object, got {_show(obj.get('config'))}")
    fields["host"] = _str(obj, "host", required=False)
    pid = obj.get("pid")
    if pid is not None and not _count(pid):
        raise BadRecord(f"'pid' must be an integer >= 0, got {_show(pid)}")
    fields["pid"] = math.nan if pid is None else float(pid)
    fields["_config"] = safe_config(obj["config"])
