"""Growth and consolidation events counted over a whole log without parsing it, kept incrementally.

:class:`EventCounter` follows one log file by offset, like a tailer, but only counts the lines
whose ``event_type`` is ``growth`` or ``consolidation``: it searches the raw bytes for
``"event_type":"growth"`` (and the ``": "`` spelling Python's ``json.dumps`` writes) with
``bytes.find``, which runs at memory speed, and parses only the lines it finds there, so a
line is counted when its own top-level ``event_type`` is the kind (a ``{"event_type": "growth"}``
nested inside a config or a metric is not an event). It reads at most ``budget`` bytes per call and stops
at the last complete line (a pattern never spans a ``\\n``), so a count is exact for the bytes
scanned and :attr:`EventCounter.done` says when it reached the end. A file that shrank or was
replaced (new inode) is counted again from 0.

What it does not know: the timeline rules (events of an abandoned timeline after a resume are
counted, as written), other spellings of the key (a log written with ``indent`` is not JSON
lines anyway), and rotated segments. The run page's counts are the reader of record.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import orjson

from dashboard.reading.fs import FileSystem

__all__ = ["PATTERNS", "READ_SIZE", "EventCounter"]

READ_SIZE = 8 << 20
PATTERNS: dict[str, tuple[bytes, ...]] = {
    kind: (f'"event_type":"{kind}"'.encode(), f'"event_type": "{kind}"'.encode())
    for kind in ("growth", "consolidation")
}


_KEYS = (b'"event_type":"', b'"event_type": "')
_SAMPLE = 64 << 10


def _spellings(data: bytes, end: int) -> list[int]:
    """Which spellings of the key (compact, spaced) ``data[:end]`` uses: looked up in its first
    ``_SAMPLE`` bytes, then (for a spelling not seen there) in the rest, so a file in one
    spelling costs three passes instead of four."""
    found = [i for i, key in enumerate(_KEYS) if data.find(key, 0, min(end, _SAMPLE)) >= 0]
    return found + [
        i for i, key in enumerate(_KEYS) if i not in found and data.find(key, 0, end) >= 0
    ]


@dataclass
class EventCounter:
    """Counts of ``growth`` / ``consolidation`` lines in one file, read forward by offset."""

    path: str
    offset: int = 0
    identity: tuple[int, int] | None = None
    growth: int = 0
    consolidation: int = 0
    size: int = 0

    @property
    def done(self) -> bool:
        return self.offset >= self.size

    def scan(self, fs: FileSystem, budget: int, deadline: float = math.inf) -> int:
        """Count in up to ``budget`` new bytes, stopping between reads once ``time.monotonic()``
        passed ``deadline``; returns the bytes consumed (0: nothing to do)."""
        st = fs.stat(self.path)
        identity = (st.st_dev, st.st_ino)
        if identity != self.identity or st.st_size < self.offset:
            self.identity, self.offset, self.growth, self.consolidation = identity, 0, 0, 0
        self.size = st.st_size
        consumed = 0
        if self.done or budget <= 0 or time.monotonic() > deadline:
            return 0
        with fs.open(self.path) as fh:
            fh.seek(self.offset)
            while consumed < budget and self.offset < self.size and time.monotonic() <= deadline:
                data = fh.read(min(READ_SIZE, budget - consumed, self.size - self.offset))
                end = data.rfind(b"\n") + 1
                if end == 0:
                    if not data or self.offset + len(data) >= self.size:
                        self.size = self.offset  # an incomplete last line: wait for its end
                        break
                    if len(data) < READ_SIZE:  # the budget ran out inside a line
                        break
                    end = len(data)  # one overlong line: no event line is that long
                self._count(data, end)
                self.offset += end
                consumed += end
                if end < len(data):
                    fh.seek(self.offset)
        return consumed

    def _count(self, data: bytes, end: int) -> None:
        """Count the events among ``data[:end]``."""
        spelled = _spellings(data, end)
        self.growth += _lines_of(data, end, "growth", spelled)
        self.consolidation += _lines_of(data, end, "consolidation", spelled)


def _lines_of(data: bytes, end: int, kind: str, spelled: list[int]) -> int:
    """How many lines of ``data[:end]`` are ``kind`` events: the lines holding one of the key's
    spellings, each parsed once to check its top-level ``event_type`` (a bad line is no event)."""
    starts: set[int] = set()
    for i in spelled:
        pattern = PATTERNS[kind][i]
        pos = data.find(pattern, 0, end)
        while pos >= 0:
            start = data.rfind(b"\n", 0, pos) + 1
            stop = data.find(b"\n", pos, end)
            stop = end if stop < 0 else stop
            if start not in starts and _event_type(data[start:stop]) == kind:
                starts.add(start)
            pos = data.find(pattern, stop, end)
    return len(starts)


def _event_type(line: bytes) -> object:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record.get("event_type") if isinstance(record, dict) else None
