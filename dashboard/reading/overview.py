"""Cheap summaries of every run under a root, for the runs overview: metadata, the tail of each
log and event counts kept incrementally, never a run's full history.

:class:`OverviewReader` finds the runs (:func:`~dashboard.reading.runs.discover_runs`) on each
:meth:`~OverviewReader.refresh` and keeps one small cache per run. A run whose log files and
metadata files have the same (inode, size, mtime) as at the last refresh keeps its
:class:`RunSummary` (no read at all); a changed one reads only:

* the last ``tail_bytes`` of each rank-0 log (``training_log.jsonl`` / ``training_log.json``)
  and, when the file is longer, the ``run_start`` and ``stage`` lines of its first
  ``HEAD_BYTES`` (where the config is), then only the lines appended since, parsed into small
  frames (:class:`~dashboard.reading.tail_follow.RunTail`, :mod:`dashboard.reading.log_tail`);
* the metadata files through a :class:`~dashboard.reading.metadata.MetadataScanner` (changed
  files only): the latest one, and every checkpoint's step, metrics and milestones;
* growth / consolidation counts: :class:`~dashboard.reading.event_counts.EventCounter` per log
  file, which scans new bytes only, at most ``scan_budget`` bytes and about ``scan_seconds``
  per refresh over all runs (counts stay None until a file was scanned to its end).

Runs that disappeared are dropped with their caches. When the root itself cannot be listed
(deleted, a network mount gone), nothing is dropped: the last summaries stay and
``discovery.root_error`` says why they are not new. Thread-safe: one lock around a refresh
(the Streamlit server shares one reader per root between sessions).
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from dashboard.reading.event_counts import EventCounter
from dashboard.reading.fs import LOCAL_FS, FileSystem
from dashboard.reading.log_tail import TAIL_BYTES
from dashboard.reading.metadata import MetadataScanner, is_metadata_name, normalise_warnings
from dashboard.reading.runs import Discovery, RunEntry, discover_runs
from dashboard.reading.safefile import check_file
from dashboard.reading.tail_follow import RunTail
from dashboard.run_state import RunState
from thalia_logging.contract import log_file_rank

__all__ = [
    "SCAN_BUDGET",
    "SCAN_SECONDS",
    "Checkpoint",
    "OverviewReader",
    "RunSummary",
]

SCAN_BUDGET = 256 << 20
#: seconds of event counting per refresh at most (the first paint of a big root stays quick)
SCAN_SECONDS = 0.5


@dataclass(frozen=True)
class Checkpoint:
    """One metadata file: its step, the ``metrics`` and ``milestones`` it recorded."""

    step: int
    metrics: dict[str, Any]
    milestones: dict[str, Any]


@dataclass(frozen=True)
class RunSummary:
    """What the overview knows of one run. ``state`` is a :class:`RunState` whose frames hold the
    logs' head and tail only (metadata, warnings, config and last update are the run's own);
    ``growth`` / ``consolidation`` count every such line written (None while still counting);
    ``log_bytes`` is the size of the run's logs; ``errors`` say what could not be read."""

    name: str
    path: str
    state: RunState
    checkpoints: tuple[Checkpoint, ...]
    growth: int | None
    consolidation: int | None
    log_bytes: int
    errors: tuple[str, ...] = ()


@dataclass
class _RunCache:
    scanner: MetadataScanner
    tail: RunTail
    key: tuple[Any, ...] | None = None
    summary: RunSummary | None = None
    counters: dict[str, EventCounter] = field(default_factory=dict)


