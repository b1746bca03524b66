"""Runs written with plain ``json`` (not our logger), for the tests of a root of runs.

Imported as ``runs_helpers`` (pytest puts tests/dashboard on ``sys.path`` via conftest rootdir
insertion, as ``page_helpers``)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["append_metric", "write_run"]


# the app script and the root-mode pages as AppTest.switch_page names them
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
COMPARE = "page/root_pages/compare.py"
RUN = "page/root_pages/run.py"

# run folder names that markdown, HTML, URLs and query strings would act on
ODD_NAMES = [
    "**bold** [x](http:",
    "<b>html</b><script>alert(1)</script>",
    "emoji 🚀 :rocket:",
    "new\nline",
    "L" * 200,
    "pct%20a",
    "q?run=x",
    "hash#frag",
    "amp&runs=zz",
    "plus+space a",
]


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record) + "\n"


def write_run(
    directory: Path,
    *,
    steps: int = 100,
    every: int = 10,
    stages: Sequence[int] = (0,),
    config: dict[str, Any] | None = None,
    end: str | None = None,
    legacy: bool = False,
    start: float | None = None,
    growth_every: int = 0,
    consolidation_every: int = 0,
    milestones: Sequence[tuple[int, dict[str, bool]]] = (),
    total_steps: int | None = None,
) -> Path:
    """A run of ``steps`` metric lines ``every`` steps apart; ``stages`` are the steps at which
    stage 0, 1, ... begin (stage events); ``end`` writes a ``run_end`` with that status;
    ``legacy`` writes ``training_log.json`` lines without ``event_type`` / ``wall_time`` /
    ``run_start``; ``milestones`` writes one ``metadata_{step}.json`` per entry."""
    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.time() - steps if start is None else start
    lines = []
    if not legacy:
        lines.append(
            _line(
                {
                    "event_type": "run_start",
                    "step": 0,
                    "wall_time": t0,
                    "schema_version": 1,
                    "run_id": directory.name,
                    "resumed_from_step": None,
                    "config": config or {},
                }
            )
        )
    for i in range(steps):
        step = i * every
        wall = t0 + i
        for k, at in enumerate(stages):
            if at == step and not legacy:
                lines.append(
                    _line(
                        {
                            "event_type": "stage",
                            "step": step,
                            "wall_time": wall,
                            "stage": k,
                            "name": f"stage{k}",
                        }
                    )
                )
        record: dict[str, Any] = {
            "step": step,
            "loss": 2.0 - i / steps,
            "performance": i / steps,
            "firing_rate": 0.1,
            "capacity": 0.5,
        }
        if not legacy:
            record = {"event_type": "metric", "wall_time": wall, **record}
        lines.append(_line(record))
        if growth_every and i % growth_every == 0 and not legacy:
            lines.append(
                _line(
                    {
                        "event_type": "growth",
                        "step": step,
                        "wall_time": wall,
                        "region": "cortex",
                        "neurons_added": 8,
                        "new_total": 100 + i,
                        "reason": "capacity",
                    }
                )
            )
        if consolidation_every and i % consolidation_every == 0 and not legacy:
            lines.append(
                _line(
                    {
                        "event_type": "consolidation",
                        "step": step,
                        "wall_time": wall,
                        "sleep_stage": "NREM" if i % 2 else "REM",
                        "patterns_replayed": 5,
                        "duration_steps": 3,
                    }
                )
            )
    if end is not None:
        lines.append(
            _line(
                {
                    "event_type": "run_end",
                    "step": (steps - 1) * every,
                    "wall_time": t0 + steps,
                    "status": end,
                }
            )
        )
    name = "training_log.json" if legacy else "training_log.jsonl"
    (directory / name).write_text("".join(lines), encoding="utf-8")
    for step, passed in milestones:
        meta = {
            "current_stage": len(stages) - 1,
            "step": step,
            "current_week": 1,
            "total_weeks": 4,
            "metrics": {"performance": step / (steps * every)},
            "milestones": passed,
            "warnings": [],
        }
        if total_steps is not None:
            meta["total_steps"] = total_steps
        (directory / f"metadata_{step}.json").write_text(json.dumps(meta), encoding="utf-8")
    return directory


def append_metric(directory: Path, step: int, loss: float, *, stage: int | None = None) -> None:
    """Append one metric line (and a stage event first when ``stage`` is given)."""
    with (directory / "training_log.jsonl").open("a", encoding="utf-8") as fh:
        if stage is not None:
            fh.write(
                _line(
                    {
                        "event_type": "stage",
                        "step": step,
                        "wall_time": time.time(),
                        "stage": stage,
                        "name": f"stage{stage}",
                    }
                )
            )
        fh.write(
            _line(
                {
                    "event_type": "metric",
                    "step": step,
                    "wall_time": time.time(),
                    "loss": loss,
                    "performance": 0.5,
                }
            )
        )
