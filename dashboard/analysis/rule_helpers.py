"""The small helpers the health rules share: pure functions, no I/O, no Streamlit.

:mod:`dashboard.analysis.health` (the core rules), :mod:`dashboard.analysis.diagnosis` (the
training checks) and :mod:`dashboard.analysis.validation_rules` (the validation checks) build
their warnings with these, so a number, a step or a segment reads the same in every rule:

- :data:`Rule` — the signature of a rule, ``(state, columns, now, thresholds) → warnings``
- :func:`warn` / :func:`fmt` / :func:`since` — a warning, a number, the "since the stage change"
  clause
- :func:`segment_rows` / :func:`last_finite_row` / :func:`latest` / :func:`as_fraction` — the
  finite values of a column in the current segment, its latest finite value, a performance as a
  fraction
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

from dashboard.analysis.thresholds import Columns, HealthThresholds
from dashboard.run_state import HealthWarning, RunState, Severity

__all__ = [
    "Rule",
    "as_fraction",
    "fmt",
    "last_finite_row",
    "latest",
    "segment_rows",
    "since",
    "warn",
]

Rule = Callable[[RunState, Columns, float, HealthThresholds], list[HealthWarning]]


def warn(severity: Severity, message: str) -> HealthWarning:
    """A warning of the health checks (``source="health"``)."""
    return HealthWarning(severity=severity, message=message, source="health")


def fmt(value: float) -> str:
    """A metric value with 4 significant digits."""
    return f"{value:.4g}"


def since(m: Columns, *, parenthesised: bool = False) -> str:
    """`` since the <stage change|restart> at step N`` (in parentheses if asked), or "" when the
    segment is the whole run."""
    if m.start <= 0:
        return ""
    clause = f"since the {m.start_kind} at step {m.start:,}"
    return f" ({clause})" if parenthesised else f" {clause}"


#: (steps, values) per Columns (one check_health call) and column: several rules read the loss
_SEGMENTS: weakref.WeakKeyDictionary[Columns, dict[str, tuple[np.ndarray, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def segment_rows(m: Columns, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of the finite values of ``name`` in the current segment."""
    if name == "loss" and m.loss is not None:
        return m.loss.steps, m.loss.losses
    cached = _SEGMENTS.setdefault(m, {})
    if name not in cached:
        values = m.column(name)
        if values is None:
            cached[name] = np.empty(0, dtype=np.int64), np.empty(0)
        else:
            steps = m.steps
            first = int(np.searchsorted(steps, m.start, side="left"))
            values, steps = values[first:], steps[first:]
            ok = np.isfinite(values)
            cached[name] = (steps, values) if ok.all() else (steps[ok], values[ok])
    return cached[name]


def last_finite_row(values: np.ndarray, end: int | None = None) -> int | None:
    """The last row before ``end`` with a finite value, looking back from ``end`` in growing
    windows (the latest value of a long column is found without scanning all of it)."""
    n = values.size if end is None else end
    window = 64
    while True:
        ok = np.flatnonzero(np.isfinite(values[max(0, n - window) : n]))
        if ok.size:
            return max(0, n - window) + int(ok[-1])
        if window >= n:
            return None
        window *= 16


def latest(m: Columns, name: str) -> tuple[int, float] | None:
    """(step, value) of the last finite value of ``name`` (None: none)."""
    values = m.column(name)
    row = None if values is None else last_finite_row(values)
    if values is None or row is None:
        return None
    return int(m.steps[row]), float(values[row])


def as_fraction(value: float) -> float:
    """A performance as a fraction: values above 1 are read as percent."""
    return value / 100.0 if value > 1.0 else value
