"""Tail one append-only log file: remember where we were, read only the new bytes.

The tailer knows offsets and bytes, nothing about JSON. It opens the file read-only (``"rb"``) for
each read and closes it again, so a replaced file is never held open. It reads through a
:class:`~dashboard.reading.fs.FileSystem` (``fs``), which opens only regular files and never
blocks: a FIFO never hangs the reader.

A file that changes under the reader is told apart from one that grew by fingerprints: the first
``FINGERPRINT_BYTES`` of the file and the ``FINGERPRINT_BYTES`` just before the read position are
kept and compared whenever the size or mtime changed. A file truncated and regrown past its old
size between two reads, or rewritten in place at the same size, no longer matches: a
:class:`Reset` and a read from the start, as for a file that shrank or has a new inode. (A rewrite
that keeps both fingerprinted regions byte for byte is not seen.)

:class:`RotatingTailer` follows a log and its rotated segments (``training_log.jsonl.1``, ``.2``,
...) as one stream: segments are read oldest first (highest number first), each file followed by
its inode, so renaming the live file to ``.1`` and starting a new one keeps the history (the
renamed file's last lines are read, then the new file from its start, with no Reset).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from dashboard.reading.fs import LOCAL_FS, FileSystem
from dashboard.reading.linebuffer import (
    DEFAULT_MAX_LINE_BYTES,
    Block,
    LineBuffer,
    Overlong,
)

__all__ = ["DEFAULT_READ_SIZE", "FINGERPRINT_BYTES", "Refused", "Reset", "RotatingTailer", "Tailer"]

DEFAULT_READ_SIZE = 8 << 20
#: bytes compared at the start of the file and just before the read position
FINGERPRINT_BYTES = 64


@dataclass(frozen=True)
class Reset:
    """The file started over: it shrank (``"truncated"``) or is a new file (``"replaced"``)."""

    kind: Literal["truncated", "replaced"]


@dataclass(frozen=True)
class Refused:
    """The file is not read (not a regular file inside the directory, ...): ``reason`` says why."""

    reason: str


class Tailer:
    """Reads the complete lines appended to ``path`` since the last call.

    State: the position read so far, the file's ``(st_dev, st_ino)`` and size at the last read,
    and a :class:`LineBuffer` holding an incomplete last line. Guarantees: each complete line is
    returned once with its byte offset; an incomplete line is held until its ``\\n`` arrives;
    when the file shrinks below what was read, or the path now names another file (new inode),
    :meth:`read_blocks` yields a :class:`Reset` first and reads again from offset 0. A missing
    file yields nothing (and is read from the start once it exists). I/O goes through the
    keyword-only ``fs`` (:mod:`dashboard.reading.fs`); ``OSError`` from it propagates to the caller,
    with the tailer's state unchanged up to the last complete read.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fs: FileSystem = LOCAL_FS,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        read_size: int = DEFAULT_READ_SIZE,
    ) -> None:
        self.path = os.fspath(path)
        self._fs = fs
        self._max_line_bytes = max_line_bytes
        self._read_size = read_size
        self._identity: tuple[int, int] | None = None
        self._position = 0  # bytes consumed from the file (complete lines + held tail)
        self._mtime_ns = -1
        self._head = b""  # the file's first bytes as read (up to FINGERPRINT_BYTES)
        self._last = b""  # the bytes just before the read position (up to FINGERPRINT_BYTES)
        self._buffer = LineBuffer(max_line_bytes=max_line_bytes)

    @property
    def offset(self) -> int:
        """Offset of the first byte not yet returned as part of a complete line."""
        return self._buffer.offset

    @property
    def identity(self) -> tuple[int, int] | None:
        """``(st_dev, st_ino)`` of the file as last read (None before the first read)."""
        return self._identity

    @property
    def position(self) -> int:
        """How many bytes of the file have been read (including a held incomplete line)."""
        return self._position

    def _reset(self) -> None:
        self._position = 0
        self._mtime_ns = -1
        self._head = self._last = b""
        self._buffer = LineBuffer(max_line_bytes=self._max_line_bytes)

    def _same_bytes(self, fh: Any) -> bool:
        """Whether the fingerprinted regions still hold what was read there."""
        if self._head:
            fh.seek(0)
            if fh.read(len(self._head)) != self._head:
                return False
        if self._last:
            fh.seek(self._position - len(self._last))
            if fh.read(len(self._last)) != self._last:
                return False
        return True

    def _note(self, chunk: bytes) -> None:
        if len(self._head) < FINGERPRINT_BYTES:
            self._head += chunk[: FINGERPRINT_BYTES - len(self._head)]
        if len(chunk) >= FINGERPRINT_BYTES:
            self._last = chunk[-FINGERPRINT_BYTES:]
        else:
            self._last = (self._last + chunk)[-FINGERPRINT_BYTES:]

    def read_blocks(self) -> Iterator[Block | Overlong | Reset]:
        """Yield what was appended since the last call: Reset first if the file started over,
        then Blocks of complete lines and Overlong reports, in file order."""
        try:
            st = self._fs.stat(self.path)
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
        if st.st_size == self._position and st.st_mtime_ns == self._mtime_ns:
            return
        with self._fs.open(self.path) as fh:
            if self._position and not self._same_bytes(fh):
                grew = st.st_size != self._position
                self._reset()
                yield Reset("truncated" if grew else "replaced")
            self._mtime_ns = st.st_mtime_ns
            fh.seek(self._position)
            while True:
                chunk = fh.read(self._read_size)
                if not chunk:
                    break
                self._position += len(chunk)
                self._note(chunk)
                yield from self._buffer.feed(chunk)
                if len(chunk) < self._read_size:
                    break


