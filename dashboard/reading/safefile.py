"""Open a file of a checkpoint directory only when it is safe to read: a regular file inside it.

The dashboard reads files whose names a trainer (or anyone who can write the directory) chose.
A name may be a directory, a FIFO (``open`` blocks until a writer comes), a device (``/dev/zero``
never ends), a symlink loop, or a symlink out of the directory (``training_log.jsonl ->
/etc/passwd`` would put that file's lines on the page). :func:`check_file` says which, from
``lstat`` (and, for a symlink, the resolved target and whether it stays inside the directory);
:meth:`FileSystem.open <dashboard.reading.fs.FileSystem.open>` opens without blocking (a FIFO
swapped in after the check cannot block) and checks the opened file again; :func:`read_capped`
reads at most a given number of bytes. All disk access goes through the
:class:`~dashboard.reading.fs.FileSystem` passed in (the local disk by default). Every refusal is an :class:`UnsafeFile` (an ``OSError``) whose message
says what the file is and what to do.
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod

from dashboard.errors import UnsafeFile
from dashboard.reading.fs import LOCAL_FS, FileSystem, describe_mode, open_regular

__all__ = ["UnsafeFile", "check_file", "describe_mode", "open_regular", "read_capped"]


def _inside(path: str, directory: str, fs: FileSystem) -> bool:
    root = fs.realpath(directory)
    return os.path.commonpath([root, path]) == root


def check_file(directory: str, name: str, fs: FileSystem = LOCAL_FS) -> str:
    """The path to open for ``name`` in ``directory``: the file itself, or a symlink's target
    when that is a regular file inside the directory. Raises FileNotFoundError when absent,
    UnsafeFile otherwise."""
    path = os.path.join(directory, name)
    st = fs.lstat(path)
    if stat_mod.S_ISREG(st.st_mode):
        return path
    if not stat_mod.S_ISLNK(st.st_mode):
        raise UnsafeFile(
            errno.EINVAL, f"{name} is {describe_mode(st.st_mode)}, not a regular file: not read"
        )
    try:
        target = fs.realpath(path, strict=True)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"{name} is a dangling symlink", path) from None
    except OSError as exc:  # ELOOP: a symlink loop
        raise UnsafeFile(
            errno.ELOOP, f"{name} is a symlink that cannot be resolved ({exc.strerror}): not read"
        ) from None
    if not _inside(target, directory, fs):
        raise UnsafeFile(
            errno.EACCES,
            f"{name} is a symlink to {target}, outside the checkpoint directory: not followed",
        )
    mode = fs.stat(target).st_mode
    if not stat_mod.S_ISREG(mode):
        raise UnsafeFile(errno.EINVAL, f"{name} is a symlink to {describe_mode(mode)}: not read")
    return target


def read_capped(path: str, max_bytes: int, fs: FileSystem = LOCAL_FS) -> bytes:
    """The whole regular file at ``path`` (opened with ``fs.open``); UnsafeFile when it is
    longer than ``max_bytes``."""
    with fs.open(path) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFile(
            errno.EFBIG,
            f"{os.path.basename(path)} is larger than {max_bytes} bytes: not read; "
            "keep metadata files small (no large arrays in write_metadata)",
        )
    return data
