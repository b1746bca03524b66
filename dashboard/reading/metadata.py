"""Checkpoint metadata: find ``metadata_*.json``, parse what changed, pick the latest by inner step.

Each file is re-read only when its (inode, size, mtime) changed, so an idle refresh reads nothing.
The latest metadata is the valid file with the highest ``step`` inside it (file names and mtimes
say nothing about order). A half-written or invalid file is reported once per change as a
:class:`BadLine` (offset 0) and that file's previous valid content is kept.

A file is read only when it is a regular file inside the directory (a symlink is followed only
to a regular file inside it; see :mod:`dashboard.reading.safefile`), without blocking, and at most
``MAX_METADATA_BYTES``: a directory, FIFO, device, symlink loop, unreadable or oversized file is a
bad line like an invalid one. Optional fields are checked on read (``total_steps`` and
``total_stages`` integers >= 0, ``stage_name`` and ``run_id`` strings, ``started_at`` and
``updated_at`` finite numbers), so what the page shows never has the wrong type; lone surrogates
in strings read as ``?``; nesting deeper than ``MAX_DEPTH`` is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dashboard.errors import BadRecord
from dashboard.reading.fs import LOCAL_FS, FileSystem
from dashboard.reading.line_parser import INT64_MAX, loads
from dashboard.reading.safefile import check_file, read_capped
from dashboard.run_state import BadLine, HealthWarning
from thalia_logging.contract import NON_FINITE, SEVERITIES, is_metadata_name

__all__ = [
    "MAX_DEPTH",
    "MAX_METADATA_BYTES",
    "MetadataScanner",
    "is_metadata_name",
    "normalise_warnings",
    "parse_metadata",
]

#: metadata files larger than this are not read (a bad line instead)
MAX_METADATA_BYTES = 16 << 20
#: metadata nested deeper than this is refused
MAX_DEPTH = 64


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
            out.append(HealthWarning(sev if sev in SEVERITIES else "warning", item["message"]))
        else:
            out.append(HealthWarning("warning", repr(item)))
    return tuple(out)


def _text(value: str) -> str:
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \udXXX escape
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _floats(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise BadRecord(f"metadata nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {_text(k): _floats(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v, depth + 1) for v in value]
    if isinstance(value, str):
        return NON_FINITE[value] if value in NON_FINITE else _text(value)
    return value


def _is_count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= INT64_MAX


#: optional field -> (check, what it must be)
_OPTIONAL: dict[str, tuple[Callable[[Any], bool], str]] = {
    "total_steps": (_is_count, "an integer >= 0"),
    "total_stages": (_is_count, "an integer >= 0"),
    "stage_name": (lambda v: isinstance(v, str), "a string"),
    "run_id": (lambda v: isinstance(v, str), "a string"),
    "started_at": (lambda v: type(v) in (int, float) and math.isfinite(v), "a finite number"),
    "updated_at": (lambda v: type(v) in (int, float) and math.isfinite(v), "a finite number"),
}


def parse_metadata(data: bytes, notes: list[str] | None = None) -> dict[str, Any]:
    """Validate one metadata file's bytes; raises BadRecord with the reason.

    A required field (``step``, ``current_stage``) or a container of the wrong shape makes the
    whole file bad. An optional field of the wrong type (``total_steps: "Infinity"``) only loses
    that field: it is left out of the result and described in ``notes``, so an older trainer's
    odd field never hides the file's milestones and warnings."""
    if not data.strip():
        raise BadRecord("empty file (still being written?)")
    obj = loads(data)
    if not isinstance(obj, dict):
        raise BadRecord("metadata must be a JSON object")
    for key in ("step", "current_stage"):
        value = obj.get(key)
        if not _is_count(value):
            what = (
                "missing"
                if key not in obj
                else f"not an integer from 0 to 2**63-1 ({_short(value)})"
            )
            raise BadRecord(f"metadata field {key!r} is {what}")
    for key, kind in (("metrics", dict), ("milestones", dict), ("warnings", list)):
        if key in obj and not isinstance(obj[key], kind):
            raise BadRecord(
                f"metadata field {key!r} must be a JSON {'object' if kind is dict else 'array'}"
            )
    result: dict[str, Any] = _floats(obj)
    for key, (ok, what) in _OPTIONAL.items():
        if result.get(key) is not None and not ok(result[key]):
            if notes is not None:
                notes.append(
                    f"metadata field {key!r} must be {what}, got {_short(obj[key])}; ignored"
                )
            del result[key]
    return result


