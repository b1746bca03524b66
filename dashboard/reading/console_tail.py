"""The tail of ``console.log``: read-only, capped, never blocking, only a regular file inside the run directory."""

from __future__ import annotations

import os
from pathlib import Path

from dashboard.reading.fs import LOCAL_FS, FileSystem
from dashboard.reading.safefile import check_file

__all__ = ["LOG_TAIL_BYTES", "read_log_tail"]


LOG_TAIL_BYTES = 64 * 1024


def read_log_tail(
    path: Path | str,
    *,
    max_bytes: int = LOG_TAIL_BYTES,
    max_lines: int = 200,
    fs: FileSystem = LOCAL_FS,
) -> str | None:
    """The last lines of a text file (at most ``max_bytes`` read, read-only), or None if absent.

    Read only when it is a regular file inside its directory (a symlink only to one inside it),
    opened without blocking (a FIFO named ``console.log`` never hangs the page); otherwise a
    one-line note saying why it is not shown. Disk access goes through ``fs`` (``path`` may be
    a URL joined with ``/`` for a remote ``fs``)."""
    directory, name = os.path.split(os.fspath(path))
    try:
        real = check_file(directory, name, fs)
        with fs.open(real) as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read(max_bytes)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # a FIFO, a directory, a symlink out of the directory, no access
        return f"(log not shown: {exc.strerror or exc})"
    if size > max_bytes:
        data = data.split(b"\n", 1)[-1]  # drop the partial first line
    lines = data.decode("utf-8", errors="replace").rstrip("\n").split("\n")
    return "\n".join(lines[-max_lines:])
