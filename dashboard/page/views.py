"""View models for the page: metric cards with deltas, header facts, metadata cards, milestone summary (pure, no Streamlit)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from dashboard.analysis.series import CARD_METRICS, latest_step, whole_number
from dashboard.analysis.units import (
    PERCENT_METRICS,
    format_value,
)
from dashboard.page.text import plain
from dashboard.run_state import RunState

__all__ = [
    "DELTA_COLORS",
    "Card",
    "DeltaArrow",
    "DeltaColor",
    "Header",
    "header_facts",
    "metadata_cards",
    "metric_cards",
    "milestone_summary",
]


DeltaColor = Literal["normal", "inverse", "off"]


#: Which way a card's delta is good: performance up (normal), loss down (inverse); firing rate
#: and capacity have no good direction (off: grey, whichever way they move).
DELTA_COLORS: dict[str, DeltaColor] = {
    "firing_rate": "off",
    "capacity": "off",
    "performance": "normal",
    "loss": "inverse",
}


DeltaArrow = Literal["auto", "up", "down", "off"]


@dataclass(frozen=True)
class Card:
    """One metric card: label, formatted value, delta against the previous point, and the
    ``st.metric`` ``delta_color`` that says which direction is good (see ``DELTA_COLORS``); a
    delta that shows as zero is neutral (grey, no arrow, no sign)."""

    label: str
    value: str
    delta: str | None
    delta_color: DeltaColor
    delta_arrow: DeltaArrow = "auto"


def metric_cards(metrics: pd.DataFrame) -> list[Card]:
    """The four cards; delta is against the previous row (percentage points for rates)."""
    cards = []
    for name, label in CARD_METRICS:
        series = (
            metrics[name].to_numpy(dtype=np.float64, na_value=np.nan)
            if (name in metrics.columns)
            else np.array([])
        )
        latest = float(series[-1]) if series.size else None
        delta: str | None = None
        color: DeltaColor = DELTA_COLORS[name]
        arrow: DeltaArrow = "auto"
        if series.size >= 2 and math.isfinite(series[-1]) and math.isfinite(series[-2]):
            d = float(series[-1] - series[-2])
            delta = f"{d * 100:+.2f} pp" if name in PERCENT_METRICS else f"{d:+.4g}"
            if not any(ch in "123456789" for ch in delta):  # "+0.00 pp", "-0": no change shown
                delta = "0.00 pp" if name in PERCENT_METRICS else "0"
                color, arrow = "off", "off"
        cards.append(Card(label, format_value(name, latest), delta, color, arrow))
    return cards


@dataclass(frozen=True)
class Header:
    """Facts for the header: what the run is doing now. ``stage`` is the stage number as text
    (``"—"`` when unknown), ``stage_name`` its name (``""`` when unknown). Texts are plain (run
    text included): render them through :mod:`dashboard.page.text`. ``odd_fields`` names the
    metadata fields whose value had an unexpected type (shown as text, said by the page)."""

    stage: str
    stage_name: str
    week: str
    step: int | None
    progress: float | None
    progress_text: str
    odd_fields: tuple[str, ...] = ()


def _latest(frame: pd.DataFrame, column: str) -> Any:
    if column not in frame.columns or frame.empty:
        return None
    return frame[column].iloc[-1]


def header_facts(state: RunState, metrics: pd.DataFrame) -> Header:
    """Stage (number and name), week x/y, step and stage progress from metadata and frames.

    Metadata from older trainers may hold any JSON value in any field: a non-number stage, week
    or step is shown as text (``odd_fields`` lists it), never interpreted."""
    meta = state.metadata or {}
    odd: list[str] = []
    logged_stage = whole_number(_latest(state.stage_events, "stage"))
    raw_stage = meta.get("current_stage", logged_stage)
    stage = whole_number(raw_stage)
    if raw_stage is not None and stage is None:
        odd.append("current_stage")
    name = meta.get("stage_name") or ""
    if not name and logged_stage is not None and stage is not None and logged_stage == stage:
        name = _latest(state.stage_events, "name") or ""
    stage_text = (
        "—" if raw_stage is None else (str(stage) if stage is not None else plain(raw_stage))
    )
    week, weeks = meta.get("current_week"), meta.get("total_weeks")
    for key, value in (("current_week", week), ("total_weeks", weeks)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            odd.append(key)
    week_text = f"{plain(week)}/{plain(weeks)}" if week is not None and weeks else "—"
    meta_step = meta.get("step")
    if meta_step is not None and whole_number(meta_step) is None:
        odd.append("step")
    step = latest_step(metrics, meta)
    progress = None
    text = "Stage progress appears with the first checkpoint metadata."
    if (
        "current_week" not in odd
        and "total_weeks" not in odd
        and week is not None
        and weeks is not None
        and math.isfinite(week)
        and math.isfinite(weeks)
        and weeks > 0
    ):
        progress = min(max(float(week) / float(weeks), 0.0), 1.0)
        text = f"Stage progress: week {plain(week)} of {plain(weeks)} ({progress:.0%})"
    return Header(
        stage_text,
        plain(name) if raw_stage is not None else "",
        week_text,
        step,
        progress,
        text,
        tuple(odd),
    )


def metadata_cards(metadata: dict[str, Any] | None) -> list[Card] | None:
    """The four cards from a metadata ``metrics`` block (a run with metadata but no metric
    lines yet, as the original Thalia trainers write it); None when it has none of them."""
    block = (metadata or {}).get("metrics")
    if not isinstance(block, dict):
        return None
    cards = []
    known = False
    for name, label in CARD_METRICS:
        value = block.get(name)
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number, known = float(value), True
        cards.append(Card(label, format_value(name, number), None, DELTA_COLORS[name]))
    return cards if known else None


def milestone_summary(metadata: dict[str, Any] | None) -> tuple[int, int, list[tuple[str, bool]]]:
    """(total, passed, [(name, passed), ...]) from the latest metadata's ``milestones``."""
    raw = (metadata or {}).get("milestones") or {}
    items = [(str(k), bool(v)) for k, v in raw.items()] if isinstance(raw, dict) else []
    return len(items), sum(1 for _, ok in items if ok), items
