"""What the sidebar decided for one run of the page (the sections read it, ``app`` fills it)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Options"]


@dataclass(frozen=True)
class Options:
    """What the sidebar decided for this run of the page."""

    checkpoint_dir: str
    auto_refresh: bool
    interval_s: int
    show_metrics: bool
    show_growth: bool
    show_consolidation: bool
