"""Shared helpers for the page tests: RunState built by hand, and raw fixture directories.

Imported by test_health/test_charts/test_app as ``page_helpers`` (pytest puts this folder on
``sys.path``). Every RunState of the page tests is built here, so a change in how RunState is
constructed is adapted in one place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dashboard.reading import forget
from dashboard.run_state import BadLine, HealthWarning, Restart, RunState

__all__ = ["logged_nonfinite", "make_metrics", "make_state", "write_lines", "write_metadata"]


def make_metrics(n: int = 10, **columns: Any) -> pd.DataFrame:
    """A metrics_history frame of ``n`` rows at steps 0, 100, ...; ``columns`` override/extend."""
    data: dict[str, Any] = {
        "step": np.arange(n, dtype=np.int64) * 100,
        "wall_time": 1_700_000_000.0 + np.arange(n, dtype=np.float64),
        "rank": np.zeros(n, dtype=np.int64),
        "firing_rate": np.full(n, 0.1),
        "capacity": np.full(n, 0.5),
        "performance": np.linspace(0.1, 0.9, n),
        "loss": np.linspace(2.0, 1.0, n),
    }
    for key, value in columns.items():
        data[key] = (
            np.asarray(value, dtype=np.float64) if not np.isscalar(value) else np.full(n, value)
        )
    return pd.DataFrame(data)


def logged_nonfinite(metrics: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """A ``nonfinite`` frame saying that every NaN/±Inf of ``columns`` in ``metrics`` was logged
    explicitly (what the loader records for a line with ``"loss": "NaN"``); other NaNs of the
    frame then read as "not logged on that line"."""
    parts = []
    for column in columns:
        values = metrics[column].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        parts.append(
            pd.DataFrame(
                {
                    "step": metrics["step"].to_numpy(dtype=np.int64)[bad],
                    "rank": metrics["rank"].to_numpy(dtype=np.int64)[bad],
                    "column": pd.Series([column] * int(bad.sum()), dtype="str"),
                    "value": values[bad],
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["step", "rank", "column"], kind="stable", ignore_index=True)


def make_state(
    metrics: pd.DataFrame | None = None,
    *,
    restarts: tuple[Restart, ...] = (),
    bad_lines: tuple[BadLine, ...] = (),
    bad_line_count: int = 0,
    last_update: float | None = None,
    warnings: tuple[HealthWarning, ...] = (),
    **frames: Any,
) -> RunState:
    """A RunState for ``metrics`` (and any other frames given by name)."""
    return RunState(
        Path("/nonexistent/run"),
        exists=True,
        metrics_history=metrics if metrics is not None else make_metrics(),
        restarts=restarts,
        bad_lines=bad_lines,
        bad_line_count=bad_line_count,
        last_update=last_update,
        warnings=warnings,
        **frames,
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def write_lines(path: Path, records: list[dict[str, Any]], *, raw_tail: str = "") -> None:
    """Append JSON lines (non-finite floats as the logger's strings), then ``raw_tail`` verbatim."""
    with path.open("a", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps({k: _json_value(v) for k, v in record.items()}) + "\n")
        f.write(raw_tail)


def write_metadata(directory: Path, step: int, **fields: Any) -> Path:
    """Write ``metadata_{step}.json`` with the older-Thalia fields plus ``fields``."""
    body: dict[str, Any] = {
        "current_stage": 1,
        "step": step,
        "current_week": 2,
        "total_weeks": 4,
        "metrics": {},
        "milestones": {},
        "warnings": [],
    }
    body.update(fields)
    path = directory / f"metadata_{step}.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


@contextmanager
def read_in_parts(rows: int | None) -> Iterator[None]:
    """Long reads of a column go in parts of ``rows`` (None: the default size) meanwhile, so a
    short test goes through the path a first render of a long run takes."""
    with pytest.MonkeyPatch.context() as patch:
        if rows is not None:
            patch.setattr(forget, "PART_ROWS", rows)
        yield
