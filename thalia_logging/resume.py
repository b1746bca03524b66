"""Find where an existing log left off, reading only its tail.

A training log can be many GB; a logger opening the directory again only needs the highest
``step`` near the end. :func:`last_logged_step` reads the last ``window`` bytes, skips the first
(possibly cut) line of that window and any torn or corrupt line, and returns the highest
integer ``step`` among the complete lines it finds. If the window holds no parseable line
(e.g. lines longer than the window) it doubles the window, up to ``max_window`` bytes, so the
cost stays bounded. A missing or empty file gives ``None``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import orjson

__all__ = ["last_logged_step", "resumed_from"]


def _steps_in(chunk: bytes, cut_first: bool) -> list[int]:
    lines = chunk.split(b"\n")
    if cut_first:
        lines = lines[1:]
    steps: list[int] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict):
            step = record.get("step")
            if type(step) is int and step >= 0:
                steps.append(step)
    return steps


def last_logged_step(
    path: str | os.PathLike[str], *, window: int = 8192, max_window: int = 4 << 20
) -> int | None:
    """The highest ``step`` among the complete lines at the end of ``path``, or ``None``."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the ``with`` just below
    except FileNotFoundError:
        return None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return None
        while True:
            start = max(0, size - window)
            f.seek(start)
            chunk = f.read(size - start)
            steps = _steps_in(chunk, cut_first=start > 0)
            if steps:
                return max(steps)
            if start == 0 or window >= max_window:
                return None
            window *= 2


def resumed_from(paths: Iterable[str | os.PathLike[str]]) -> int | None:
    """The highest :func:`last_logged_step` over ``paths`` (the log and its legacy name)."""
    found = [s for s in (last_logged_step(Path(p)) for p in paths) if s is not None]
    return max(found) if found else None
