"""Frame-derived figures and text formats for the page (pure: no Streamlit, no writes).

The page's sections call these to turn a :class:`~dashboard.state.RunState` into the numbers and
strings it shows: header facts, metric cards with deltas, training speed and ETA, milestone and
consolidation statistics, the console log tail. Keeping them here keeps ``sections.py`` a thin
layer of Streamlit calls and lets the numbers be tested without a page.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from dashboard.safefile import check_file, open_regular
from dashboard.state import RunState
from dashboard.textsafe import md_text, plain

__all__ = [
    "CARD_METRICS",
    "LOG_TAIL_BYTES",
    "Card",
    "Header",
    "RunStatus",
    "SpeedInfo",
    "escape_markdown",
    "extra_metric_columns",
    "format_age",
    "format_bytes",
    "format_duration",
    "format_value",
    "header_facts",
    "metadata_cards",
    "metric_cards",
    "milestone_summary",
    "rank_frame",
    "ranks",
    "read_log_tail",
    "run_status",
    "speed_info",
]

CARD_METRICS: tuple[tuple[str, str], ...] = (
    ("firing_rate", "Firing rate"), ("capacity", "Capacity"),
    ("performance", "Performance"), ("loss", "Loss"),
)
PERCENT_METRICS = frozenset({"firing_rate", "capacity", "performance"})
DeltaColor = Literal["normal", "inverse", "off"]
#: Which way a card's delta is good: performance up (normal), loss down (inverse); firing rate
#: and capacity have no good direction (off: grey, whichever way they move).
DELTA_COLORS: dict[str, DeltaColor] = {
    "firing_rate": "off", "capacity": "off", "performance": "normal", "loss": "inverse",
}
DeltaArrow = Literal["auto", "up", "down", "off"]
LOG_TAIL_BYTES = 64 * 1024
_NOT_EXTRA = {"step", "wall_time", "rank", *(name for name, _ in CARD_METRICS)}


def escape_markdown(text: object) -> str:
    """Run text (any type) as markdown that Streamlit shows as exactly that text, on one line:
    :func:`dashboard.textsafe.md_text` (no emphasis, link, autolink, image, icon, emoji, colour,
    maths or HTML can come out of it). Kept under this name for the sections that use it."""
    return md_text(text)


def format_value(name: str, value: float | None) -> str:
    """Rates as %, loss with 4 significant digits, big numbers with thousands separators."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
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


def ranks(metrics: pd.DataFrame) -> list[int]:
    """The ranks present in the metrics (``[0]`` when there is no rank column or no rows)."""
    if "rank" not in metrics.columns or metrics.empty:
        return [0]
    values = metrics["rank"].to_numpy()
    if values.min() == values.max():  # the common case: no 1M-row hash table
        return [int(values[0])]
    return sorted(int(r) for r in np.unique(values))


def rank_frame(metrics: pd.DataFrame, rank: int = 0) -> pd.DataFrame:
    """The rows of one rank (the whole frame, not a copy, when every row is of that rank or it
    has no ``rank`` column)."""
    if "rank" not in metrics.columns or metrics.empty:
        return metrics
    mask = metrics["rank"].to_numpy() == rank
    return metrics if mask.all() else metrics[mask]


def extra_metric_columns(metrics: pd.DataFrame, *, logged: Collection[str] = ()) -> list[str]:
    """Further numeric columns (``lr``, ``grad_norm``, ...) with at least one logged value: a
    number, or (named in ``logged``) a value the trainer logged as NaN/Inf."""
    out = []
    values: dict[Hashable, int] = dict(zip(metrics.columns, metrics.count().tolist(), strict=True))
    for c, dtype in metrics.dtypes.items():
        name = str(c)
        if name in _NOT_EXTRA or name.startswith(("neuron_counts.", "capacity_by_region.")):
            continue
        if pd.api.types.is_numeric_dtype(dtype) and (name in logged or values[c] > 0):
            out.append(name)
    return out


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
        series = metrics[name].to_numpy(dtype=np.float64, na_value=np.nan) if (
            name in metrics.columns) else np.array([])
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
    text included): render them through :mod:`dashboard.textsafe`. ``odd_fields`` names the
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


def _whole(value: Any) -> int | None:
    """``value`` as an int if it is a whole number within int64 (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    if isinstance(value, float | np.floating) and not (
            math.isfinite(value) and float(value).is_integer()):
        return None
    return int(value) if abs(int(value)) < 2**63 else None


def header_facts(state: RunState, metrics: pd.DataFrame) -> Header:
    """Stage (number and name), week x/y, step and stage progress from metadata and frames.

    Metadata from older trainers may hold any JSON value in any field: a non-number stage, week
    or step is shown as text (``odd_fields`` lists it), never interpreted."""
    meta = state.metadata or {}
    odd: list[str] = []
    logged_stage = _whole(_latest(state.stage_events, "stage"))
    raw_stage = meta.get("current_stage", logged_stage)
    stage = _whole(raw_stage)
    if raw_stage is not None and stage is None:
        odd.append("current_stage")
    name = meta.get("stage_name") or ""
    if not name and logged_stage is not None and stage is not None and logged_stage == stage:
        name = _latest(state.stage_events, "name") or ""
    stage_text = "—" if raw_stage is None else (str(stage) if stage is not None else plain(raw_stage))
    week, weeks = meta.get("current_week"), meta.get("total_weeks")
    for key, value in (("current_week", week), ("total_weeks", weeks)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            odd.append(key)
    week_text = f"{plain(week)}/{plain(weeks)}" if week is not None and weeks else "—"
    meta_step = meta.get("step")
    if meta_step is not None and _whole(meta_step) is None:
        odd.append("step")
    steps = [s for s in (_whole(_latest(metrics, "step")), _whole(meta_step)) if s is not None]
    step = max(steps) if steps else None
    progress = None
    text = "Stage progress appears with the first checkpoint metadata."
    if ("current_week" not in odd and "total_weeks" not in odd and week is not None
            and weeks is not None and math.isfinite(week) and math.isfinite(weeks) and weeks > 0):
        progress = min(max(float(week) / float(weeks), 0.0), 1.0)
        text = f"Stage progress: week {plain(week)} of {plain(weeks)} ({progress:.0%})"
    return Header(stage_text, plain(name) if raw_stage is not None else "", week_text, step,
                  progress, text, tuple(odd))


@dataclass(frozen=True)
class RunStatus:
    """The run's state for the header badge: ``kind`` and the words to show."""

    kind: Literal["waiting", "running", "stalled", "finished"]
    text: str