class OverviewReader:
    """The summaries of the runs under ``root`` (see the module docstring)."""

    def __init__(
        self,
        root: str,
        *,
        fs: FileSystem = LOCAL_FS,
        tail_bytes: int = TAIL_BYTES,
        scan_budget: int = SCAN_BUDGET,
        scan_seconds: float = SCAN_SECONDS,
        max_depth: int | None = None,
    ) -> None:
        self.root = root
        self._fs = fs
        self._tail_bytes = tail_bytes
        self._scan_budget = scan_budget
        self._scan_seconds = scan_seconds
        self._deadline = math.inf
        self._depth = {} if max_depth is None else {"max_depth": max_depth}
        self._runs: dict[str, _RunCache] = {}
        self._lock = threading.Lock()
        self.discovery = Discovery(root, ())

    def refresh(self) -> list[RunSummary]:
        """Find the runs again and bring each summary up to date (changed runs only)."""
        with self._lock:
            found = discover_runs(self.root, fs=self._fs, **self._depth)
            if found.root_error is not None and self._runs:
                # the root itself cannot be listed (deleted, a network mount gone): what was
                # read stays, said to be stale, until the root can be listed again
                self.discovery = replace(self.discovery, root_error=found.root_error)
                kept = (
                    self._runs[r.name].summary for r in self.discovery.runs if r.name in self._runs
                )
                return [summary for summary in kept if summary is not None]
            self.discovery = found
            names = {run.name for run in self.discovery.runs}
            for gone in [n for n in self._runs if n not in names]:
                del self._runs[gone]
            budget = self._scan_budget
            self._deadline = time.monotonic() + self._scan_seconds
            out = []
            for run in self.discovery.runs:
                cache = self._runs.get(run.name)
                if cache is None:
                    cache = self._runs[run.name] = _RunCache(
                        MetadataScanner(run.path, fs=self._fs),
                        RunTail(self._fs, tail_bytes=self._tail_bytes),
                    )
                summary, used = self._summary(run, cache, budget)
                budget -= used
                out.append(summary)
            return out

    def _summary(self, run: RunEntry, cache: _RunCache, budget: int) -> tuple[RunSummary, int]:
        errors: list[str] = []
        try:
            names = sorted(self._fs.listdir(run.path))
        except OSError as exc:
            names = []
            errors.append(f"cannot list the run: {exc.strerror or exc}")
        logs: dict[str, tuple[str, Any]] = {}
        for name in names:
            if log_file_rank(name) is None:
                continue
            try:
                path = check_file(run.path, name, self._fs)
                logs[name] = (path, self._fs.stat(path))
            except OSError as exc:
                errors.append(str(exc))
        meta = [n for n in names if is_metadata_name(n)]
        key = (
            tuple((n, st.st_ino, st.st_size, st.st_mtime_ns) for n, (_, st) in logs.items()),
            tuple(self._meta_keys(run.path, meta)),
        )
        used = self._count(cache, logs, budget, errors)
        if cache.summary is not None and cache.key == key and not used and not errors:
            return cache.summary, 0
        counted = [cache.counters[n] for n in logs if n in cache.counters]
        done = bool(counted) and all(c.done for c in counted)
        growth = sum(c.growth for c in counted) if done or not logs else None
        consolidation = sum(c.consolidation for c in counted) if done or not logs else None
        if cache.key != key or cache.summary is None:
            state, checkpoints = self._read(run, cache, logs, meta, errors)
        else:
            state, checkpoints = cache.summary.state, cache.summary.checkpoints
        size = sum(st.st_size for _, st in logs.values())
        summary = RunSummary(
            run.name, run.path, state, checkpoints, growth, consolidation, size, tuple(errors)
        )
        cache.key, cache.summary = key, summary
        return summary, used

    def _meta_keys(self, directory: str, names: list[str]) -> list[tuple[Any, ...]]:
        keys = []
        for name in names:
            try:
                st = self._fs.stat(os.path.join(directory, name))
            except OSError:
                continue
            keys.append((name, st.st_ino, st.st_size, st.st_mtime_ns))
        return keys

    def _count(
        self, cache: _RunCache, logs: dict[str, tuple[str, Any]], budget: int, errors: list[str]
    ) -> int:
        for gone in [n for n in cache.counters if n not in logs]:
            del cache.counters[gone]
        used = 0
        for name, (path, _st) in logs.items():
            counter = cache.counters.setdefault(name, EventCounter(path))
            counter.path = path
            try:
                used += counter.scan(self._fs, budget - used, self._deadline)
            except OSError as exc:
                errors.append(f"cannot count events in {name}: {exc}")
        return used

    def _read(
        self,
        run: RunEntry,
        cache: _RunCache,
        logs: dict[str, tuple[str, Any]],
        meta: list[str],
        errors: list[str],
    ) -> tuple[RunState, tuple[Checkpoint, ...]]:
        tail = cache.tail
        tail.update(logs, errors)
        records, log_mtime = tail.records, tail.log_mtime
        _changed, bad = cache.scanner.update(meta)
        errors.extend(f"{b.file}: {b.reason}" for b in bad)
        latest = cache.scanner.latest
        times = [
            t
            for t in (
                records.max_wall_time,
                cache.scanner.latest_mtime,
                log_mtime if records.max_wall_time is None else None,
            )
            if t is not None
        ]
        frames = tail.frames()
        state = RunState(
            run.path,
            True,
            metadata=latest[1] if latest else None,
            metadata_file=latest[0] if latest else None,
            warnings=normalise_warnings(latest[1].get("warnings")) if latest else (),
            bad_line_count=records.bad,
            last_update=max(times) if times else None,
            log_files=tuple(logs),
            version=1,
            config=records.config,
            metrics_history=frames["metrics_history"],
            growth_events=frames["growth_events"],
            consolidation_events=frames["consolidation_events"],
            stage_events=frames["stage_events"],
            run_starts=frames["run_starts"],
            run_ends=frames["run_ends"],
            nonfinite=frames["nonfinite"],
        )
        return state, _checkpoints(cache.scanner.contents())


def _checkpoints(contents: dict[str, dict[str, Any]]) -> tuple[Checkpoint, ...]:
    out = []
    for data in contents.values():
        metrics = data.get("metrics")
        milestones = data.get("milestones")
        out.append(
            Checkpoint(
                int(data["step"]),
                metrics if isinstance(metrics, dict) else {},
                milestones if isinstance(milestones, dict) else {},
            )
        )
    return tuple(sorted(out, key=lambda c: c.step))
