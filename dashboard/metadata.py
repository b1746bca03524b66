"""Checkpoint metadata: find ``metadata_*.json``, parse what changed, pick the latest by inner step.

Each file is re-read only when its (inode, size, mtime) changed, so an idle refresh reads nothing.
The latest metadata is the valid file with the highest ``step`` inside it (file names and mtimes
say nothing about order). A half-written or invalid file is reported once per change as a
:class:`BadLine` (offset 0) and that file's previous valid content is kept.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dashboard.parse import NONFINITE, BadRecord, loads
from dashboard.state import BadLine, HealthWarning

__all__ = ["MetadataScanner", "is_metadata_name", "normalise_warnings"]

_SEVERITIES = ("info", "warning", "critical")


def is_metadata_name(name: str) -> bool:
    return name.startswith("metadata_") and name.endswith(".json")


def normalise_warnings(raw: Any) -> tuple[HealthWarning, ...]:
    """Metadata ``warnings`` as HealthWarnings: a plain string is severity ``"warning"``; an
    object needs ``message`` (unknown severities read as ``"warning"``); other items are shown
    as their JSON text."""
    if not isinstance(raw, list):
        return ()
    out: list[HealthWarning] = []
    for item in raw:
        if isinstance(item, str):
            out.append(HealthWarning("warning", item))
        elif isinstance(item, dict) and isinstance(item.get("message"), str):
            sev = item.get("severity")
            out.append(HealthWarning(sev if sev in _SEVERITIES else "warning", item["message"]))
        else:
            out.append(HealthWarning("warning", repr(item)))
    return tuple(out)


def _floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, str) and value in NONFINITE:
        return NONFINITE[value]
    return value


def parse_metadata(data: bytes) -> dict[str, Any]:
    """Validate one metadata file's bytes; raises BadRecord with the reason."""
    if not data.strip():
        raise BadRecord("empty file (still being written?)")
    obj = loads(data)
    if not isinstance(obj, dict):
        raise BadRecord("metadata must be a JSON object")
    for key in ("step", "current_stage"):
        value = obj.get(key)
        if type(value) is not int or value < 0:
            what = "missing" if key not in obj else f"not an integer >= 0 ({value!r})"
            raise BadRecord(f"metadata field {key!r} is {what}")
    for key, kind in (("metrics", dict), ("milestones", dict), ("warnings", list)):
        if key in obj and not isinstance(obj[key], kind):
            raise BadRecord(f"metadata field {key!r} must be a JSON {'object' if kind is dict else 'array'}")
    result: dict[str, Any] = _floats(obj)
    return result


@dataclass
class _Entry:
    key: tuple[int, int, int]
    data: dict[str, Any] | None  # last valid content (None: never valid)
    mtime: float = math.nan


@dataclass
class MetadataScanner:
    """Tracks the metadata files of one directory. Not thread-safe (the watcher holds its lock).

    :meth:`update` takes the metadata file names found in the directory, stats each, re-parses
    the changed ones and returns (changed, bad lines found). :attr:`latest` is the chosen file's
    ``(name, content)`` or None. I/O seams: ``stat``, ``read_bytes``.
    """

    directory: str
    stat: Callable[[str], os.stat_result] = os.stat
    read_bytes: Callable[[str], bytes] = field(default=lambda p: open(p, "rb").read())  # noqa: SIM115
    _entries: dict[str, _Entry] = field(default_factory=dict)
    latest: tuple[str, dict[str, Any]] | None = None
    latest_mtime: float | None = None

    def update(self, names: Iterable[str]) -> tuple[bool, list[BadLine]]:
        bad: list[BadLine] = []
        changed = False
        seen = set()
        for name in names:
            seen.add(name)
            path = os.path.join(self.directory, name)
            try:
                st = self.stat(path)
            except FileNotFoundError:
                continue
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            entry = self._entries.get(name)
            if entry is not None and entry.key == key:
                continue
            try:
                raw = self.read_bytes(path)
            except FileNotFoundError:
                continue
            previous = entry.data if entry is not None else None
            try:
                data: dict[str, Any] | None = parse_metadata(raw)
            except BadRecord as exc:
                excerpt = raw[:200].decode("utf-8", "replace")
                bad.append(BadLine(name, 0, excerpt, f"metadata file skipped: {exc}"))
                data = previous
            else:
                changed = True
            self._entries[name] = _Entry(key, data, st.st_mtime)
        for gone in [n for n in self._entries if n not in seen]:
            del self._entries[gone]
            changed = True
        if changed:
            self._choose()
        return changed, bad

    def _choose(self) -> None:
        best: tuple[int, str] | None = None
        for name, entry in self._entries.items():
            if entry.data is not None and (best is None or (entry.data["step"], name) > best):
                best = (entry.data["step"], name)
        if best is None:
            self.latest, self.latest_mtime = None, None
            return
        entry = self._entries[best[1]]
        assert entry.data is not None
        self.latest = (best[1], entry.data)
        updated = entry.data.get("updated_at")
        self.latest_mtime = float(updated) if isinstance(updated, int | float) and not isinstance(updated, bool) else entry.mtime
