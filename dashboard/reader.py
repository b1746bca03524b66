"""Read a checkpoint directory incrementally: log files -> column stores, metadata -> latest.

:class:`DirectoryReader` owns one :class:`~dashboard.tailer.Tailer` per log file, the column
stores of every frame and the metadata scanner. Each :meth:`DirectoryReader.update` lists the
directory, reads only new bytes and reports whether anything changed. It knows nothing about
threads or filesystem events (that is :mod:`dashboard.watcher`).
"""

from __future__ import annotations

import collections
import logging
import math
import os
import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dashboard.blockparse import MIN_BLOCK_BYTES, parse_block
from dashboard.frames import ColumnStore, Cut
from dashboard.linebuffer import DEFAULT_MAX_LINE_BYTES, Block, Overlong, split_lines
from dashboard.metadata import MetadataScanner, is_metadata_name, normalise_warnings
from dashboard.nonfinite import NonFiniteLog
from dashboard.parse import EVENT_KINDS, BadRecord, parse_line
from dashboard.state import BadLine, Restart, RunState
from dashboard.tailer import Reset, Tailer

__all__ = ["MAX_BAD_LINES", "DirectoryReader", "log_file_rank"]

log = logging.getLogger(__name__)
MAX_BAD_LINES = 200
_RANK_FILE = re.compile(r"training_log\.rank(\d+)\.jsonl\Z")


def log_file_rank(name: str) -> int | None:
    """The rank a log file's lines belong to, or None when ``name`` is not a log file."""
    if name in ("training_log.jsonl", "training_log.json"):
        return 0
    match = _RANK_FILE.match(name)
    return int(match.group(1)) if match else None


def _excerpt(line: bytes) -> str:
    return line[:800].decode("utf-8", "replace")[:200]