def _short(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = repr(value) if not isinstance(value, str) else repr(_text(value))
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass
class _Entry:
    key: tuple[Any, ...]
    data: dict[str, Any] | None  # last valid content (None: never valid)
    mtime: float = math.nan


@dataclass
class MetadataScanner:
    """Tracks the metadata files of one directory. Not thread-safe (the watcher holds its lock).

    :meth:`update` takes the metadata file names found in the directory, stats each, re-parses
    the changed ones and returns (changed, bad lines found). :attr:`latest` is the chosen file's
    ``(name, content)`` or None. All disk access goes through ``fs``.
    """

    directory: str
    fs: FileSystem = LOCAL_FS
    _entries: dict[str, _Entry] = field(default_factory=dict)
    latest: tuple[str, dict[str, Any]] | None = None
    latest_mtime: float | None = None

    def update(self, names: Iterable[str]) -> tuple[bool, list[BadLine]]:
        bad: list[BadLine] = []
        changed = False
        seen = set()
        for name in names:
            seen.add(name)
            entry = self._entries.get(name)
            previous = entry.data if entry is not None else None
            try:
                path = check_file(self.directory, name, self.fs)
                st = self.fs.stat(path)
            except FileNotFoundError:
                continue
            except OSError as exc:  # not a regular file inside the directory, a loop, no access
                self._unreadable(name, entry, exc, bad)
                continue
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if entry is not None and entry.key == key:
                continue
            raw = b""
            try:
                raw = read_capped(path, MAX_METADATA_BYTES, self.fs)
                notes: list[str] = []
                data: dict[str, Any] | None = parse_metadata(raw, notes)
                excerpt = raw[:200].decode("utf-8", "replace")
                bad.extend(BadLine(name, 0, excerpt, note[:300]) for note in notes)
            except FileNotFoundError:
                continue
            except Exception as exc:  # any failure on one file is that file's, never the scan's
                reason = (
                    str(exc)
                    if isinstance(exc, BadRecord | OSError)
                    else f"{type(exc).__name__}: {exc}"
                )
                excerpt = raw[:200].decode("utf-8", "replace")
                bad.append(BadLine(name, 0, excerpt, f"metadata file skipped: {reason}"[:300]))
                data = previous
            else:
                changed = True
            self._entries[name] = _Entry(
                key, data, st.st_mtime if data is not previous or entry is None else entry.mtime
            )
        for gone in [n for n in self._entries if n not in seen]:
            del self._entries[gone]
            changed = True
        if changed:
            self._choose()
        return changed, bad

    def contents(self) -> dict[str, dict[str, Any]]:
        """Each metadata file's last valid content, by file name (:attr:`latest` is one of them)."""
        return {name: e.data for name, e in self._entries.items() if e.data is not None}

    def _unreadable(
        self, name: str, entry: _Entry | None, exc: OSError, bad: list[BadLine]
    ) -> None:
        """``name`` cannot be read: said once per reason; its last valid content is kept."""
        key: tuple[Any, ...] = ("unreadable", str(exc))
        if entry is None or entry.key != key:
            bad.append(BadLine(name, 0, "", f"metadata file skipped: {exc}"))
        previous = entry.data if entry is not None else None
        self._entries[name] = _Entry(key, previous, entry.mtime if entry else math.nan)

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
        self.latest_mtime = (
            float(updated)
            if isinstance(updated, int | float) and not isinstance(updated, bool)
            else entry.mtime
        )
