"""System metrics of a run, shaped for the page (pure: frames in, plain values and text out).

The fields are the ones :mod:`thalia_logging.system_metrics` writes (one metric line per sampling
interval carries them): ``sys_cpu_percent``, ``proc_cpu_percent``, ``proc_rss_bytes``,
``host_mem_percent``, ``host_mem_used_bytes``, ``host_mem_total_bytes``,
``disk_read_bytes_per_s``, ``disk_write_bytes_per_s`` and per GPU ``gpu{i}_util_percent``,
``gpu{i}_mem_bytes``, ``gpu{i}_mem_total_bytes``. The logger's own per-interval GPU capture
(``gpu_mem_bytes`` / ``gpu_mem_total_bytes``, the current device) counts as a GPU too when no
indexed GPU column exists.

Since only one line per interval carries a field, the "current" value of a field is its last
finite value, and the step it was logged at says how fresh it is.

GPU memory is given in GB of 2**30 bytes, as GPU tools and the page design count it (an 8 GB card
reads ``8.0 GB``); disk rates and host sizes use :func:`~dashboard.analysis.units.format_bytes`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.analysis.downsample import DEFAULT_MAX_POINTS, downsample
from dashboard.analysis.units import format_bytes

__all__ = [
    "GPU_GB",
    "HISTORY",
    "HOST_FIELDS",
    "GpuColumns",
    "GpuNow",
    "HistoryChart",
    "Reading",
    "SystemNow",
    "format_gb",
    "gpu_columns",
    "gpu_memory_text",
    "has_system_metrics",
    "history_charts",
    "history_frame",
    "latest_system",
    "system_columns",
]

GPU_GB = 1024**3
"""Bytes in one GB of GPU memory (as ``nvidia-smi`` and the page design count)."""

HOST_FIELDS = (
    "sys_cpu_percent", "proc_cpu_percent", "proc_rss_bytes", "host_mem_percent",
    "host_mem_used_bytes", "host_mem_total_bytes", "disk_read_bytes_per_s",
    "disk_write_bytes_per_s",
)  # fmt: skip
"""The host and process fields of the sampler (``thalia_logging.system_metrics.SYSTEM_FIELDS``)."""

_GPU = re.compile(r"gpu(\d{1,4})_(util_percent|mem_bytes|mem_total_bytes)")
_LEGACY_GPU = ("gpu_mem_bytes", "gpu_mem_total_bytes")


@dataclass(frozen=True)
class GpuColumns:
    """The columns of one GPU (``None`` where that field was never logged)."""

    label: str
    util: str | None
    mem: str | None
    total: str | None


@dataclass(frozen=True)
class Reading:
    """One current value: a card's label, its text, and the step it was logged at."""

    label: str
    text: str
    step: int


@dataclass(frozen=True)
class GpuNow:
    """One GPU now: utilisation text (or None), memory text ``"4.2 / 8.0 GB"`` (or None) and the
    used fraction for a bar (None without a total)."""

    label: str
    util: Reading | None
    memory: Reading | None
    fraction: float | None


@dataclass(frozen=True)
class SystemNow:
    """The current system values: host/process cards, then one entry per GPU."""

    host: tuple[Reading, ...]
    gpus: tuple[GpuNow, ...]


@dataclass(frozen=True)
class HistoryChart:
    """One history chart: title, y-axis title, and ``(column, series name, scale)`` lines."""

    title: str
    y_title: str
    lines: tuple[tuple[str, str, float], ...]


def gpu_columns(columns: Iterable[object]) -> list[GpuColumns]:
    """The GPUs of a frame's columns, by index (``GPU 0``, ``GPU 1``...); the logger's unindexed
    ``gpu_mem_bytes`` is ``GPU`` when no indexed column exists."""
    names = {str(c) for c in columns}
    found: dict[int, dict[str, str]] = {}
    for name in names:
        m = _GPU.fullmatch(name)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = name
    gpus = [
        GpuColumns(f"GPU {i}", f.get("util_percent"), f.get("mem_bytes"), f.get("mem_total_bytes"))
        for i, f in sorted(found.items())
    ]
    if not gpus and _LEGACY_GPU[0] in names:
        total = _LEGACY_GPU[1] if _LEGACY_GPU[1] in names else None
        gpus.append(GpuColumns("GPU", None, _LEGACY_GPU[0], total))
    return gpus


def system_columns(columns: Iterable[object]) -> list[str]:
    """The system-metric columns among ``columns`` (host fields first, then GPU fields)."""
    names = [str(c) for c in columns]
    present = set(names)
    host = [f for f in HOST_FIELDS if f in present]
    gpu = [c for g in gpu_columns(names) for c in (g.util, g.mem, g.total) if c is not None]
    return host + gpu


def has_system_metrics(columns: Iterable[object]) -> bool:
    """Whether the run logged any system metric (the page then shows its System section)."""
    return bool(system_columns(columns))


def format_gb(size: float) -> str:
    """GPU memory in GB (2**30 bytes) with one decimal: ``4.2``."""
    return f"{size / GPU_GB:.1f}"


def gpu_memory_text(used: float, total: float | None) -> str:
    """``"4.2 / 8.0 GB"`` (or ``"4.2 GB"`` without a total)."""
    if total is None or not math.isfinite(total) or total <= 0:
        return f"{format_gb(used)} GB"
    return f"{format_gb(used)} / {format_gb(total)} GB"


def _latest(metrics: pd.DataFrame, column: str | None) -> tuple[float, int] | None:
    """The last finite value of ``column`` and the step it was logged at, or None."""
    if column is None or column not in metrics.columns or metrics.empty:
        return None
    values = metrics[column].to_numpy(dtype=np.float64, na_value=np.nan)
    pos = _last_finite_pos(values)
    if pos is None:
        return None
    return float(values[pos]), int(metrics["step"].iloc[pos])


