"""A pure line buffer: bytes in, complete lines out (like httpx's ``LineDecoder``).

Lines end with ``b"\\n"`` and are split in bytes, never with ``str.splitlines`` (which also splits
on U+2028 and friends inside JSON strings). The incomplete tail is held until its newline
arrives. A line longer than ``max_line_bytes`` is not kept growing in memory: it is reported once
as :class:`Overlong` (offset and first bytes) and skipped up to its newline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_LINE_BYTES", "Block", "LineBuffer", "Overlong", "split_lines"]

DEFAULT_MAX_LINE_BYTES = 1 << 20
_HEAD = 400


@dataclass(frozen=True)
class Block:
    """Complete lines, contiguous in the file: ``data`` ends with ``b"\\n"``, starts at ``offset``."""

    offset: int
    data: bytes


@dataclass(frozen=True)
class Overlong:
    """A line longer than the buffer's limit, skipped; ``head`` is its first bytes."""

    offset: int
    head: bytes
    limit: int

    @property
    def reason(self) -> str:
        return (
            f"line longer than {self.limit} bytes (skipped; raise max_line_bytes if such lines "
            "are expected)"
        )


def split_lines(block: Block) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, line)`` for each line of ``block`` (the newline not included)."""
    data = block.data
    pos = 0
    base = block.offset
    find = data.find
    end = len(data)
    while pos < end:
        nl = find(b"\n", pos)
        if nl < 0:  # not reachable for a Block, kept for safety
            nl = end
        yield base + pos, data[pos:nl]
        pos = nl + 1


class LineBuffer:
    """Turns appended byte chunks into :class:`Block` s of complete lines.

    Assumes the chunks are consecutive bytes of one stream starting at ``start_offset``.
    Guarantees: every byte of a complete line is returned exactly once, in order, inside a Block
    whose ``offset`` is the stream offset of its first byte; no Block holds an incomplete line; a
    line longer than ``max_line_bytes`` (newline excluded) is returned as one Overlong instead and
    never buffered beyond the limit. ``offset`` is the stream offset of the first byte not yet
    returned (the start of the held tail, or of the overlong line being skipped).
    """

    def __init__(
        self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, start_offset: int = 0
    ) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self.max_line_bytes = max_line_bytes
        self._tail = b""
        self._tail_offset = start_offset
        self._skipping = False  # inside an overlong line that was already reported

    @property
    def offset(self) -> int:
        return self._tail_offset

    @property
    def pending(self) -> int:
        """How many bytes of an incomplete line are held."""
        return len(self._tail)

    def feed(self, chunk: bytes) -> list[Block | Overlong]:
        """Add ``chunk``; return the complete lines (and overlong reports) it finished, in order."""
        out: list[Block | Overlong] = []
        if not chunk:
            return out
        start = self._tail_offset
        if self._skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                self._tail_offset += len(chunk)
                return out
            self._skipping = False
            self._tail_offset += nl + 1
            chunk = chunk[nl + 1 :]
            start = self._tail_offset
            data = chunk
        else:
            data = self._tail + chunk if self._tail else chunk
        last_nl = data.rfind(b"\n")
        if last_nl < 0:
            self._hold(data, start, out)
            return out
        complete, rest = data[: last_nl + 1], data[last_nl + 1 :]
        self._emit(complete, start, out)
        self._tail = b""
        self._tail_offset = start + len(complete)
        self._hold(rest, self._tail_offset, out)
        return out

    def _hold(self, rest: bytes, offset: int, out: list[Block | Overlong]) -> None:
        self._tail_offset = offset
        if len(rest) > self.max_line_bytes:
            out.append(Overlong(offset, rest[:_HEAD], self.max_line_bytes))
            self._skipping = True
            self._tail = b""
            self._tail_offset = offset + len(rest)
        else:
            self._tail = rest

    def _emit(self, data: bytes, offset: int, out: list[Block | Overlong]) -> None:
        limit = self.max_line_bytes
        if len(data) <= limit + 1:
            out.append(Block(offset, data))
            return
        # Look for overlong lines only where one could be: jump a limit ahead and search back.
        find, rfind = data.find, data.rfind
        seg_start = 0
        pos = 0
        end = len(data)
        while pos < end:
            probe = pos + limit
            if probe >= end:
                break
            back = rfind(b"\n", pos, probe + 1)
            if back >= 0:
                pos = back + 1
                continue
            nl = find(b"\n", probe)  # the line at pos is longer than the limit
            if pos > seg_start:
                out.append(Block(offset + seg_start, data[seg_start:pos]))
            out.append(Overlong(offset + pos, data[pos : min(nl, pos + _HEAD)], limit))
            pos = seg_start = nl + 1
        if seg_start < end:
            out.append(Block(offset + seg_start, data[seg_start:]))
