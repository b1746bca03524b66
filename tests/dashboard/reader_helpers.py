"""Shared helpers for the reader-side tests: raw JSON-line fixtures and frame comparison.

Leaked threads are caught suite-wide by ``tests/conftest.py``."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

REGIONS = ("cortex", "hippocampus")
FRAMES = (
    "metrics_history",
    "growth_events",
    "consolidation_events",
    "stage_events",
    "run_starts",
    "nonfinite",
)


def line(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def metric(step: int, **extra: Any) -> bytes:
    obj = {
        "event_type": "metric",
        "step": step,
        "wall_time": 1000.0 + step,
        "firing_rate": 0.1,
        "capacity": 0.5,
        "performance": 0.9,
        "loss": 1.0 / (step + 1),
        "neuron_counts": {r: 100 + step for r in REGIONS},
        "capacity_by_region": {r: 0.5 for r in REGIONS},
        **extra,
    }
    return line(obj)


def growth(step: int, region: str = "cortex", **extra: Any) -> bytes:
    return line(
        {
            "event_type": "growth",
            "step": step,
            "wall_time": 1000.0 + step,
            "region": region,
            "neurons_added": 8,
            "new_total": 108,
            "reason": "full",
            **extra,
        }
    )


def consolidation(step: int, stage: str = "NREM") -> bytes:
    return line(
        {
            "event_type": "consolidation",
            "step": step,
            "wall_time": 1000.0 + step,
            "sleep_stage": stage,
            "patterns_replayed": 5,
            "duration_steps": 3,
        }
    )


def stage(step: int, number: int = 1, name: str = "phonology") -> bytes:
    return line(
        {
            "event_type": "stage",
            "step": step,
            "wall_time": 1000.0 + step,
            "stage": number,
            "name": name,
        }
    )


def run_start(step: int, resumed_from_step: int | None = None) -> bytes:
    return line(
        {
            "event_type": "run_start",
            "step": step,
            "wall_time": 1000.0 + step,
            "schema_version": 1,
            "run_id": "r1",
            "resumed_from_step": resumed_from_step,
            "config": {},
        }
    )


def frames_of(state: Any) -> dict[str, pd.DataFrame]:
    return {name: getattr(state, name) for name in FRAMES}


def assert_same_frames(a: Any, b: Any) -> None:
    for name, frame in frames_of(a).items():
        pd.testing.assert_frame_equal(
            frame.reset_index(drop=True), getattr(b, name).reset_index(drop=True), obj=name
        )
