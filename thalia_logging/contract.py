"""The on-disk vocabulary shared by the logger and the dashboard, mirroring ``schemas/``.

One place for every name both sides must agree on: the schema version, the event types (one
``schemas/{event_type}.schema.json`` each), the strings written for non-finite floats, the
warning severities and their order, the core metric names, and the names of the files in a
checkpoint directory. ``thalia_logging`` writes them and ``dashboard`` reads them; neither keeps
a copy. This module imports only the standard library (``re``, ``math``). ``tests/thalia_logging/test_contract.py`` keeps it in step with the
JSON Schemas.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "CONSOLE_LOG_NAME",
    "CORE_METRICS",
    "EVENT_TYPES",
    "LEGACY_LOG_NAME",
    "LOG_NAME",
    "METADATA_GLOB",
    "NON_FINITE",
    "RANK_LOG_GLOB",
    "RANK_LOG_PATTERN",
    "RUN_END_STATUSES",
    "SCHEMA_VERSION",
    "SEGMENT_PATTERN",
    "SEVERITIES",
    "is_metadata_name",
    "log_file_rank",
    "metadata_name",
    "non_finite_text",
    "rank_log_name",
    "segment_info",
    "segment_name",
]

SCHEMA_VERSION = 2
"""Version of the on-disk contract written into ``run_start`` lines and metadata."""

EVENT_TYPES = ("metric", "growth", "consolidation", "stage", "run_start", "run_end")
"""Every ``event_type`` the logger writes; each has ``schemas/{event_type}.schema.json``.
A line without ``event_type`` is a metric line (the first item)."""

NON_FINITE: dict[str, float] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
"""The strings written for non-finite floats (JSON has no NaN), and the floats they stand for."""

SEVERITIES = ("info", "warning", "critical")
"""Warning severities, least severe first; a plain-string warning is ``"warning"``."""

CORE_METRICS = ("firing_rate", "capacity", "performance", "loss")

RUN_END_STATUSES = ("finished", "failed", "killed")
"""How a logger says its run ended (``run_end.status``, contract version 2)."""
"""The metric fields every Thalia run logs and the page shows as cards, in display order."""

LOG_NAME = "training_log.jsonl"
"""The shared JSON-lines log of a checkpoint directory (rank 0's)."""

LEGACY_LOG_NAME = "training_log.json"
"""The same JSON-lines log under the name older trainers used."""

RANK_LOG_GLOB = "training_log.rank*.jsonl"
"""Glob of the per-rank logs (see :func:`rank_log_name`)."""

RANK_LOG_PATTERN = re.compile(r"training_log\.rank(\d+)\.jsonl\Z")
"""Rank N > 0's own log when logging per rank; group 1 is N."""

SEGMENT_PATTERN = re.compile(r"training_log(?:\.rank(\d+))?\.(\d{6,})\.jsonl\Z")
"""A closed, immutable segment of the log in segment mode (``training_log.000042.jsonl``, rank
N > 0: ``training_log.rank{N}.000042.jsonl``); group 1 is N (absent for rank 0), group 2 the
segment's number. A rank's segments, in number order, are its log."""

CONSOLE_LOG_NAME = "console.log"
"""The human-readable console log (``file_log=True``), rank 0's."""

METADATA_GLOB = "metadata_*.json"
"""Checkpoint metadata files, one per written step: ``metadata_{step}.json``."""

_METADATA_PREFIX, _METADATA_SUFFIX = METADATA_GLOB.split("*")


def rank_log_name(rank: int) -> str:
    """``training_log.jsonl`` for rank 0, ``training_log.rank{N}.jsonl`` for rank N > 0."""
    return LOG_NAME if rank == 0 else f"training_log.rank{rank}.jsonl"


def segment_name(rank: int, number: int) -> str:
    """The name of segment ``number`` of rank ``rank``'s log (see :data:`SEGMENT_PATTERN`)."""
    return (
        f"training_log.{number:06d}.jsonl"
        if rank == 0
        else f"training_log.rank{rank}.{number:06d}.jsonl"
    )


def segment_info(name: str) -> tuple[int, int] | None:
    """``(rank, number)`` of a segment file name, or None when ``name`` is not a segment."""
    match = SEGMENT_PATTERN.match(name)
    if match is None:
        return None
    return int(match.group(1) or 0), int(match.group(2))


def metadata_name(step: int) -> str:
    """``metadata_{step}.json``."""
    return f"{_METADATA_PREFIX}{step}{_METADATA_SUFFIX}"


def is_metadata_name(name: str) -> bool:
    """Whether a file name matches :data:`METADATA_GLOB`."""
    return name.startswith(_METADATA_PREFIX) and name.endswith(_METADATA_SUFFIX)


def non_finite_text(value: float) -> str:
    """The contract string for a non-finite float: ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``."""
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def log_file_rank(name: str) -> int | None:
    """The rank a log file's lines belong to, or None when ``name`` is not a log file."""
    if name in (LOG_NAME, LEGACY_LOG_NAME):
        return 0
    match = RANK_LOG_PATTERN.match(name)
    return int(match.group(1)) if match else None