class DirectoryReader:
    """Incremental reader of one checkpoint directory. Not thread-safe: one caller at a time.

    Guarantees: each complete line of each log file is parsed once (again from 0 after the file
    shrank or was replaced, dropping what was read from it before); bad lines are counted and
    kept (last ``MAX_BAD_LINES``); resumes (steps going back within a file and rank, or a
    ``run_start`` with ``resumed_from_step``) add a :class:`Restart` and drop the abandoned
    timeline; explicitly logged non-finite metric values are recorded in a
    :class:`~dashboard.nonfinite.NonFiniteLog` under the same rules as the rows; :meth:`state`
    returns an immutable snapshot of the committed data.
    """

    def __init__(
        self,
        checkpoint_dir: str | os.PathLike[str],
        *,
        open_: Callable[..., Any] = open,
        stat: Callable[[Any], os.stat_result] = os.stat,
        listdir: Callable[[str], list[str]] = os.listdir,
        wall_clock: Callable[[], float] = time.time,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        block_parser: Callable[..., Any] | None = parse_block,
        min_block_bytes: int = MIN_BLOCK_BYTES,
    ) -> None:
        self.directory = os.fspath(checkpoint_dir)
        self._open, self._stat, self._listdir = open_, stat, listdir
        self._wall_clock = wall_clock
        self._max_line_bytes = max_line_bytes
        self._block_parser = block_parser
        self._min_block_bytes = min_block_bytes
        self.exists = False
        self.not_a_directory = False
        self._tailers: dict[str, tuple[int, int, Tailer]] = {}  # name -> (src, rank, tailer)
        self._stores = {name: ColumnStore(name, dedup=name == "metrics_history") for name in EVENT_KINDS.values()}
        self._nonfinite = NonFiniteLog()
        self._metadata = MetadataScanner(self.directory, stat=stat)
        self._seq = 0
        self._last_step: dict[tuple[int, int], int] = {}
        self._pending_resume: set[tuple[int, int]] = set()
        self._pending_reset: dict[int, int] = {}  # src -> index in restarts awaiting its step
        self.bad_lines: collections.deque[BadLine] = collections.deque(maxlen=MAX_BAD_LINES)
        self.bad_line_count = 0
        self.restarts: list[Restart] = []
        self.max_wall_time: float | None = None
        self.errors: list[str] = []
        # When new lines were seen: the log file's mtime then, and the highest step read so far
        # (how "last update" and speed work for legacy lines without wall_time).
        self._activity: collections.deque[tuple[float, int]] = collections.deque(maxlen=512)
        self.log_mtime: float | None = None

    # -- reading -------------------------------------------------------------------------------
    def update(self) -> bool:
        """Read what changed on disk; True if the snapshot would differ from the last one."""
        self.errors = []
        try:
            names = self._listdir(self.directory)
        except (FileNotFoundError, NotADirectoryError) as exc:
            not_dir = isinstance(exc, NotADirectoryError)
            changed = self.exists or not_dir != self.not_a_directory
            self.exists, self.not_a_directory = False, not_dir
            return changed
        changed = not self.exists
        self.not_a_directory = False
        self.exists = True
        for name in sorted(names):
            rank = log_file_rank(name)
            if rank is not None and name not in self._tailers:
                tailer = Tailer(os.path.join(self.directory, name), open_=self._open,
                                stat=self._stat, max_line_bytes=self._max_line_bytes)
                self._tailers[name] = (len(self._tailers), rank, tailer)
                changed = True
        before = (self.bad_line_count, len(self.restarts))
        seq_before = self._seq
        for name, (src, rank, tailer) in self._tailers.items():
            try:
                got = False
                for item in tailer.read_blocks():
                    got = True
                    self._handle(name, src, rank, item)
                if got:
                    self._note_mtime(self._stat(tailer.path).st_mtime)
            except OSError as exc:  # transient (permissions, NFS hiccup): keep data, retry later
                log.debug("reading %s failed: %s", name, exc)
                self.errors.append(f"cannot read {name}: {exc}")
        if self._seq != seq_before and self._last_step and self.log_mtime is not None:
            self._activity.append((self.log_mtime, max(self._last_step.values())))
        meta_changed, meta_bad = self._metadata.update(n for n in names if is_metadata_name(n))
        for bad in meta_bad:
            self._bad(bad)
        for store in self._stores.values():
            changed = store.commit() or changed
        self._nonfinite.commit()
        return changed or meta_changed or before != (self.bad_line_count, len(self.restarts))

    def _bad(self, bad: BadLine) -> None:
        self.bad_line_count += 1
        self.bad_lines.append(bad)

    def _handle(self, name: str, src: int, rank: int, item: Block | Overlong | Reset) -> None:
        if isinstance(item, Overlong):
            self._bad(BadLine(name, item.offset, _excerpt(item.head), item.reason))
        elif isinstance(item, Reset):
            self._cut(Cut(src, -1, self._seq, 0))
            for key in [k for k in self._last_step if k[0] == src]:
                del self._last_step[key]
            self._pending_resume = {k for k in self._pending_resume if k[0] != src}
            self._pending_reset[src] = len(self.restarts)
            self.restarts.append(Restart(name, item.kind, None, self._wall_clock()))
        elif not self._parse_fast(src, rank, item):
            self._parse_lines(name, src, rank, item)

    def _parse_fast(self, src: int, rank: int, block: Block) -> bool:
        key = (src, rank)
        if (self._block_parser is None or len(block.data) < self._min_block_bytes
                or key in self._pending_resume or src in self._pending_reset):
            return False
        parsed = self._block_parser(block.data, last_step=self._last_step.get(key))
        if parsed is None:
            return False
        base = self._seq
        self._seq += parsed.lines
        metric_rows = parsed.frames.get("metrics_history")
        if metric_rows is not None and len(metric_rows[0]) and key in self._last_step:
            # a block starting at the step the file is at replaces that step's earlier line
            self._nonfinite.supersede(src, rank, int(metric_rows[1]["step"][0]), base)
        for frame, (positions, cols) in parsed.frames.items():
            n = len(positions)
            cols["rank"] = _full_int(n, rank)
            cols["_seq"] = positions + base
            cols["_src"] = _full_int(n, src)
            self._stores[frame].add_columns(n, cols)
        self._last_step[key] = parsed.last_step
        self._note_wall(parsed.max_wall_time)
        return True

    def _parse_lines(self, name: str, src: int, file_rank: int, block: Block) -> None:
        stores = self._stores
        for offset, line in split_lines(block):
            try:
                kind, fields = parse_line(line)
            except BadRecord as exc:
                if line.strip():
                    self._bad(BadLine(name, offset, _excerpt(line), str(exc)))
                continue
            rank = fields.setdefault("rank", file_rank)
            seq = self._seq
            self._seq += 1
            step = fields["step"]
            wall = fields["wall_time"]
            key = (src, rank)
            if kind == "run_starts":
                if not math.isnan(fields["resumed_from_step"]):
                    self._pending_resume.add(key)
            else:
                prev = self._last_step.get(key)
                if key in self._pending_resume or (prev is not None and step < prev):
                    self._pending_resume.discard(key)
                    when = wall if not math.isnan(wall) else self._wall_clock()
                    self.restarts.append(Restart(name, "resumed", step, when))
                    self._cut(Cut(src, rank, seq, step))
                elif prev == step and kind == "metrics_history":
                    self._nonfinite.supersede(src, rank, step, seq)
                self._last_step[key] = step
                pending = self._pending_reset.pop(src, None)
                if pending is not None:
                    old = self.restarts[pending]
                    self.restarts[pending] = Restart(old.file, old.kind, step, old.wall_time)
            nonfinite = fields.pop("_nonfinite", None)
            if nonfinite is not None:
                self._nonfinite.add(seq, src, rank, step, fields, nonfinite)
            fields["_seq"] = seq
            fields["_src"] = src
            stores[kind].add_row(fields)
            self._note_wall(wall)

    def _cut(self, cut: Cut) -> None:
        for store in self._stores.values():
            store.add_cut(cut)
        self._nonfinite.add_cut(cut)

    def _note_mtime(self, mtime: float) -> None:
        if self.log_mtime is None or mtime > self.log_mtime:
            self.log_mtime = mtime

    def _note_wall(self, wall: float) -> None:
        if not math.isnan(wall) and (self.max_wall_time is None or wall > self.max_wall_time):
            self.max_wall_time = wall

    # -- snapshot ------------------------------------------------------------------------------
    def state(self, version: int, error: str | None = None) -> RunState:
        """An immutable snapshot of everything committed so far."""
        latest = self._metadata.latest
        meta_time = self._metadata.latest_mtime
        # Lines without wall_time (older Thalia logs): the log files' mtimes say when data came.
        log_time = self.log_mtime if self.max_wall_time is None else None
        times = [t for t in (self.max_wall_time, meta_time, log_time)
                 if t is not None and not math.isnan(t)]
        snaps = {name: store.snapshot() for name, store in self._stores.items()}
        nonfinite = self._nonfinite.snapshot(snaps["metrics_history"])
        return RunState(
            self.directory,
            self.exists,
            not_a_directory=self.not_a_directory,
            nonfinite=nonfinite,
            metadata=latest[1] if latest else None,
            metadata_file=latest[0] if latest else None,
            warnings=normalise_warnings(latest[1].get("warnings")) if latest else (),
            bad_lines=tuple(self.bad_lines),
            bad_line_count=self.bad_line_count,
            restarts=tuple(self.restarts),
            last_update=max(times) if times else None,
            activity=tuple(self._activity),
            log_files=tuple(self._tailers),
            version=version,
            error=error,
            **snaps,
        )


def _full_int(n: int, value: int) -> np.ndarray:
    return np.full(n, value, dtype=np.int64)
