"""Which distributed rank this process is, and what that rank writes.

:func:`detect_rank` asks ``torch.distributed`` when it is already imported and initialised
(this module never imports torch: a process group cannot exist unless the trainer imported
it), and otherwise reads the ``RANK`` / ``LOCAL_RANK`` environment variables that ``torchrun``,
SLURM wrappers and friends set. A missing or unreadable value means rank 0 (a single-process
run), with a debug log for the unreadable case.

:func:`plan_for_rank` turns a rank into a :class:`RankPlan`. By default only rank 0 writes the
shared ``training_log.jsonl``, the metadata files and ``console.log``; other ranks write
nothing (they still validate their arguments, so a bug shows on every rank). With
``per_rank=True`` rank N > 0 writes its own ``training_log.rank{N}.jsonl`` whose lines carry a
``rank`` field; metadata and ``console.log`` stay rank 0's.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .contract import LOG_NAME, rank_log_name

__all__ = ["LOG_NAME", "RankPlan", "detect_rank", "plan_for_rank", "rank_log_name"]


_log = logging.getLogger("thalia.curriculum.ranks")
_LOADED: Any = object()  # sentinel: look torch.distributed up in sys.modules


def _torch_rank(dist: Any) -> int | None:
    if dist is None:
        return None
    try:
        if dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    except Exception as exc:  # a half-torn-down process group must not stop the trainer
        _log.debug("torch.distributed rank unavailable (%s); falling back to env", exc)
    return None


def detect_rank(*, env: Mapping[str, str] | None = None, distributed: Any = _LOADED) -> int:
    """This process's global rank (0 when not distributed).

    ``distributed`` is a seam for tests: a ``torch.distributed``-like module, or ``None`` to
    ignore torch (default: whatever ``sys.modules`` holds, never imported here).
    """
    dist = sys.modules.get("torch.distributed") if distributed is _LOADED else distributed
    if dist is not None:
        rank = _torch_rank(dist)
        if rank is not None:
            return rank
    env = os.environ if env is None else env
    for name in ("RANK", "LOCAL_RANK"):
        raw = env.get(name)
        if raw is None or raw.strip() == "":
            continue
        try:
            value = int(raw)
        except ValueError:
            _log.debug("ignoring %s=%r: not an integer", name, raw)
            continue
        if value >= 0:
            return value
        _log.debug("ignoring %s=%r: negative", name, raw)
    return 0


@dataclass(frozen=True)
class RankPlan:
    """What one rank writes.

    ``log_name`` is the JSON-lines file name (``None``: write no JSON lines); ``rank_field`` is
    the value of the ``rank`` field added to every line (``None``: no field); the two booleans
    say whether this rank writes metadata files and ``console.log``, and ``console`` whether
    it emits console lines at all.
    """

    rank: int
    log_name: str | None
    rank_field: int | None
    writes_metadata: bool
    writes_console_file: bool
    console: bool


def plan_for_rank(rank: int, *, per_rank: bool = False) -> RankPlan:
    """The :class:`RankPlan` for ``rank`` under the default or the per-rank policy."""
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < 2**63:
        raise ValueError(f"rank must be an int >= 0 that fits in int64, got {rank!r}")
    if rank == 0:
        return RankPlan(0, LOG_NAME, None, True, True, True)
    if per_rank:
        return RankPlan(rank, rank_log_name(rank), rank, False, False, True)
    return RankPlan(rank, None, None, False, False, False)
