"""Tail one append-only log file: remember where we were, read only the new bytes.

The tailer knows offsets and bytes, nothing about JSON. It opens the file read-only (``"rb"``) for
each read and closes it again, so a replaced file is never held open.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

from dashboard.linebuffer import DEFAULT_MAX_LINE_BYTES, Block, LineBuffer, Overlong, split_lines

__all__ = ["DEFAULT_READ_SIZE", "Reset", "Tailer"]

DEFAULT_READ_SIZE = 8 << 20


@dataclass(frozen=True)
class Reset:
    """The file started over: it shrank (``"truncated"``) or is a new file (``"replaced"``)."""

    kind: Literal["truncated", "replaced"]


class Tailer:
    """Reads the complete lines appended to ``path`` since the last call.

    State: the position read so far, the file's ``(st_dev, st_ino)`` and size at the last read,
    and a :class:`LineBuffer` holding an incomplete last line. Guarantees: each complete line is
    returned once with its byte offset; an incomplete line is held until its ``\\n`` arrives;
    when the file shrinks below what was read, or the path now names another file (new inode),
    :meth:`read_blocks` yields a :class:`Reset` first and reads again from offset 0. A missing
    file yields nothing (and is read from the start once it exists). I/O goes through the
    keyword-only seams ``open_`` and ``stat``; ``OSError`` from them propagates to the caller,
    with the tailer's state unchanged up to the last complete read.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        open_: Callable[..., IO[bytes]] | Callable[..., Any] = open,
        stat: Callable[[Any], os.stat_result] = os.stat,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        read_size: int = DEFAULT_READ_SIZE,
    ) -> None:
        self.path = os.fspath(path)
        self._open = open_
        self._stat = stat
        self._max_line_bytes = max_line_bytes
        self._read_size = read_size
        self._identity: tuple[int, int] | None = None
        self._position = 0  # bytes consumed from the file (complete lines + held tail)
        self._size = -1
        self._buffer = LineBuffer(max_line_bytes=max_line_bytes)

    @property
    def offset(self) -> int:
        """Offset of the first byte not yet returned as part of a complete line."""
        return self._buffer.offset

    @property
    def position(self) -> int:
        """How many bytes of the file have been read (including a held incomplete line)."""
        return self._position

    def _reset(self) -> None:
        self._position = 0
        self._size = -1
        self._buffer = LineBuffer(max_line_bytes=self._max_line_bytes)

    def has_new_bytes(self) -> bool:
        """Stat only: would :meth:`read_blocks` have something to do (new bytes or a reset)?"""
        try:
            st = self._stat(self.path)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) != self._identity or st.st_size != self._position

    def read_blocks(self) -> Iterator[Block | Overlong | Reset]:
        """Yield what was appended since the last call: Reset first if the file started over,
        then Blocks of complete lines and Overlong reports, in file order."""
        try:
            st = self._stat(self.path)
        except FileNotFoundError:
            return
        identity = (st.st_dev, st.st_ino)
        if self._identity is not None and identity != self._identity:
            self._reset()
            self._identity = identity
            yield Reset("replaced")
        elif self._identity is not None and st.st_size < self._position:
            self._reset()
            yield Reset("truncated")
        self._identity = identity
        if st.st_size == self._position:
            return
        with self._open(self.path, "rb") as fh:
            if self._position:
                fh.seek(self._position)
            while True:
                chunk = fh.read(self._read_size)
                if not chunk:
                    break
                self._position += len(chunk)
                yield from self._buffer.feed(chunk)
                if len(chunk) < self._read_size:
                    break
        self._size = st.st_size

    def read_new(self) -> list[tuple[int, bytes]]:
        """Convenience: the new complete lines as ``(offset, line)`` (overlong lines and resets
        are dropped; use :meth:`read_blocks` to see them)."""
        lines: list[tuple[int, bytes]] = []
        for item in self.read_blocks():
            if isinstance(item, Block):
                lines.extend(split_lines(item))
        return lines
