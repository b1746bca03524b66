"""Read a log written in segment mode: one rank's numbered segments as one stream.

A logger in segment mode (``thalia_logging.segments``) writes ``training_log.000000.jsonl``,
``training_log.000001.jsonl``, ... (rank N > 0: ``training_log.rank{N}.000000.jsonl``), each
written once, whole. :class:`SegmentStream` reads them in number order: a segment with a newer
one beside it is closed, read to its end once and never looked at again (no stat, no request
at later polls); only the newest is followed by a :class:`~dashboard.reading.tailer.Tailer`, so
if a sync job uploads it in growing parts, only its new bytes are fetched (a range read on a
remote store). A segment that appears late with a lower number than one already read is read
too (its lines land in step order like any late line). A segment that changes after it was read
(segments are never rewritten by the logger) is reported and not read again, so no line is
counted twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Generator, Iterator

from dashboard.reading.fs import LOCAL_FS, FileSystem
from dashboard.reading.linebuffer import DEFAULT_MAX_LINE_BYTES, Block, Overlong
from dashboard.reading.tailer import Refused, Reset, Tailer
from thalia_logging.contract import log_file_rank, segment_info, segment_name

__all__ = ["SegmentStream", "segment_info", "stream_key", "stream_name"]


def stream_name(rank: int) -> str:
    """The name a rank's segment stream goes by in ``RunState.log_files``."""
    return "training_log.*.jsonl" if rank == 0 else f"training_log.rank{rank}.*.jsonl"


def stream_key(name: str) -> tuple[str, int, bool] | None:
    """``(stream name, rank, is a segment)`` for a log file name, None for any other file: a
    log file is its own stream, a segment belongs to its rank's :func:`stream_name`."""
    rank = log_file_rank(name)
    if rank is not None:
        return name, rank, False
    segment = segment_info(name)
    if segment is None:
        return None
    return stream_name(segment[0]), segment[0], True


class SegmentStream:
    """Rank ``rank``'s segments in ``directory`` as one stream (see the module docstring).

    :meth:`read_segments` takes the directory's current names and yields ``(file name, item)``
    like :class:`~dashboard.reading.tailer.RotatingTailer` does. ``check(directory, name)``
    (may raise OSError) vets each file before it is read. Not thread-safe.
    """

    def __init__(
        self,
        directory: str,
        rank: int,
        *,
        fs: FileSystem = LOCAL_FS,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        check: Callable[[str, str], object] | None = None,
    ) -> None:
        self.directory, self.rank = directory, rank
        self._fs, self._max_line_bytes, self._check = fs, max_line_bytes, check
        self._open: dict[int, Tailer] = {}  # segments not known to be complete
        self._done: set[int] = set()  # closed segments read to their end

    def _numbers(self, names: Collection[str]) -> list[int]:
        found = (segment_info(n) for n in names)
        return sorted(info[1] for info in found if info is not None and info[0] == self.rank)

    def read_segments(
        self, names: Collection[str]
    ) -> Iterator[tuple[str, Block | Overlong | Reset | Refused]]:
        """``(file name, item)`` for the segments not read yet and the newest one's new bytes."""
        numbers = [n for n in self._numbers(names) if n not in self._done]
        newest = max(self._numbers(names), default=-1)
        for number in numbers:
            name = segment_name(self.rank, number)
            tailer = self._open.get(number)
            if tailer is None:
                path = os.path.join(self.directory, name)
                tailer = self._open[number] = Tailer(
                    path, fs=self._fs, max_line_bytes=self._max_line_bytes
                )
            outcome = yield from self._read(name, tailer)
            # Closed once a newer segment exists; a changed one is dropped (never read twice).
            if outcome == "changed" or (outcome == "read" and number != newest):
                self._done.add(number)
                del self._open[number]

    def _read(
        self, name: str, tailer: Tailer
    ) -> Generator[tuple[str, Block | Overlong | Reset | Refused], None, str]:
        """Yield what ``tailer`` reads; returns ``"read"``, ``"changed"`` or ``"skipped"``."""
        if self._check is not None:
            try:
                self._check(self.directory, name)
            except FileNotFoundError:
                return "skipped"
            except OSError as exc:
                yield name, Refused(exc.strerror or str(exc))
                return "skipped"
        for item in tailer.read_blocks():
            if isinstance(item, Reset):
                yield (
                    name,
                    Refused(
                        f"{name} changed after it was read (segments are written once): "
                        "its new content is not read"
                    ),
                )
                return "changed"
            yield name, item
        return "read"
