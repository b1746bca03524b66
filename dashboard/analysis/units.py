"""Human-readable units for numbers, sizes, ages and durations (plain text; used by status, health and page)."""

from __future__ import annotations

import math

from thalia_logging.contract import non_finite_text

__all__ = ["PERCENT_METRICS", "format_age", "format_bytes", "format_duration", "format_value"]


PERCENT_METRICS = frozenset({"firing_rate", "capacity", "performance"})


def format_value(name: str, value: float | None) -> str:
    """Rates as %, loss with 4 significant digits, big numbers with thousands separators."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return non_finite_text(value)
    if name in PERCENT_METRICS:
        return f"{value:.1%}"
    if abs(value) >= 10_000 and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def format_bytes(size: float) -> str:
    """A byte count for people: ``"0 B"``, ``"812 KB"``, ``"531 MB"``, ``"2.6 GB"`` (decimal units)."""
    for unit in ("B", "KB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def format_age(seconds: float) -> str:
    """A relative age: ``12 s ago``, ``3 min ago``, ``2 h 5 min ago``, ``1 d 3 h ago``, ``12 d ago``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    if s < 86_400:
        return f"{s // 3600} h {s % 3600 // 60} min ago"
    if s < 10 * 86_400:
        return f"{s // 86_400} d {s % 86_400 // 3600} h ago"
    return f"{s // 86_400} d ago"


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min 3 s``, ``5 h 2 min``, ``2 d 4 h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86_400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86_400} d {s % 86_400 // 3600} h"
