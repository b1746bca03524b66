"""Checkpoint metadata: build a valid ``metadata_{step}.json`` and write it atomically.

:func:`build_metadata` validates the trainer's arguments (raising ``LogTypeError`` /
``LogValueError`` before anything touches the disk) and returns a dict of the shape of
``schemas/metadata.schema.json``. :func:`write_atomic` guarantees that a reader never sees half
a file: the bytes go to a temporary file in the same directory (named so that no
``metadata_*.json`` glob matches it), are fsynced, and replace the target with ``os.replace``
(atomic on POSIX and Windows); the directory is then fsynced where the platform allows, so the
rename itself survives a power cut. On any error the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from .contract import SCHEMA_VERSION, SEVERITIES, metadata_name
from .values import LogTypeError, LogValueError, check_count, check_name, json_safe, number_dict

__all__ = [
    "SEVERITIES",
    "STALE_TEMP_AGE_S",
    "build_metadata",
    "dumps_metadata",
    "metadata_path",
    "remove_stale_temp_files",
    "write_atomic",
]


_OWN_FIELDS = ("run_id", "started_at", "updated_at", "schema_version")


def metadata_path(log_dir: str | os.PathLike[str], step: int) -> Path:
    """``log_dir/metadata_{step}.json``."""
    return Path(log_dir) / metadata_name(step)


def _milestones(milestones: object) -> dict[str, bool]:
    if not isinstance(milestones, Mapping):
        raise LogTypeError(
            f"milestones must be a dict of milestone name -> bool, got {type(milestones).__name__}"
        )
    out: dict[str, bool] = {}
    for k, v in milestones.items():
        if not isinstance(k, str):
            raise LogTypeError(f"milestones keys must be str, got {k!r}; use str(key)")
        if type(v) is not bool:
            np = sys.modules.get("numpy")  # numpy.bool_ is fine; numpy is never imported here
            if np is None or not isinstance(v, np.bool_):
                raise LogTypeError(
                    f"milestones[{k!r}] must be True or False, got {v!r}; pass bool(...)"
                )
        out[k] = bool(v)
    return out


def _warnings(warnings: object) -> list[str | dict[str, str]]:
    if isinstance(warnings, str | bytes) or not isinstance(warnings, Sequence):
        raise LogTypeError(
            "warnings must be a list of strings or {'severity': ..., 'message': ...} dicts, "
            f"got {type(warnings).__name__}; wrap a single warning in a list"
        )
    out: list[str | dict[str, str]] = []
    for i, w in enumerate(warnings):
        if isinstance(w, str):
            out.append(str(w))
            continue
        if not isinstance(w, Mapping) or "message" not in w:
            raise LogTypeError(
                f"warnings[{i}] must be a str or a dict with 'severity' and 'message', got {w!r}"
            )
        severity = w.get("severity", "warning")
        if severity not in SEVERITIES:
            raise LogValueError(
                f"warnings[{i}] has severity {severity!r}; use one of {', '.join(SEVERITIES)}"
            )
        out.append(
            {
                "severity": str(severity),
                "message": check_name(f"warnings[{i}]['message']", w["message"], empty_ok=True),
            }
        )
    return out


def build_metadata(
    step: int,
    current_stage: object,
    *,
    current_week: object = None,
    total_weeks: object = None,
    metrics: object = None,
    milestones: object = None,
    warnings: object = None,
    stage_name: object = None,
    total_stages: object = None,
    total_steps: object = None,
    run_id: str,
    started_at: float,
    updated_at: float,
    extra: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """The metadata dict for one checkpoint; ``None`` arguments are left out.

    ``step`` must already be checked. ``extra`` fields (anything else a trainer records) are
    made JSON-ready with :func:`~thalia_logging.values.json_safe`; they may not override the
    fields the logger owns (``run_id``, ``started_at``, ``updated_at``, ``schema_version``).
    """
    record: dict[str, Any] = {
        "step": step,
        "current_stage": check_count("current_stage", current_stage),
    }
    if current_week is not None:
        record["current_week"] = check_count("current_week", current_week)
    if total_weeks is not None:
        record["total_weeks"] = check_count("total_weeks", total_weeks)
    record["metrics"] = {} if metrics is None else dict(number_dict("metrics", metrics))
    record["milestones"] = {} if milestones is None else _milestones(milestones)
    record["warnings"] = [] if warnings is None else _warnings(warnings)
    if stage_name is not None:
        record["stage_name"] = check_name("stage_name", stage_name, empty_ok=True)
    if total_stages is not None:
        record["total_stages"] = check_count("total_stages", total_stages)
    if total_steps is not None:
        record["total_steps"] = check_count("total_steps", total_steps)
    for key, value in (extra or {}).items():
        if key in _OWN_FIELDS:
            raise LogValueError(f"write_metadata sets {key!r} itself; drop that keyword argument")
        record[key] = json_safe(key, value)
    record["run_id"] = run_id
    record["started_at"] = started_at
    record["updated_at"] = updated_at
    record["schema_version"] = SCHEMA_VERSION
    return record


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows, or a filesystem that will not open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_TEMP_NAME = re.compile(r"\.metadata_\d+\.json\.(\d+)\.[0-9a-f]{8}\.tmp")
"""The temporary names :func:`write_atomic` gives metadata files (and nothing else)."""

STALE_TEMP_AGE_S = 3600.0
"""A temp file of a live process older than this is left over too (its pid was reused)."""


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process (or cannot tell): not ours to judge
    return True


def remove_stale_temp_files(log_dir: str | os.PathLike[str]) -> list[Path]:
    """Remove the ``.metadata_*.tmp`` files that a crashed :func:`write_atomic` left.

    Only regular files named exactly as :func:`write_atomic` names them are touched, and only
    when the process named in them is gone (or the file is older than
    :data:`STALE_TEMP_AGE_S`), so a write in progress elsewhere is never cut. Returns what
    was removed; errors are ignored (the files are harmless, the next open tries again).
    """
    removed: list[Path] = []
    directory = Path(log_dir)
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        match = _TEMP_NAME.fullmatch(name)
        if match is None:
            continue
        path = directory / name
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                continue
            if _pid_alive(int(match.group(1))) and now - st.st_mtime < STALE_TEMP_AGE_S:
                continue
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def write_atomic(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> Path:
    """Replace ``path`` with ``data`` so that readers see the old file or the new, never half."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if fsync:
        _fsync_dir(target.parent)
    return target


def dumps_metadata(record: Mapping[str, Any]) -> bytes:
    """Pretty, stable JSON for humans who open the file (metadata is small and rare)."""
    return orjson.dumps(record, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