def run_status(
    state: RunState, step: int | None, *, now: float, stall_minutes: float = 10.0,
) -> RunStatus:
    """``finished`` when the metadata's ``total_steps`` is reached (the last step is at least
    ``total_steps - 1``, so 0-based and 1-based trainers both count), else ``running`` while the
    newest line or metadata is at most ``stall_minutes`` old, else ``stalled`` (with the time
    since the last data), or ``waiting`` before any data."""
    total = (state.metadata or {}).get("total_steps")
    if (isinstance(total, int | float) and not isinstance(total, bool) and step is not None
            and total > 0 and step >= total - 1):
        return RunStatus("finished", "finished")
    if state.last_update is None:
        return RunStatus("waiting", "waiting for data")
    idle = max(0.0, now - state.last_update)
    if idle > stall_minutes * 60:
        return RunStatus("stalled", f"stalled for {format_age(idle).removesuffix(' ago')}")
    return RunStatus("running", "running")


@dataclass(frozen=True)
class SpeedInfo:
    """Run duration, recent speed and the time left: an ETA while running with ``total_steps``
    known, ``"done"`` once finished, ``"—"`` otherwise (stalled, waiting, total unknown)."""

    duration: str
    steps_per_s: str
    eta: str


def speed_info(
    state: RunState, metrics: pd.DataFrame, *, window: int = 200, status: str = "running",
) -> SpeedInfo:
    """Duration from the first to the newest line, speed over the last ``window`` metric rows;
    ``status`` is the :class:`RunStatus` kind (no ETA unless ``"running"``).

    Lines without ``wall_time`` (older Thalia logs) take their times from when the reader saw
    them (``state.activity``: the log file's mtime and the step then), so a live legacy run
    has a duration (since the first sample: the dashboard cannot know more), speed and ETA."""
    if metrics.empty:
        return SpeedInfo("—", "—", "done" if status == "finished" else "—")
    wall = (metrics["wall_time"].to_numpy(dtype=np.float64, na_value=np.nan)
            if "wall_time" in metrics.columns else np.full(len(metrics), np.nan))
    step = metrics["step"].to_numpy(dtype=np.int64)
    known = np.isfinite(wall).any()
    if not known and state.activity:
        return _speed_from_activity(state, int(step[-1]), window=window, status=status)
    first = float(np.nanmin(wall)) if known else math.nan
    duration = format_duration(float(np.nanmax(wall)) - first) if known else "—"
    tail_w, tail_s = wall[-window:], step[-window:]
    rate = math.nan
    if tail_w.size >= 2 and math.isfinite(tail_w[0]) and tail_w[-1] > tail_w[0]:
        rate = float(tail_s[-1] - tail_s[0]) / float(tail_w[-1] - tail_w[0])
    total = (state.metadata or {}).get("total_steps")
    eta = "done" if status == "finished" else "—"
    if status == "running" and isinstance(total, int | float) and rate > 0:
        eta = format_duration(max(0.0, float(total) - float(step[-1])) / rate)
    return SpeedInfo(duration, f"{rate:,.1f}" if math.isfinite(rate) else "—", eta)


def _speed_from_activity(state: RunState, last_step: int, *, window: int, status: str) -> SpeedInfo:
    times = np.array([t for t, _ in state.activity], dtype=np.float64)
    steps = np.array([s for _, s in state.activity], dtype=np.float64)
    newest = max(float(times.max()), state.last_update or -math.inf)
    span = newest - float(times.min())
    duration = format_duration(span) if span > 0 else "—"
    tail_t, tail_s = times[-window:], steps[-window:]
    rate = math.nan
    if tail_t.size >= 2 and tail_t[-1] > tail_t[0]:
        rate = float(tail_s[-1] - tail_s[0]) / float(tail_t[-1] - tail_t[0])
    total = (state.metadata or {}).get("total_steps")
    eta = "done" if status == "finished" else "—"
    if (status == "running" and isinstance(total, int | float) and not isinstance(total, bool)
            and rate > 0 and math.isfinite(float(total))):
        eta = format_duration(max(0.0, float(total) - float(last_step)) / rate)
    return SpeedInfo(duration, f"{rate:,.1f}" if math.isfinite(rate) else "—", eta)


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


def read_log_tail(path: Path, *, max_bytes: int = LOG_TAIL_BYTES, max_lines: int = 200) -> str | None:
    """The last lines of a text file (at most ``max_bytes`` read, read-only), or None if absent.

    Read only when it is a regular file inside its directory (a symlink only to one inside it),
    opened without blocking (a FIFO named ``console.log`` never hangs the page); otherwise a
    one-line note saying why it is not shown."""
    try:
        real = check_file(str(path.parent), path.name)
        with open_regular(real) as f:
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
