"""A small library of realistic training runs, healthy and faulty, written by an independent
writer (plain ``json``, not our logger), and the recall / false-alarm figures of the health checks
on them.

Each writer fills a checkpoint directory with a ``training_log.jsonl`` (and a metadata file) in
the shape real Thalia runs have: curriculum stages with a loss jump at every stage change,
multiplicative batch noise, a validation evaluation every few hundred steps, an ``lr`` schedule,
``grad_norm``, firing rate and capacity. A fault scenario names the check it must fire (a text
every message of that check holds); a healthy scenario must fire nothing above ``info``.

Used by ``tests/dashboard/analysis/test_scenarios.py`` (asserts) and
``benchmarks/bench_diagnosis.py`` (prints the table).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dashboard.analysis.health import check_health
from dashboard.reading.watcher import load_training_state
from dashboard.run_state import HealthWarning

__all__ = ["SCENARIOS", "Result", "Scenario", "evaluate", "table"]

T0 = 1_700_000_000.0
EVERY = 50  # steps between metric lines
EVAL_EVERY = 500  # steps between validation evaluations
SEVERITY = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Scenario:
    name: str
    write: Callable[[Path], float]  # writes the run, returns "now" for check_health
    expected: str | None  # a text of the check that must fire (None: a healthy run)
    fault: str = ""


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    fired: tuple[tuple[str, str], ...]  # (severity, message) of every warning above info
    detected: bool  # the expected check fired (fault) / nothing above info fired (healthy)


def _value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, np.floating):
        return _value(float(v))
    return v


def _write(
    directory: Path, lines: list[dict[str, Any]], *, total_steps: int | None = None
) -> float:
    """Write the lines (sorted by step, as a logger does) and a metadata file; return the wall
    time of the last line + 5 s (a live run that just wrote)."""
    directory.mkdir(parents=True, exist_ok=True)
    lines.sort(key=lambda r: r["step"])
    with (directory / "training_log.jsonl").open("w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps({k: _value(v) for k, v in line.items()}) + "\n")
    last = lines[-1]["step"]
    meta: dict[str, Any] = {
        "current_stage": 0,
        "step": last,
        "current_week": 1,
        "total_weeks": 4,
        "metrics": {},
        "milestones": {},
        "warnings": [],
    }
    if total_steps is not None:
        meta["total_steps"] = total_steps
    (directory / f"metadata_{last}.json").write_text(json.dumps(meta), encoding="utf-8")
    written = max(float(r["wall_time"]) for r in lines)
    for path in directory.iterdir():  # the files were written when the trainer wrote them
        os.utime(path, (written, written))
    return written + 5.0


def _run(
    *,
    stages: int = 3,
    stage_steps: int = 3000,
    seed: int = 0,
    noise: float = 0.05,
    start: float = 2.0,
    floor: float = 0.15,
    decay: float = 4.0,
    loss_fn: Callable[[int, int, float], float] | None = None,
    val: bool = True,
    extra: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """A curriculum run: per stage the loss decays from ``start`` (+30 % per stage: each stage is
    harder) to ``floor`` with multiplicative noise; ``loss_fn(stage, step_in_stage, loss)`` and
    ``extra(stage, step_in_stage, line)`` change it for a fault."""
    rng = np.random.default_rng(seed)
    lines: list[dict[str, Any]] = []
    for stage in range(stages):
        first = stage * stage_steps
        lines.append(
            {
                "event_type": "stage",
                "step": first,
                "wall_time": T0 + first * 0.01,
                "stage": stage,
                "name": f"stage-{stage}",
            }
        )
        level0 = start * (1.3**stage)
        for k in range(0, stage_steps, EVERY):
            step = first + k
            frac = k / stage_steps
            clean = floor + (level0 - floor) * math.exp(-decay * frac)
            loss = clean * float(rng.lognormal(0.0, noise))
            if loss_fn is not None:
                loss = loss_fn(stage, k, loss)
            perf = min(0.97, 0.3 + 0.6 * (1 - math.exp(-decay * frac)))
            line: dict[str, Any] = {
                "event_type": "metric",
                "step": step,
                "wall_time": T0 + step * 0.01,
                "loss": loss,
                "performance": perf,
                "firing_rate": 0.08 + 0.01 * rng.random(),
                "capacity": 0.4 + 0.3 * frac,
                "lr": 1e-3 if frac < 0.6 else 5e-4,
                "grad_norm": 1.0 + 0.2 * rng.random(),
                "dead_unit_fraction": 0.05,
            }
            if val and k % EVAL_EVERY == EVAL_EVERY - EVERY:
                line["val_loss"] = clean * 1.08 * float(rng.lognormal(0.0, noise / 3))
                line["val_performance"] = perf - 0.03
            if extra is not None:
                extra(stage, k, line)
            lines.append(line)
    return lines


def healthy_curriculum(d: Path) -> float:
    return _write(d, _run(seed=1), total_steps=20_000)


def healthy_noisy_long(d: Path) -> float:
    """One long stage, 15 % batch noise, a cosine lr: noisy but fine."""

    def lr(stage: int, k: int, line: dict[str, Any]) -> None:
        line["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * k / 20_000))

    return _write(d, _run(stages=1, stage_steps=20_000, seed=2, noise=0.15, extra=lr))


def healthy_finished(d: Path) -> float:
    """A finished run read an hour later: no stall, nothing above info."""
    lines = _run(seed=3)
    return _write(d, lines, total_steps=lines[-1]["step"]) + 3600


def late_divergence(d: Path) -> float:
    """Stage 2 learns to ~0.2, then the loss climbs to ~1.6 over the last 600 steps (8× its best,
    under the stage's first losses)."""

    def loss(stage: int, k: int, value: float) -> float:
        return value * (1 + 9 * (k - 2400) / 600) if stage == 2 and k >= 2400 else value

    return _write(d, _run(seed=4, loss_fn=loss))


def nan_then_recovery(d: Path) -> float:
    def loss(stage: int, k: int, value: float) -> float:
        return math.nan if stage == 1 and k in (1000, 1050) else value

    return _write(d, _run(seed=5, loss_fn=loss))


def nan_diverged(d: Path) -> float:
    def loss(stage: int, k: int, value: float) -> float:
        return math.nan if stage == 2 and k >= 2000 else value

    return _write(d, _run(seed=6, loss_fn=loss))


def dead_units(d: Path) -> float:
    def extra(stage: int, k: int, line: dict[str, Any]) -> None:
        line["dead_unit_fraction.cortex"] = 0.1 + (0.7 * k / 3000 if stage == 2 else 0.0)
        line["dead_unit_fraction.hippocampus"] = 0.08

    return _write(d, _run(seed=7, extra=extra))


def overfitting(d: Path) -> float:
    """In the last stage the validation loss turns up while the training loss keeps falling, and
    validation performance falls behind."""

    def extra(stage: int, k: int, line: dict[str, Any]) -> None:
        if stage == 2 and k >= 900 and "val_loss" in line:
            line["val_loss"] = 0.45 + 0.1 * (k - 950) / 500
        if stage == 2 and k >= 1500 and "val_loss" in line:
            line["val_performance"] = line["performance"] - 0.03 - 0.12 * (k - 1500) / 1500

    return _write(d, _run(seed=8, extra=extra))


def underfitting(d: Path) -> float:
    """The network is too small: the loss stops at ~1.4 and performance at ~40 %."""

    def extra(stage: int, k: int, line: dict[str, Any]) -> None:
        line["performance"] = min(line["performance"], 0.4)

    return _write(d, _run(seed=9, floor=1.4, decay=25.0, extra=extra))


def instability(d: Path) -> float:
    """lr too high in the last stage: the loss swings by a factor of ~3 batch to batch."""
    rng = np.random.default_rng(10)

    def loss(stage: int, k: int, value: float) -> float:
        return value * float(rng.lognormal(0.0, 0.9)) if stage == 2 and k >= 1500 else value

    return _write(d, _run(seed=10, loss_fn=loss))


def no_improvement(d: Path) -> float:
    """The validation loss stops improving for the last 8 evaluations of a long stage, noisy
    around its best (neither rising steadily nor better)."""
    rng = np.random.default_rng(11)

    def extra(stage: int, k: int, line: dict[str, Any]) -> None:
        if "val_loss" in line and k >= 6000:
            line["val_loss"] = 0.42 + 0.02 * float(rng.random())
        elif "val_loss" in line and 5000 <= k < 6000:
            line["val_loss"] = 0.41

    return _write(d, _run(stages=1, stage_steps=10_000, seed=11, extra=extra))


def vanishing_gradients(d: Path) -> float:
    def extra(stage: int, k: int, line: dict[str, Any]) -> None:
        if stage == 2:
            line["grad_norm"] = 10 ** (-9 * k / 2950)

    return _write(d, _run(seed=12, extra=extra))


def exploding_gradients(d: Path) -> float:
    def extra(stage: int, k: int, line: dict[str, Any]) -> None:
        if stage == 2 and k >= 2500:
            line["grad_norm"] = 10 ** (1 + 4 * (k - 2500) / 450)

    return _write(d, _run(seed=13, extra=extra))


def capacity_saturation(d: Path) -> float:
    def extra(stage: int, k: int, line: dict[str, Any]) -> None:
        line["capacity"] = min(0.99, 0.6 + 0.4 * (stage * 3000 + k) / 9000)

    return _write(d, _run(seed=14, extra=extra))


def stalled(d: Path) -> float:
    """A healthy run whose trainer stopped writing 30 minutes ago, before its last step."""
    return _write(d, _run(seed=15), total_steps=50_000) + 1800


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy curriculum", healthy_curriculum, None),
    Scenario("healthy noisy long stage", healthy_noisy_long, None),
    Scenario("healthy finished run", healthy_finished, None),
    Scenario("late divergence", late_divergence, "Loss is diverging", "divergence"),
    Scenario("NaN then recovery", nan_then_recovery, "recovered since", "recovered NaN"),
    Scenario("NaN, diverged", nan_diverged, "training has diverged", "NaN loss"),
    Scenario("dead units", dead_units, "Dead units", "dead units"),
    Scenario("overfitting", overfitting, "Overfitting", "overfitting"),
    Scenario("underfitting plateau", underfitting, "Underfitting", "underfitting"),
    Scenario("instability", instability, "Instability", "instability"),
    Scenario("no improvement", no_improvement, "No improvement", "no improvement"),
    Scenario("vanishing gradients", vanishing_gradients, "Vanishing gradients", "vanishing"),
    Scenario("exploding gradients", exploding_gradients, "Exploding gradients", "exploding"),
    Scenario("capacity saturation", capacity_saturation, "saturated", "capacity"),
    Scenario("stalled trainer", stalled, "No new data", "stall"),
)


