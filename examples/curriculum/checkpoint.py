"""Checkpoints: ``checkpoint_{step}.pt`` written atomically, and the latest one found again.

A checkpoint is one dict (model and optimizer state, trainer state, RNG states) saved with
``torch.save`` to a hidden temporary file in the same directory, fsynced, then moved into place
with ``os.replace``: a trainer killed mid-save leaves either the old set of checkpoints or the
new one, never a truncated ``checkpoint_*.pt``. Loading uses ``weights_only=True`` (tensors,
numbers, strings, lists and dicts only), so a checkpoint cannot run code.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "checkpoint_path", "list_checkpoints", "load_latest", "save"]

log = logging.getLogger(__name__)
_NAME = re.compile(r"^checkpoint_(\d+)\.pt$")


class CheckpointError(RuntimeError):
    """No checkpoint in the directory could be loaded although some exist."""


def checkpoint_path(directory: Path, step: int) -> Path:
    return directory / f"checkpoint_{step}.pt"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every ``checkpoint_{step}.pt``, highest step first."""
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found, reverse=True)


def save(directory: Path, step: int, payload: dict[str, Any], *, keep_last: int = 3) -> Path:
    """Write ``checkpoint_{step}.pt`` atomically; keep the ``keep_last`` newest checkpoints."""
    directory.mkdir(parents=True, exist_ok=True)
    final = checkpoint_path(directory, step)
    tmp = directory / f".{final.name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        torch.save(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    for _step, old in list_checkpoints(directory)[max(keep_last, 1) :]:
        old.unlink(missing_ok=True)
    return final


def load_latest(directory: Path) -> tuple[int, dict[str, Any]] | None:
    """The newest checkpoint that loads, as ``(step, payload)``; None when there is none.

    A checkpoint that fails to load (e.g. copied in half) is skipped with a warning and the
    next older one is tried. Raises CheckpointError when checkpoints exist but none loads.
    """
    found = list_checkpoints(directory)
    for step, path in found:
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            log.warning("skipping unreadable checkpoint %s: %s", path, exc)
            continue
        return step, payload
    if found:
        raise CheckpointError(
            f"none of the {len(found)} checkpoints in {directory} could be loaded; move them "
            "away to start the run afresh, or point --log-dir at a new directory"
        )
    return None
