"""When a run's data came: what "last update", duration and speed are computed from.

Lines from our logger carry ``wall_time``; older Thalia logs do not. :class:`Freshness` keeps
both kinds of evidence as the reader sees lines: the newest ``wall_time`` logged, the newest
mtime of a log file that gave new lines, the highest metric step, and a bounded list of
``(log mtime, highest step)`` samples taken whenever new lines arrive (the speed of a legacy run).
"""

from __future__ import annotations

import collections
import math

__all__ = ["ACTIVITY_SAMPLES", "Freshness"]

ACTIVITY_SAMPLES = 512


class Freshness:
    """Running maxima of wall time, log mtime and metric step, plus activity samples.

    Guarantees: every ``note_*`` keeps a maximum (a late, lower value changes nothing); NaN wall
    times are ignored; :meth:`sample` records a point only once a metric step and a log mtime
    are known; :meth:`last_update` prefers logged wall times and uses log mtimes only for logs
    without them."""

    def __init__(self) -> None:
        self.max_wall_time: float | None = None
        self.log_mtime: float | None = None
        self.max_metric_step: int | None = None
        self.activity: collections.deque[tuple[float, int]] = collections.deque(
            maxlen=ACTIVITY_SAMPLES
        )

    def note_wall(self, wall: float) -> None:
        if not math.isnan(wall) and (self.max_wall_time is None or wall > self.max_wall_time):
            self.max_wall_time = wall

    def note_mtime(self, mtime: float) -> None:
        if self.log_mtime is None or mtime > self.log_mtime:
            self.log_mtime = mtime

    def note_metric_step(self, step: int) -> None:
        if self.max_metric_step is None or step > self.max_metric_step:
            self.max_metric_step = step

    def sample(self) -> None:
        """New lines arrived: remember (log mtime, highest metric step)."""
        if self.max_metric_step is not None and self.log_mtime is not None:
            self.activity.append((self.log_mtime, self.max_metric_step))

    def last_update(self, metadata_mtime: float | None) -> float | None:
        """The newest of: logged wall time, metadata mtime, and (for logs without wall_time)
        the log files' mtime; None before any data."""
        log_time = self.log_mtime if self.max_wall_time is None else None
        times = [
            t
            for t in (self.max_wall_time, metadata_mtime, log_time)
            if t is not None and not math.isnan(t)
        ]
        return max(times) if times else None
