"""Open a file of a checkpoint directory only when it is safe to read: a regular file inside it.

The dashboard reads files whose names a trainer (or anyone who can write the directory) chose.
A name may be a directory, a FIFO (``open`` blocks until a writer comes), a device (``/dev/zero``
never ends), a symlink loop, or a symlink out of the directory (``training_log.jsonl ->
/etc/passwd`` would put that file's lines on the page). :func:`check_file` says which, from
``lstat`` (and, for a symlink, the resolved target and whether it stays inside the directory);
:func:`open_regular` opens with ``O_NONBLOCK`` (a FIFO swapped in after the check cannot block)
and checks the opened descriptor again with ``fstat``; :func:`read_capped` reads at most a
given number of bytes. Every refusal is an :class:`UnsafeFile` (an ``OSError``) whose message
says what the file is and what to do.
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod
from typing import IO

from dashboard.errors import UnsafeFile

__all__ = ["UnsafeFile", "check_file", "describe_mode", "open_regular", "read_capped"]


def describe_mode(mode: int) -> str:
    if stat_mod.S_ISDIR(mode):
        return "a directory"
    if stat_mod.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode):
        return "a device"
    if stat_mod.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _inside(path: str, directory: str) -> bool:
    root = os.path.realpath(directory)
    return os.path.commonpath([root, path]) == root


def check_file(directory: str, name: str) -> str:
    """The path to open for ``name`` in ``directory``: the file itself, or a symlink's target
    when that is a regular file inside the directory. Raises FileNotFoundError when absent,
    UnsafeFile otherwise."""
    path = os.path.join(directory, name)
    st = os.lstat(path)
    if stat_mod.S_ISREG(st.st_mode):
        return path
    if not stat_mod.S_ISLNK(st.st_mode):
        raise UnsafeFile(
            errno.EINVAL, f"{name} is {describe_mode(st.st_mode)}, not a regular file: not read"
        )
    try:
        target = os.path.realpath(path, strict=True)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"{name} is a dangling symlink", path) from None
    except OSError as exc:  # ELOOP: a symlink loop
        raise UnsafeFile(
            errno.ELOOP, f"{name} is a symlink that cannot be resolved ({exc.strerror}): not read"
        ) from None
    if not _inside(target, directory):
        raise UnsafeFile(
            errno.EACCES,
            f"{name} is a symlink to {target}, outside the checkpoint directory: not followed",
        )
    mode = os.stat(target).st_mode
    if not stat_mod.S_ISREG(mode):
        raise UnsafeFile(errno.EINVAL, f"{name} is a symlink to {describe_mode(mode)}: not read")
    return target


def _nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NONBLOCK)


def open_regular(path: str, mode: str = "rb") -> IO[bytes]:
    """``open(path, "rb")`` that never blocks (``O_NONBLOCK``) and refuses anything but a
    regular file (checked on the opened descriptor). Same signature as the ``open_`` seams."""
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


def read_capped(path: str, max_bytes: int) -> bytes:
    """The whole regular file at ``path`` (opened with :func:`open_regular`); UnsafeFile when it
    is longer than ``max_bytes``."""
    with open_regular(path) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFile(
            errno.EFBIG, f"{os.path.basename(path)} is larger than {max_bytes} bytes: not read"
        )
    return data