class RotatingTailer:
    """Tails ``directory/name`` and its rotated segments ``name.1``, ``name.2``, ... as one stream.

    :meth:`read_segments` takes the directory's current names and yields ``(file name, item)``
    in stream order: first the rotated segments, oldest (highest number) first, then the live
    file. Each file is followed by its inode: a segment already read is not read again after it
    is renamed (``.1`` -> ``.2``), only its new bytes; when the live file was renamed to a rotated
    name and a new live file appeared, the renamed file is finished and the new one read from its
    start, without a :class:`Reset`. A live file that shrank, or was replaced by a file that is
    not one of its rotated names, yields a Reset as :class:`Tailer` does. Rotated segments found
    at the first read are read whole; a segment that appears later under an inode never seen
    (a copy, as copy-and-truncate rotation makes) is not read, so no line is read twice.
    ``check(directory, name)`` (may raise OSError) vets each file before it is read.
    """

    def __init__(
        self,
        directory: str,
        name: str,
        *,
        fs: FileSystem = LOCAL_FS,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        check: Callable[[str, str], object] | None = None,
    ) -> None:
        self.directory, self.name = directory, name
        self._fs, self._max_line_bytes = fs, max_line_bytes
        self._check = check
        self._segment = re.compile(re.escape(name) + r"\.(\d+)\Z")
        self._live: Tailer | None = None
        self._segments: dict[tuple[int, int], Tailer] = {}
        self._started = False

    def _tailer(self, path: str) -> Tailer:
        return Tailer(path, fs=self._fs, max_line_bytes=self._max_line_bytes)

    def _rotated_live(self, identity: tuple[int, int], path: str) -> Tailer | None:
        """The live tailer when the live file now has ``identity`` at ``path`` (it was rotated
        away): it becomes a segment and the next live file starts fresh."""
        live = self._live
        if live is None or live.identity != identity:
            return None
        self._live = None
        self._segments[identity] = live
        live.path = path
        return live

    def _read(
        self, name: str, tailer: Tailer
    ) -> Iterator[tuple[str, Block | Overlong | Reset | Refused]]:
        if self._check is not None:
            try:
                self._check(self.directory, name)
            except FileNotFoundError:
                return
            except OSError as exc:
                yield name, Refused(exc.strerror or str(exc))
                return
        for item in tailer.read_blocks():
            yield name, item

    def _lexists(self, path: str) -> bool:
        try:
            self._fs.lstat(path)
        except OSError:
            return False
        return True

    def read_segments(
        self, names: Collection[str]
    ) -> Iterator[tuple[str, Block | Overlong | Reset | Refused]]:
        """``(file name, item)`` for what was appended to the segments and the live file, in
        stream order; ``names``: the directory's entries."""
        rotated = sorted(
            ((int(m.group(1)), n) for n in names if (m := self._segment.match(n))), reverse=True
        )
        for _, seg in rotated:
            path = os.path.join(self.directory, seg)
            try:
                st = self._fs.stat(path)
            except OSError:
                continue
            identity = (st.st_dev, st.st_ino)
            tailer = self._segments.get(identity) or self._rotated_live(identity, path)
            if tailer is None:
                if self._started:
                    continue
                tailer = self._segments[identity] = self._tailer(path)
            tailer.path = path
            yield from self._read(seg, tailer)
        self._started = True
        path = os.path.join(self.directory, self.name)
        if self._live is not None and self._live.identity is not None:
            # Rotated after the listing: the old live file now sits at name.1.
            try:
                st, first = self._fs.stat(path), self._fs.stat(path + ".1")
            except OSError:
                pass
            else:
                moved = (first.st_dev, first.st_ino)
                if (st.st_dev, st.st_ino) != moved:
                    old = self._rotated_live(moved, path + ".1")
                    if old is not None:
                        yield from self._read(self.name + ".1", old)
        if self.name not in names and not self._lexists(path):
            return
        if self._live is None:
            self._live = self._tailer(path)
        yield from self._read(self.name, self._live)