Checker = Callable[..., list[HealthWarning]]


def evaluate(
    root: Path, scenarios: tuple[Scenario, ...] = SCENARIOS, *, checker: Checker = check_health
) -> list[Result]:
    """Write every scenario under ``root`` and run
    ``checker`` (the health checks) on what the reader reads."""
    results = []
    for i, scenario in enumerate(scenarios):
        directory = root / f"{i:02d}"
        now = scenario.write(directory)
        warnings = checker(load_training_state(directory), now=now)
        fired = tuple((w.severity, w.message) for w in warnings if w.severity != "info")
        if scenario.expected is None:
            detected = not fired
        else:
            detected = any(scenario.expected in message for _, message in fired)
        results.append(Result(scenario, fired, detected))
    return results


def table(results: list[Result]) -> str:
    """The recall / false-alarm table as text."""
    faults = [r for r in results if r.scenario.expected is not None]
    healthy = [r for r in results if r.scenario.expected is None]
    rows = [f"{'scenario':<26} {'expected check':<22} {'result':<8} fired (above info)"]
    for r in results:
        expected = r.scenario.fault or "nothing above info"
        verdict = (
            ("found" if r.detected else "MISSED")
            if r.scenario.expected
            else ("quiet" if r.detected else "FALSE ALARM")
        )
        fired = "; ".join(f"{s}: {m[:60]}" for s, m in r.fired) or "—"
        rows.append(f"{r.scenario.name:<26} {expected:<22} {verdict:<8} {fired}")
    found = sum(r.detected for r in faults)
    false_alarms = sum(not r.detected for r in healthy)
    extra = sum(sum(1 for _, m in r.fired if r.scenario.expected not in m) for r in faults)
    rows.append("")
    rows.append(f"recall: {found}/{len(faults)} faults found ({found / max(len(faults), 1):.0%})")
    rows.append(
        f"false alarms: {false_alarms}/{len(healthy)} healthy runs with a warning or "
        f"critical; {extra} other warnings on the fault runs"
    )
    return "\n".join(rows)
