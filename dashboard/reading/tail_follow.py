"""Follow the tail of one run's rank-0 logs between refreshes: new bytes only, a bounded window.

:class:`RunTail` reads, the first time, the last ``tail_bytes`` of each rank-0 log
(``training_log.jsonl`` / ``training_log.json``) and the ``run_start`` / ``stage`` lines of its
first ``HEAD_BYTES`` (its first line however long, up to the line limit); afterwards only the
complete lines appended since (an incomplete last line waits). It starts over from that first read when the set of logs changed, a log shrank or was
replaced (new inode), or more than ``tail_bytes`` were appended since the last refresh (a window,
not a history: jumping is cheaper than parsing what falls out anyway). Each frame keeps at most
``max_rows`` rows (the oldest go first). :meth:`RunTail.frames` rebuilds only the frames whose
rows changed.

What it guarantees is about that window only; the timeline rules of the full reader (resumes
dropping an abandoned timeline) are not applied (:mod:`dashboard.reading.log_tail`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboard.reading.fs import FileSystem
from dashboard.reading.log_tail import (
    TAIL_BYTES,
    TailRecords,
    frame_of,
    head_lines,
    nonfinite_frame,
    parse_records,
    read_lines,
)
from thalia_logging.contract import log_file_rank

__all__ = ["HEAD_KINDS", "MAX_ROWS", "RunTail"]

MAX_ROWS = 2_000
#: what is taken from a log's head: the run's config and process, its stages
HEAD_KINDS = frozenset(("run_starts", "stage_events"))


class RunTail:
    """The tail window of one run's rank-0 logs (see the module docstring). Not thread-safe:
    the overview reader calls it under its lock."""

    def __init__(
        self, fs: FileSystem, *, tail_bytes: int = TAIL_BYTES, max_rows: int = MAX_ROWS
    ) -> None:
        self._fs = fs
        self._tail_bytes = tail_bytes
        self._max_rows = max_rows
        self.records = TailRecords()
        self.log_mtime: float | None = None
        self._offsets: dict[str, tuple[tuple[int, int], int]] = {}  # name -> (identity, end)
        self._frames: dict[str, tuple[tuple[Any, ...], pd.DataFrame]] = {}

    def update(self, logs: dict[str, tuple[str, Any]], errors: list[str]) -> None:
        """Bring the window up to date with ``logs`` (name -> (path, stat)); errors said in
        ``errors`` (what was read stays)."""
        logs = {n: v for n, v in logs.items() if log_file_rank(n) == 0}
        self.log_mtime = max((st.st_mtime for _, st in logs.values()), default=None)
        if not self._can_follow(logs):
            self.records, self._offsets = TailRecords(), {}
            for name, (path, st) in logs.items():
                self._first_read(name, path, st, errors)
        else:
            for name, (path, st) in logs.items():
                _identity, end = self._offsets[name]
                if st.st_size > end:
                    self._follow(name, path, end, st.st_size - end, errors)
        self._trim()

    def _can_follow(self, logs: dict[str, tuple[str, Any]]) -> bool:
        if set(logs) != set(self._offsets):
            return False
        for name, (_path, st) in logs.items():
            identity, end = self._offsets[name]
            grown = st.st_size - end
            if (st.st_dev, st.st_ino) != identity or grown < 0 or grown > self._tail_bytes:
                return False
        return True

    def _first_read(self, name: str, path: str, st: Any, errors: list[str]) -> None:
        identity = (st.st_dev, st.st_ino)
        start = max(0, st.st_size - self._tail_bytes)
        try:
            head = head_lines(self._fs, path, start, st.st_size)
            parse_records(head, 0, self.records, keep=HEAD_KINDS)
            lines, end = read_lines(self._fs, path, start, st.st_size - start)
        except OSError as exc:
            errors.append(f"cannot read {name}: {exc}")
            lines, end = [], 0
        parse_records(lines, 0, self.records)
        self._offsets[name] = (identity, end)

    def _follow(self, name: str, path: str, end: int, length: int, errors: list[str]) -> None:
        """Parse the complete lines of ``length`` bytes from ``end`` (a line start)."""
        try:
            with self._fs.open(path) as fh:
                fh.seek(end)
                data = fh.read(length)
        except OSError as exc:
            errors.append(f"cannot read {name}: {exc}")
            return
        last = data.rfind(b"\n")
        if last < 0:
            return  # an incomplete line: wait for its end
        parse_records([line for line in data[:last].split(b"\n") if line.strip()], 0, self.records)
        self._offsets[name] = (self._offsets[name][0], end + last + 1)

    def _trim(self) -> None:
        for rows in self.records.rows.values():
            if len(rows) > self._max_rows:
                del rows[: len(rows) - self._max_rows]
        nonfinite = self.records.nonfinite
        if len(nonfinite) > self._max_rows:
            del nonfinite[: len(nonfinite) - self._max_rows]

    def frames(self) -> dict[str, pd.DataFrame]:
        """The frames of the window (a frame whose rows did not change is the same object)."""
        out = {}
        sources: dict[str, list[Any]] = {**self.records.rows, "nonfinite": self.records.nonfinite}
        for kind, rows in sources.items():
            key = (len(rows), id(rows[0]) if rows else None, id(rows[-1]) if rows else None)
            cached = self._frames.get(kind)
            if cached is None or cached[0] != key:
                frame = nonfinite_frame(rows) if kind == "nonfinite" else frame_of(kind, rows)
                cached = self._frames[kind] = (key, frame)
            out[kind] = cached[1]
        return out
