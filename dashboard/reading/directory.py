"""Read a checkpoint directory incrementally: log files -> column stores, metadata -> latest.

:class:`DirectoryReader` owns one :class:`~dashboard.reading.tailer.RotatingTailer` per log file (the
file and its rotated segments ``name.1``, ``name.2``, ... as one stream), the column stores of
every frame and the metadata scanner. A log file is read only when it is a regular file inside the
directory (or a symlink to one there): a FIFO, a directory, a device or a symlink that leaves the
directory is skipped, said in ``errors`` at each read and counted once as a bad line. A log in
segment mode is one :class:`~dashboard.reading.segments.SegmentStream` per rank. Each
:meth:`DirectoryReader.update` lists the directory, reads only new bytes and reports whether
anything changed. It knows nothing about threads or filesystem events (:mod:`.watcher`).

The timeline rules (late lines, evaluator threads, resumes, truncated or replaced files, legacy
logs) are :mod:`dashboard.reading.timeline`'s.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dashboard.errors import BadRecord
from dashboard.reading.arrow_fastpath import MIN_BLOCK_BYTES, parse_block
from dashboard.reading.chunks import LOGGED_NAN, Cut
from dashboard.reading.column_store import ColumnStore
from dashboard.reading.freshness import Freshness
from dashboard.reading.fs import LOCAL_FS, FileSystem
from dashboard.reading.line_parser import EVENT_KINDS, parse_line
from dashboard.reading.linebuffer import DEFAULT_MAX_LINE_BYTES, Block, Overlong, split_lines
from dashboard.reading.metadata import MetadataScanner, is_metadata_name, normalise_warnings
from dashboard.reading.nonfinite import NonFiniteLog
from dashboard.reading.remote_fs import is_remote
from dashboard.reading.safefile import check_file
from dashboard.reading.segments import SegmentStream, stream_key
from dashboard.reading.tailer import Refused, Reset, RotatingTailer
from dashboard.reading.timeline import RESUME_AFTER, TimelineRules
from dashboard.run_state import BadLine, Restart, RunState
from thalia_logging.contract import log_file_rank

__all__ = ["MAX_BAD_LINES", "RESUME_AFTER", "DirectoryReader", "log_file_rank"]

_log = logging.getLogger(__name__)
MAX_BAD_LINES = 200
_Stream = RotatingTailer | SegmentStream


def _excerpt(line: bytes) -> str:
    return line[:800].decode("utf-8", "replace")[:200]


class DirectoryReader:
    """Incremental reader of one checkpoint directory. Not thread-safe: one caller at a time.

    Guarantees: each complete line of each log file is parsed once (again from 0 after the file
    shrank or was replaced, dropping what was read from it before); bad lines are counted and
    kept (last ``MAX_BAD_LINES``); late lines are kept and land in step order, metric lines
    sharing a step merge field by field; resumes (the cases in the module docstring: a
    ``run_start`` with ``resumed_from_step``, a truncated or replaced file, a sustained step
    regression in a legacy log) add a :class:`Restart` and drop the abandoned timeline;
    explicitly logged non-finite metric values are recorded in a
    :class:`~dashboard.reading.nonfinite.NonFiniteLog` under the same rules as the rows; :meth:`state`
    returns an immutable snapshot of the committed data. All disk access goes through ``fs``
    (:mod:`dashboard.reading.fs`), handed on to the tailers, the metadata scanner and the
    safe-file checks.
    """

    def __init__(
        self,
        checkpoint_dir: str | os.PathLike[str],
        *,
        fs: FileSystem = LOCAL_FS,
        wall_clock: Callable[[], float] = time.time,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        block_parser: Callable[..., Any] | None = parse_block,
        min_block_bytes: int = MIN_BLOCK_BYTES,
    ) -> None:
        self.directory = os.fspath(checkpoint_dir)
        self._fs = fs
        self._wall_clock = wall_clock
        self._max_line_bytes = max_line_bytes
        self._block_parser = block_parser
        self._min_block_bytes = min_block_bytes
        self.exists = False
        self.not_a_directory = False
        self._tailers: dict[str, tuple[int, int, _Stream]] = {}  # name -> (src, rank, stream)
        self._refused: dict[str, str] = {}  # file name -> why it is not read (reported once)
        self._stores = {
            name: ColumnStore(name, dedup=name == "metrics_history")
            for name in EVENT_KINDS.values()
        }
        self._nonfinite = NonFiniteLog()
        self._metadata = MetadataScanner(self.directory, fs=fs)
        self._seq = 0
        self._rules = TimelineRules(self._cut, wall_clock)
        self.bad_lines: collections.deque[BadLine] = collections.deque(maxlen=MAX_BAD_LINES)
        self.bad_line_count = 0
        self.restarts: list[Restart] = self._rules.restarts
        self.freshness = Freshness()
        self.errors: list[str] = []
        # The newest run_start's config: (wall_time or -inf, seq) orders them across files.
        self._config: tuple[tuple[float, int], dict[str, Any]] | None = None

    def update(self) -> bool:
        """Read what changed on disk; True if the snapshot would differ from the last one."""
        self.errors = []
        try:
            names = self._fs.listdir(self.directory)
        except (FileNotFoundError, NotADirectoryError) as exc:
            not_dir = isinstance(exc, NotADirectoryError)
            changed = self.exists or not_dir != self.not_a_directory
            self.exists, self.not_a_directory = False, not_dir
            return changed
        changed = not self.exists
        self.not_a_directory, self.exists = False, True
        for name in sorted(names):
            found = stream_key(name)
            if found is not None and found[0] not in self._tailers:
                key, rank, segment = found
                self._tailers[key] = (len(self._tailers), rank, self._stream(name, rank, segment))
                changed = True
        before = (self.bad_line_count, len(self.restarts))
        seq_before = self._seq
        for name, (src, rank, tailer) in self._tailers.items():
            try:
                got: set[str] = set()
                for file, item in tailer.read_segments(names):
                    got.add(file)
                    self._handle(file, src, rank, item)
                for file in got:
                    path = os.path.join(self.directory, file)
                    self.freshness.note_mtime(self._fs.stat(path).st_mtime)
            except OSError as exc:  # transient (permissions, NFS hiccup): keep data, retry later
                _log.debug("reading %s failed: %s", name, exc)
                self.errors.append(f"cannot read {name}: {exc}")
        if self._seq != seq_before:
            self.freshness.sample()
        meta_changed, meta_bad = self._metadata.update(n for n in names if is_metadata_name(n))
        for bad in meta_bad:
            self._bad(bad)
        for store in self._stores.values():  # with the notes of a store that cannot spill
            changed, self.errors = store.commit() or changed, self.errors + store.notes
        self._nonfinite.commit()
        return changed or meta_changed or before != (self.bad_line_count, len(self.restarts))

    def release(self) -> None:
        """Give back the pages of old rows that readers faulted in since the commit."""
        for store in self._stores.values():
            store.release()

    def _stream(self, name: str, rank: int, segment: bool) -> _Stream:
        opts: dict[str, Any] = {"fs": self._fs, "max_line_bytes": self._max_line_bytes}
        if segment:  # one reader for all of this rank's segments
            return SegmentStream(self.directory, rank, check=self._check_file, **opts)
        return RotatingTailer(self.directory, name, check=self._check_file, **opts)

    def _check_file(self, directory: str, name: str) -> str:
        return check_file(directory, name, self._fs)

    def _bad(self, bad: BadLine) -> None:
        self.bad_line_count += 1
        self.bad_lines.append(bad)

    def _handle(
        self, name: str, src: int, rank: int, item: Block | Overlong | Reset | Refused
    ) -> None:
        if isinstance(item, Refused):
            self.errors.append(item.reason)
            if self._refused.get(name) != item.reason:
                self._refused[name] = item.reason
                self._bad(BadLine(name, 0, "", item.reason))
            return
        self._refused.pop(name, None)
        if isinstance(item, Overlong):
            self._bad(BadLine(name, item.offset, _excerpt(item.head), item.reason))
        elif isinstance(item, Reset):
            self._rules.reset(name, src, item.kind, self._seq)
        elif not self._parse_fast(name, src, rank, item):
            self._parse_lines(name, src, rank, item)

    def _parse_fast(self, name: str, src: int, rank: int, block: Block) -> bool:
        if (
            self._block_parser is None
            or len(block.data) < self._min_block_bytes
            or src in self._rules.pending_reset
        ):
            return False
        try:  # never lose a block to the fast path: the line parser is the reference
            parsed = self._block_parser(block.data)
        except Exception as exc:
            _log.debug("block parser failed, reading the block line by line: %r", exc)
            parsed = None
        if parsed is None:
            return False
        base = self._seq
        if "metrics_history" in parsed.frames:
            rows, cols = parsed.frames["metrics_history"]
            steps, walls = cols["step"], cols["wall_time"]
            if not self._rules.take_block(name, src, rank, steps, rows + base, walls):
                return False
            self.freshness.note_metric_step(int(steps.max()))
        self._seq += parsed.lines
        for frame, (positions, cols) in parsed.frames.items():
            n = len(positions)
            cols["rank"] = _full_int(n, rank)
            cols["_seq"] = positions + base
            cols["_src"] = _full_int(n, src)
            self._stores[frame].add_columns(n, cols)
        self.freshness.note_wall(parsed.max_wall_time)
        return True

    def _parse_lines(self, name: str, src: int, file_rank: int, block: Block) -> None:
        stores, rules = self._stores, self._rules
        for offset, line in split_lines(block):
            try:
                kind, fields = parse_line(line)
            except BadRecord as exc:
                if line.strip():
                    self._bad(BadLine(name, offset, _excerpt(line), str(exc)))
                continue
            except Exception as exc:  # any failure on one record is that record's, never the read's
                reason = f"cannot read this line ({type(exc).__name__}: {exc})"[:300]
                self._bad(BadLine(name, offset, _excerpt(line), reason))
                continue
            rank = fields.setdefault("rank", file_rank)
            seq = self._seq
            self._seq += 1
            step = fields["step"]
            wall = fields["wall_time"]
            if kind == "run_starts":
                rules.run_start(name, src, rank, seq, fields["resumed_from_step"], wall)
                self._note_config(seq, wall, fields.pop("_config", None))
            else:
                if kind == "metrics_history":
                    self.freshness.note_metric_step(step)
                    if src not in rules.has_run_start:
                        rules.legacy_metric(name, src, rank, seq, step, wall)
                if src in rules.pending_reset:
                    rules.first_step_after_reset(src, step)
            nonfinite = fields.pop("_nonfinite", None)
            if nonfinite is not None:
                for col in nonfinite:
                    if math.isnan(fields[col]):
                        fields[col] = LOGGED_NAN  # a value, not a field left out (frames merge)
                self._nonfinite.add(seq, src, rank, step, fields, nonfinite)
            fields["_seq"] = seq
            fields["_src"] = src
            stores[kind].add_row(fields)
            self.freshness.note_wall(wall)

    def _note_config(self, seq: int, wall: float, config: dict[str, Any] | None) -> None:
        """Keep the config of the newest ``run_start`` (by wall time, then read order)."""
        if config is None:
            return
        key = (-math.inf if math.isnan(wall) else wall, seq)
        if self._config is None or key >= self._config[0]:
            self._config = (key, config)

    def _cut(self, cut: Cut) -> None:
        for store in self._stores.values():
            store.add_cut(cut)
        self._nonfinite.add_cut(cut)

    # -- snapshot ------------------------------------------------------------------------------
    def state(self, version: int, error: str | None = None) -> RunState:
        """An immutable snapshot of everything committed so far."""
        latest = self._metadata.latest
        meta_time = self._metadata.latest_mtime
        snaps = {name: store.snapshot() for name, store in self._stores.items()}
        nonfinite = self._nonfinite.snapshot(snaps["metrics_history"])
        return RunState(
            self.directory,
            self.exists,
            url=self.directory if is_remote(self.directory) else None,
            not_a_directory=self.not_a_directory,
            nonfinite=nonfinite,
            metadata=latest[1] if latest else None,
            metadata_file=latest[0] if latest else None,
            warnings=normalise_warnings(latest[1].get("warnings")) if latest else (),
            bad_lines=tuple(self.bad_lines),
            bad_line_count=self.bad_line_count,
            restarts=tuple(self.restarts),
            last_update=self.freshness.last_update(meta_time),
            activity=tuple(self.freshness.activity),
            config=self._config[1] if self._config is not None else None,
            log_files=tuple(self._tailers),
            version=version,
            error=error,
            **snaps,
        )


def _full_int(n: int, value: int) -> np.ndarray:
    return np.full(n, value, dtype=np.int64)