def _last_finite_pos(values: np.ndarray) -> int | None:
    """Where the last finite value is, looking back from the end in growing windows (a sampled
    field is on one line per interval: the answer is near the end, not a scan of the history)."""
    n = values.size
    window = 64
    while True:
        start = max(0, n - window)
        ok = np.flatnonzero(np.isfinite(values[start:]))
        if ok.size:
            return start + int(ok[-1])
        if start == 0:
            return None
        window *= 16


def _percent(value: float) -> str:
    return f"{value:.0f}%"


def _rate(value: float) -> str:
    return f"{format_bytes(max(value, 0.0))}/s"


def _size(value: float) -> str:
    return format_bytes(max(value, 0.0))


_HOST_CARDS = (
    ("sys_cpu_percent", "System CPU", _percent),
    ("proc_cpu_percent", "Process CPU", _percent),
    ("proc_rss_bytes", "Process memory (RSS)", _size),
    ("host_mem_percent", "Host memory", _percent),
    ("disk_read_bytes_per_s", "Disk read", _rate),
    ("disk_write_bytes_per_s", "Disk write", _rate),
)


def latest_system(metrics: pd.DataFrame) -> SystemNow | None:
    """The current system values of ``metrics`` (one rank's rows), or None when it has none."""
    host: list[Reading] = []
    for column, label, fmt in _HOST_CARDS:
        got = _latest(metrics, column)
        if got is not None:
            text = fmt(got[0])
            if column == "host_mem_percent":
                used = _latest(metrics, "host_mem_used_bytes")
                total = _latest(metrics, "host_mem_total_bytes")
                if used is not None and total is not None:
                    text += f" · {_size(used[0])} / {_size(total[0])}"
            host.append(Reading(label, text, got[1]))
    gpus: list[GpuNow] = []
    for gpu in gpu_columns(metrics.columns):
        util = _latest(metrics, gpu.util)
        used = _latest(metrics, gpu.mem)
        total = _latest(metrics, gpu.total)
        memory = fraction = None
        if used is not None:
            total_bytes = total[0] if total is not None else None
            memory = Reading(f"{gpu.label} memory", gpu_memory_text(used[0], total_bytes), used[1])
            if total_bytes is not None and total_bytes > 0:
                fraction = min(max(used[0] / total_bytes, 0.0), 1.0)
        util_reading = (
            Reading(f"{gpu.label} utilisation", _percent(util[0]), util[1])
            if util is not None
            else None
        )
        if util_reading is not None or memory is not None:
            gpus.append(GpuNow(gpu.label, util_reading, memory, fraction))
    if not host and not gpus:
        return None
    return SystemNow(tuple(host), tuple(gpus))


#: The host history charts (GPU charts are built per device by :func:`history_charts`).
HISTORY = (
    HistoryChart("CPU", "CPU (%)", (("sys_cpu_percent", "system", 1.0),
                                    ("proc_cpu_percent", "process", 1.0))),
    HistoryChart("Memory", "Memory (GB)", (("proc_rss_bytes", "process RSS", 1e-9),
                                           ("host_mem_used_bytes", "host used", 1e-9),
                                           ("host_mem_total_bytes", "host total", 1e-9))),
    HistoryChart("Disk I/O", "Disk (MB/s)", (("disk_read_bytes_per_s", "read", 1e-6),
                                             ("disk_write_bytes_per_s", "write", 1e-6))),
)  # fmt: skip


def history_charts(columns: Iterable[object]) -> list[HistoryChart]:
    """The history charts this run has data for: CPU, memory, disk, GPU utilisation, GPU memory."""
    names = {str(c) for c in columns}
    charts = [
        HistoryChart(c.title, c.y_title, tuple(line for line in c.lines if line[0] in names))
        for c in HISTORY
    ]
    gpus = gpu_columns(names)
    util = tuple((g.util, g.label, 1.0) for g in gpus if g.util is not None)
    mem = tuple((g.mem, f"{g.label} used", 1 / GPU_GB) for g in gpus if g.mem is not None)
    total = tuple((g.total, f"{g.label} total", 1 / GPU_GB) for g in gpus if g.total is not None)
    charts.append(HistoryChart("GPU utilisation", "GPU utilisation (%)", util))
    charts.append(HistoryChart("GPU memory", "GPU memory (GB)", mem + total))
    return [c for c in charts if c.lines]


def history_frame(
    metrics: pd.DataFrame, chart: HistoryChart, *, max_points: int = DEFAULT_MAX_POINTS
) -> pd.DataFrame:
    """Long rows ``step``, ``value``, ``series`` of ``chart``'s lines: each line's finite values
    (the lines that did not log it are left out), scaled, down-sampled to its share of
    ``max_points`` (min/max per bucket, first and last kept)."""
    parts = []
    steps = metrics["step"].to_numpy(dtype=np.int64) if "step" in metrics.columns else None
    share = max(max_points // max(len(chart.lines), 1), 6)
    for column, series, scale in chart.lines:
        if steps is None or column not in metrics.columns:
            continue
        values = metrics[column].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(values)
        s, v = steps[ok], values[ok]
        if not v.size:
            continue
        pos = downsample(v, share).finite
        parts.append(pd.DataFrame({"step": s[pos], "value": v[pos] * scale, "series": series}))
    if not parts:
        return pd.DataFrame(
            {"step": np.empty(0, np.int64), "value": np.empty(0), "series": np.empty(0, str)}
        )
    return pd.concat(parts, ignore_index=True)
