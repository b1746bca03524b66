"""The one file-system seam of the reading layer: every disk access of ``dashboard.reading`` goes
through a :class:`FileSystem`.

A :class:`~dashboard.reading.directory.DirectoryReader` (and so a
:class:`~dashboard.reading.watcher.RunWatcher` or :func:`load_training_state`) takes one ``fs``
and hands it to its tailers, its metadata scanner and the safe-file checks; the console-log tail
takes it too. :class:`LocalFileSystem` (the default, :data:`LOCAL_FS`) is the real disk. Tests
pass a subclass that overrides one method (count stats, fail a listing); remote storage
implements the same methods over fsspec (:mod:`dashboard.reading.remote_fs`). Paths are plain strings joined with
``os.path.join``; nothing here caches.

Contract of each method (errors are ``OSError`` subclasses; ``FileNotFoundError`` for a missing
path): :meth:`~FileSystem.open` opens for reading bytes only, never blocks (``O_NONBLOCK``: a FIFO
swapped in cannot hang the page) and refuses anything but a regular file with
:class:`~dashboard.errors.UnsafeFile`; :meth:`~FileSystem.stat` follows symlinks,
:meth:`~FileSystem.lstat` does not; :meth:`~FileSystem.realpath` with ``strict=True`` raises for
a dangling symlink or a loop.
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod
from typing import IO, Protocol

from dashboard.errors import UnsafeFile

__all__ = [
    "LOCAL_FS",
    "FileStat",
    "FileSystem",
    "LocalFileSystem",
    "describe_mode",
    "open_regular",
]


class FileStat(Protocol):
    """The fields of a stat result the reader uses (``os.stat_result`` has them all)."""

    @property
    def st_mode(self) -> int: ...
    @property
    def st_dev(self) -> int: ...
    @property
    def st_ino(self) -> int: ...
    @property
    def st_size(self) -> int: ...
    @property
    def st_mtime(self) -> float: ...
    @property
    def st_mtime_ns(self) -> int: ...


class FileSystem(Protocol):
    """Read-only access to a checkpoint directory (see the module docstring for the contract)."""

    def open(self, path: str) -> IO[bytes]:
        """A regular file opened for reading bytes, without blocking."""
        ...

    def stat(self, path: str) -> FileStat:
        """The file's stat, following symlinks."""
        ...

    def lstat(self, path: str) -> FileStat:
        """The entry's own stat (a symlink is a symlink)."""
        ...

    def listdir(self, path: str) -> list[str]:
        """The names in a directory."""
        ...

    def realpath(self, path: str, *, strict: bool = False) -> str:
        """The path with symlinks resolved (``strict``: raise when that is impossible)."""
        ...


def describe_mode(mode: int) -> str:
    """What a non-regular file is, in words (``"a FIFO (named pipe)"``)."""
    if stat_mod.S_ISDIR(mode):
        return "a directory"
    if stat_mod.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode):
        return "a device"
    if stat_mod.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NONBLOCK)


def open_regular(path: str, mode: str = "rb") -> IO[bytes]:
    """``open(path, "rb")`` that never blocks (``O_NONBLOCK``) and refuses anything but a
    regular file (checked on the opened descriptor)."""
    if mode != "rb":
        raise ValueError("checkpoint files are opened read-only ('rb')")
    fh = open(path, "rb", opener=_nonblocking)  # noqa: SIM115 (returned to the caller)
    st = os.fstat(fh.fileno())
    if not stat_mod.S_ISREG(st.st_mode):
        fh.close()
        raise UnsafeFile(
            errno.EINVAL, f"{os.path.basename(path)} is {describe_mode(st.st_mode)}: not read"
        )
    return fh


class LocalFileSystem:
    """The local disk, through ``os``; subclass and override a method to fake one call."""

    def open(self, path: str) -> IO[bytes]:
        return open_regular(path)

    def stat(self, path: str) -> FileStat:
        return os.stat(path)

    def lstat(self, path: str) -> FileStat:
        return os.lstat(path)

    def listdir(self, path: str) -> list[str]:
        return os.listdir(path)

    def realpath(self, path: str, *, strict: bool = False) -> str:
        return os.path.realpath(path, strict=strict)


LOCAL_FS: FileSystem = LocalFileSystem()
"""The default file system of every reader."""
