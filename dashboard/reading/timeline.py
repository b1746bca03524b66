"""The timeline rules: which rows a resume, a restart or a replaced file abandons.

:class:`TimelineRules` is told, line by line (or block by block), what the reader read from each
(file, rank), and decides when a new timeline starts: it records a
:class:`~dashboard.run_state.Restart` and hands the reader a
:class:`~dashboard.reading.chunks.Cut` naming the rows to drop. It knows nothing about bytes,
JSON or frames.

The timeline follows how runs are written. Lines arrive out of step order all the time; they
land in step order (:mod:`dashboard.reading.frame_snapshot`), and metric lines sharing a (step, rank) merge field
by field (a later line's value of a field wins; a field it does not carry keeps the earlier
value). Only three things start a new timeline (a :class:`~dashboard.run_state.Restart`, and the
rows of the abandoned one are dropped):

================================  ===========================================================
Case                              What the reader does
================================  ===========================================================
late eval line (``val_loss`` at   merged into the row at 1000 (``loss`` kept, ``val_loss``
1000 after 1001..1010)            added); no restart
evaluator thread (two writers     every line kept, rows merged by step; no restart
interleaved, one behind)
shared step, several lines        one row, field by field, later value of a field wins (a
                                  logged NaN is a value; a field left out or ``null`` is not)
late growth / consolidation /     kept as a distinct event, in step order (stable); never a
stage event                       restart, in any log
``run_start`` with                restart at the logged step R: rows of that file and rank
``resumed_from_step`` R           written before it with step > R are dropped (the row at R is
                                  what the checkpoint holds, it stays and later lines merge)
file truncated or replaced        restart (``truncated``/``replaced``): what was read from the
                                  file is dropped and it is read again from offset 0
legacy log (no ``run_start`` in   restart at the first of ``RESUME_AFTER`` consecutive metric
the file), sustained regression   lines below the highest metric step, with ascending steps
                                  (the trainer went back and kept going): rows of that file
                                  and rank written before the first of them with step >= it
                                  are dropped
legacy log, single late line      merged like any late line (fewer than ``RESUME_AFTER``
(or a few)                        metric lines behind before one at or past the maximum)
================================  ===========================================================

A file that has a ``run_start`` line never uses the legacy rule: our logger writes one on every
open, and interleaved writers (an evaluator thread) can put any number of lines behind.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np

from dashboard.reading.chunks import Cut
from dashboard.run_state import Restart

__all__ = ["RESUME_AFTER", "TimelineRules"]

#: Legacy logs (no ``run_start``): this many consecutive metric lines below the highest metric
#: step, with ascending steps, are a resume. An evaluator thread puts single lines (or a short
#: burst at one step) behind the trainer; a trainer that went back keeps going from there.
RESUME_AFTER = 5


class _Timeline:
    """What the reader knows of one (file, rank) for the legacy resume rule: the highest metric
    step, and the run of metric lines behind it read since the last line at or past it
    (``behind`` ascending steps, the first at ``first_step``/``first_seq``, the highest ``top``)."""

    __slots__ = ("behind", "first_seq", "first_step", "first_wall", "max_metric", "top")

    def __init__(self) -> None:
        self.max_metric: int | None = None
        self.behind = 0
        self.first_seq = self.first_step = self.top = 0
        self.first_wall = math.nan


class TimelineRules:
    """The resume and restart rules of one directory (the table in the module docstring).

    ``cut`` receives each :class:`Cut` (the reader applies it to every store); ``restarts`` is
    the list of restarts so far. ``has_run_start``: files (by index) with a ``run_start`` line,
    which never use the legacy rule; ``pending_reset``: file -> index in ``restarts`` of a
    reset whose step is the next line's.
    """

    def __init__(self, cut: Callable[[Cut], None], wall_clock: Callable[[], float]) -> None:
        self._cut = cut
        self._wall_clock = wall_clock
        self._timelines: dict[tuple[int, int], _Timeline] = {}  # (src, rank) -> legacy rule state
        self.has_run_start: set[int] = set()
        self.pending_reset: dict[int, int] = {}
        self.restarts: list[Restart] = []

    def _forget(self, src: int) -> None:
        for key in [k for k in self._timelines if k[0] == src]:
            del self._timelines[key]

    def reset(self, name: str, src: int, kind: Literal["truncated", "replaced"], seq: int) -> None:
        """File ``src`` was truncated or replaced: everything read from it before ``seq`` goes."""
        self._cut(Cut(src, -1, seq, 0))
        self._forget(src)
        self.has_run_start.discard(src)
        self.pending_reset[src] = len(self.restarts)
        self.restarts.append(Restart(name, kind, None, self._wall_clock()))

    def first_step_after_reset(self, src: int, step: int) -> None:
        """The first line read from ``src`` after a reset: the restart is at its step."""
        pending = self.pending_reset.pop(src)
        old = self.restarts[pending]
        self.restarts[pending] = Restart(old.file, old.kind, step, old.wall_time)

    def take_block(
        self, name: str, src: int, rank: int, steps: np.ndarray, seqs: np.ndarray, walls: np.ndarray
    ) -> bool:
        """Whether the block parser may take a block whose metric lines (in file order) have
        ``steps``, read orders ``seqs`` and wall times ``walls``; if so, the lines are recorded
        as read, exactly as line by line. False: read the block line by line (the legacy rule
        may start a new timeline in it). Always True for a file with ``run_start`` (that rule
        looks at run_start lines only, which the block parser never takes).

        In a legacy file, each run of lines behind the highest step is counted whole (ascending
        or not, so never fewer than the rule counts; the first run goes on from the open one);
        True when none reaches ``RESUME_AFTER``. Runs closed by a line at or past the top are
        over; the lines of a run still open at the end are given to the rule one by one."""
        if src in self.has_run_start or not len(steps):
            return True
        t = self._timelines.setdefault((src, rank), _Timeline())
        top = -1 if t.max_metric is None else t.max_metric
        highest = np.maximum.accumulate(steps)
        before = np.maximum(np.concatenate(([top], highest[:-1])), top)  # the top before each
        at_top = np.flatnonzero(steps >= before)
        runs = np.diff(np.concatenate(([-1], at_top, [len(steps)]))) - 1
        runs[0] += t.behind
        if int(runs.max()) >= RESUME_AFTER:
            return False
        if len(at_top):
            t.max_metric = max(int(highest[-1]), top)
            t.behind = 0
        for i in range(int(at_top[-1]) + 1 if len(at_top) else 0, len(steps)):
            self.legacy_metric(name, src, rank, int(seqs[i]), int(steps[i]), float(walls[i]))
        return True

    def run_start(
        self, name: str, src: int, rank: int, seq: int, resumed: float, wall: float
    ) -> None:
        """A logger opened: the file follows the ``run_start`` rule from now on; a resume from
        step R drops the rows of this file and rank written before with step > R."""
        self.has_run_start.add(src)
        self._forget(src)
        if not math.isnan(resumed):
            step = int(resumed)
            self.restarts.append(Restart(name, "resumed", step, self._when(wall)))
            self._cut(Cut(src, rank, seq, step + 1))

    def legacy_metric(
        self, name: str, src: int, rank: int, seq: int, step: int, wall: float
    ) -> None:
        """The legacy rule (see the module docstring) for one metric line of a file without
        ``run_start``."""
        t = self._timelines.get((src, rank))
        if t is None:
            t = self._timelines[(src, rank)] = _Timeline()
        if t.max_metric is None or step >= t.max_metric:
            t.max_metric = step
            t.behind = 0
            return
        if not t.behind:
            t.behind, t.top = 1, step
            t.first_seq, t.first_step, t.first_wall = seq, step, wall
        elif step > t.top:
            t.behind += 1
            t.top = step
        if t.behind >= RESUME_AFTER:
            self.restarts.append(Restart(name, "resumed", t.first_step, self._when(t.first_wall)))
            self._cut(Cut(src, rank, t.first_seq, t.first_step))
            t.max_metric = t.top
            t.behind = 0

    def _when(self, wall: float) -> float:
        return wall if not math.isnan(wall) else self._wall_clock()
