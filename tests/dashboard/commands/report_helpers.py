"""Independent writers (plain ``json``, not our logger) of runs for the report and terminal tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

INJECTION = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "</script><script>alert(3)</script>",
    '"><svg onload=alert(4)>',
    "[bold red]markup[/] [link=https://evil.example]x[/link]",
    "**md** ![i](https://evil.example/i.png)",
    "&lt;already&gt; &amp;",
    "\u2028line\u2029sep",
)


def write_lines(path: Path, records: list[dict[str, Any]], mode: str = "w") -> None:
    with open(path, mode, encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def metric(
    step: int, *, loss: float | str | None = None, firing_rate: float = 0.1, **extra: Any
) -> dict[str, Any]:
    return {
        "event_type": "metric",
        "step": step,
        "wall_time": 1_000_000.0 + step,
        "firing_rate": firing_rate,
        "capacity": 0.5,
        "performance": 0.5 + step / 2000,
        "loss": 1.0 / (1.0 + 0.01 * step) if loss is None else loss,
        "neuron_counts": {"cortex": 100 + step // 100},
        "capacity_by_region": {"cortex": 0.5},
        **extra,
    }


def make_run(
    directory: Path,
    *,
    steps: int = 500,
    kind: str = "healthy",
    total_steps: int | None = None,
    text: str = "plain",
) -> Path:
    """A finished run (metadata ``total_steps`` reached, so no stall) that is ``healthy``, has a
    ``warning`` (firing rate below the band at the end) or a ``critical`` alert (NaN loss)."""
    directory.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = [
        {
            "event_type": "run_start",
            "step": 0,
            "wall_time": 1_000_000.0,
            "schema_version": 1,
            "run_id": f"run {text}",
            "resumed_from_step": None,
            "config": {"lr": 0.001, "note": text},
        }
    ]
    for s in range(steps):
        rec = metric(s, val_loss=1.1 / (1.0 + 0.01 * s)) if s % 10 == 0 else metric(s)
        if kind == "warning" and s >= steps - 5:
            rec["firing_rate"] = 0.001
        if kind == "critical" and s == steps - 1:
            rec["loss"] = "NaN"
        records.append(rec)
        if s and s % 100 == 0:
            records.append(
                {
                    "event_type": "growth",
                    "step": s,
                    "wall_time": 1_000_000.0 + s,
                    "region": f"cortex {text}",
                    "neurons_added": 8,
                    "new_total": 108,
                    "reason": f"full {text}",
                }
            )
            records.append(
                {
                    "event_type": "consolidation",
                    "step": s,
                    "wall_time": 1_000_000.0 + s,
                    "sleep_stage": "NREM",
                    "patterns_replayed": 5,
                    "duration_steps": 3,
                }
            )
    write_lines(directory / "training_log.jsonl", records)
    meta = {
        "current_stage": 1,
        "step": steps - 1,
        "current_week": 2,
        "total_weeks": 4,
        "total_steps": steps if total_steps is None else total_steps,
        "metrics": {},
        "milestones": {f"mnist {text}": True, "sequence": False},
        "warnings": [] if text == "plain" else [{"severity": "info", "message": text}],
    }
    (directory / f"metadata_{steps - 1}.json").write_text(json.dumps(meta))
    return directory
