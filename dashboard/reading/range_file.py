"""A read-only file over one remote object whose every read is one range read.

:class:`RangeFile` is what :meth:`FsspecFileSystem.open
<dashboard.reading.remote_fs.FsspecFileSystem.open>` returns: ``seek``/``tell``/``read`` over a
``fetch(path, start, end)`` function, so a tailer that seeks to its offset fetches only the
bytes after it. :func:`read_at` is that range read for backends whose ``cat_file`` ignores the
range (sshfs): a seek and a read on the backend's own file.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

__all__ = ["FETCH_MIN", "TAIL_READAHEAD", "RangeFile", "read_at"]

#: a read smaller than this near the end of an object fetches through to the end at once
FETCH_MIN = 4096
#: how near the end ("near": the remaining bytes fit in this many)
TAIL_READAHEAD = 8 << 20


def read_at(fs: Any, path: str, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of ``path`` through ``fs.open``, a seek and one read."""
    with fs.open(path, "rb") as f:
        f.seek(start)
        return bytes(f.read(end - start))


class RangeFile(io.RawIOBase):
    """A read-only file over one object: each ``read`` is one range read, up to the size the
    object had when opened (bytes added later are read at the next poll). A small read past the
    first byte and within ``TAIL_READAHEAD`` bytes of the end fetches through to the end in the
    same request: the tailer's fingerprint check just before its offset, then the new bytes, in
    one request, and no byte fetched that the tailer does not read next (its head fingerprint,
    at 0, stays a read of its own)."""

    def __init__(self, fetch: Callable[[str, int, int], bytes], path: str, size: int) -> None:
        super().__init__()
        self._fetch, self._path, self._size, self._pos = fetch, path, size, 0
        self._ahead, self._ahead_at = b"", -1  # bytes fetched past the last read, and where

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        if self._pos >= end:
            return b""
        if self._ahead_at == self._pos and self._ahead:
            data, self._ahead = self._ahead[: end - self._pos], self._ahead[end - self._pos :]
        elif (
            self._pos > 0
            and end - self._pos < FETCH_MIN
            and self._size - self._pos <= TAIL_READAHEAD
        ):
            whole = self._fetch(self._path, self._pos, self._size)
            data, self._ahead = whole[: end - self._pos], whole[end - self._pos :]
        else:
            data, self._ahead = self._fetch(self._path, self._pos, end), b""
        self._pos += len(data)
        self._ahead_at = self._pos
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
