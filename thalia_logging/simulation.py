"""A simulated curriculum run, as pure data: what ``thalia-demo`` writes, without the pacing.

:func:`simulate` yields :class:`DemoEvent` records in the order a trainer would log them: a
``stage`` event when a curriculum stage begins, then per metric line (every ``stride`` steps) the
``metrics``, any ``growth`` events for regions whose capacity saturated, a ``consolidation``
(NREM, followed one line later by REM) every eighth of a stage, and a ``metadata`` checkpoint
every fifth of a stage and at the last step. All dynamics are expressed in fractions of a stage,
so a run of a few dozen lines shows every kind of event just like a long one.

Contract: the same :class:`DemoConfig` (seed included) always yields the same events; no clock,
no I/O, no global random state. Field names and types follow ``schemas/`` (the demo writer
passes them straight to ``CurriculumLogger``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CHECKPOINTS_PER_STAGE",
    "GROWTH_THRESHOLD",
    "REGIONS",
    "SLEEPS_PER_STAGE",
    "STAGES",
    "WEEKS_PER_STAGE",
    "DemoConfig",
    "DemoConfigError",
    "DemoEvent",
    "EventKind",
    "StageSpec",
    "distinct_digits",
    "simulate",
]

EventKind = Literal["stage", "metrics", "growth", "consolidation", "metadata"]

GROWTH_THRESHOLD = 0.92
WEEKS_PER_STAGE = 4
CHECKPOINTS_PER_STAGE = 5
SLEEPS_PER_STAGE = 8


class DemoConfigError(ValueError):
    """The demo cannot simulate with these settings; the message says which value to change."""


@dataclass(frozen=True)
class StageSpec:
    """One curriculum stage: its name, milestones (name, performance needed) and curve shapes."""

    name: str
    milestones: tuple[tuple[str, float], ...]
    loss_start: float
    loss_floor: float
    perf_start: float
    perf_peak: float


STAGES: tuple[StageSpec, ...] = (
    StageSpec("sensorimotor", (("motor_control", 0.55), ("mnist_accuracy", 0.75),
                               ("sequence_prediction", 0.86)), 2.3, 0.45, 0.10, 0.93),
    StageSpec("phonology", (("phoneme_discrimination", 0.60), ("syllable_segmentation", 0.75),
                            ("word_recognition", 0.86)), 1.7, 0.38, 0.25, 0.91),
    StageSpec("grammar", (("word_order", 0.60), ("subject_verb_agreement", 0.75),
                          ("sentence_completion", 0.86)), 1.4, 0.32, 0.30, 0.89),
    StageSpec("reading", (("letter_recognition", 0.60), ("word_reading", 0.75),
                          ("reading_comprehension", 0.90)), 1.2, 0.28, 0.35, 0.88),
)  # fmt: skip

# region -> (initial neurons, initial capacity, capacity load gained per stage)
REGIONS: Mapping[str, tuple[int, float, float]] = {
    "cortex": (4096, 0.60, 0.45),
    "hippocampus": (1024, 0.72, 0.6),
    "thalamus": (512, 0.40, 0.2),
    "striatum": (768, 0.50, 0.3),
    "cerebellum": (2048, 0.35, 0.25),
}


@dataclass(frozen=True)
class DemoConfig:
    """How long the simulated run is (``total_steps``), how often it logs, and its seed."""

    total_steps: int = 200_000
    seed: int = 0
    stride: int = 100

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise DemoConfigError(f"stride must be a positive number of steps, got {self.stride}")
        minimum = 2 * len(STAGES) * self.stride
        if self.total_steps < minimum:
            raise DemoConfigError(
                f"--steps must be at least {minimum} (two metric lines of {self.stride} steps "
                f"per stage, {len(STAGES)} stages); got {self.total_steps}"
            )

    @property
    def stage_len(self) -> float:
        return self.total_steps / len(STAGES)


@dataclass(frozen=True)
class DemoEvent:
    """One thing to log: ``kind`` names the CurriculumLogger call, ``fields`` its arguments."""

    kind: EventKind
    step: int
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _World:
    rng: random.Random
    neurons: dict[str, int]
    cap: dict[str, float]
    passed: dict[str, bool] = field(default_factory=dict)
    lines_since_growth: int = 99
    rem_due: bool = False


def _lr(stage: int, p: float) -> float:
    peak = 1e-3 * 0.7**stage
    if p < 0.05:
        return peak * max(p / 0.05, 0.02)
    return 1e-5 + 0.5 * (peak - 1e-5) * (1 + math.cos(math.pi * (p - 0.05) / 0.95))


def _metrics(w: _World, stage: int, p: float, first_lines: bool) -> dict[str, Any]:
    spec, g = STAGES[stage], w.rng.gauss
    smooth_loss = spec.loss_floor + (spec.loss_start - spec.loss_floor) * math.exp(-3.5 * p)
    perf = spec.perf_start + (spec.perf_peak - spec.perf_start) * (1 - math.exp(-4 * p))
    total = sum(w.neurons.values())
    spike = 2.0 if first_lines else 1.0
    return {
        "firing_rate": round(0.1 + g(0, 0.006) + 0.02 * math.exp(-w.lines_since_growth / 3), 5),
        "capacity": round(sum(w.cap[r] * w.neurons[r] for r in REGIONS) / total, 5),
        "performance": round(min(1.0, max(0.0, perf + g(0, 0.012))), 5),
        "loss": round(smooth_loss * math.exp(g(0, 0.04)), 5),
        "neuron_counts": dict(w.neurons),
        "capacity_by_region": {r: round(c, 5) for r, c in w.cap.items()},
        "lr": float(f"{_lr(stage, p):.4g}"),
        "grad_norm": round((0.4 + 1.5 * smooth_loss) * spike * math.exp(g(0, 0.15)), 5),
        "val_loss": round(smooth_loss * 1.05 * math.exp(g(0, 0.03)), 5),
    }


def distinct_digits(value: float, threshold: float, digits: int = 3) -> tuple[str, str]:
    """``value`` and ``threshold`` with the same number of decimals (``digits`` or more), as
    many as it takes for two different numbers to print differently: "0.9204" and "0.9200",
    never "0.920 > 0.92"."""
    while digits < 12:
        a, b = f"{value:.{digits}f}", f"{threshold:.{digits}f}"
        if a != b or value == threshold:
            return a, b
        digits += 1
    return repr(value), repr(threshold)


def _grow(w: _World, step: int) -> Iterator[DemoEvent]:
    for region in REGIONS:
        if w.cap[region] <= GROWTH_THRESHOLD:
            continue
        old = w.neurons[region]
        added = max(32, round(old * w.rng.uniform(0.15, 0.3) / 32) * 32)
        reason = "capacity {} > {}".format(*distinct_digits(w.cap[region], GROWTH_THRESHOLD))
        w.neurons[region] = old + added
        w.cap[region] *= old / (old + added)
        w.lines_since_growth = 0
        yield DemoEvent("growth", step, {"region": region, "neurons_added": added,
                                         "new_total": old + added, "reason": reason})  # fmt: skip


def _warnings(w: _World, stage: int) -> list[Any]:
    if w.rng.random() >= 0.3:
        return []
    region = max(w.cap, key=lambda r: w.cap[r])
    choices: list[Any] = [
        {"severity": "warning", "message": f"{region} capacity at {w.cap[region]:.2f}: "
                                           "growth expected soon"},
        {"severity": "info", "message": f"learning rate now {_lr(stage, 0.5):.2g} at mid-stage"},
        "gradient clipping was active on 2% of recent steps",
    ]  # fmt: skip
    return [w.rng.choice(choices)]


def simulate(config: DemoConfig) -> Iterator[DemoEvent]:
    """The whole run's events in logging order (see the module docstring)."""
    w = _World(
        rng=random.Random(config.seed),
        neurons={r: n for r, (n, _, _) in REGIONS.items()},
        cap={r: c for r, (_, c, _) in REGIONS.items()},
    )
    n_stages, stride = len(STAGES), config.stride
    stage_len = config.stage_len
    dt = stride / stage_len
    ckpt_every = max(stride, round(stage_len / CHECKPOINTS_PER_STAGE / stride) * stride)
    sleep_every = max(2 * stride, round(stage_len / SLEEPS_PER_STAGE / stride) * stride)
    current = -1
    lines_in_stage = 0
    for step in range(0, config.total_steps + 1, stride):
        stage = min(int(step / stage_len), n_stages - 1)
        p = min(1.0, (step - stage * stage_len) / stage_len)
        if stage != current:
            current, lines_in_stage = stage, 0
            yield DemoEvent("stage", step, {"stage": stage, "name": STAGES[stage].name})
            for r in w.cap:  # new material loads every region a little
                w.cap[r] = min(0.99, w.cap[r] + 0.05)
        else:
            for r, (_, _, rate) in REGIONS.items():
                w.cap[r] = min(0.99, w.cap[r] + rate * dt * w.rng.uniform(0.5, 1.5))
        metrics = _metrics(w, stage, p, first_lines=lines_in_stage < 2)
        yield DemoEvent("metrics", step, metrics)
        lines_in_stage += 1
        w.lines_since_growth += 1
        yield from _grow(w, step)
        if w.rem_due:
            w.rem_due = False
            yield DemoEvent("consolidation", step, {"sleep_stage": "REM",
                            "patterns_replayed": w.rng.randint(40, 120),
                            "duration_steps": w.rng.randint(50, 120)})  # fmt: skip
        elif step > 0 and step % sleep_every == 0:
            w.rem_due = True
            yield DemoEvent("consolidation", step, {"sleep_stage": "NREM",
                            "patterns_replayed": w.rng.randint(120, 320),
                            "duration_steps": w.rng.randint(150, 300)})  # fmt: skip
        last = step + stride > config.total_steps
        if (step > 0 and step % ckpt_every == 0) or last:
            yield _metadata(w, config, step, stage, p, metrics)


def _metadata(
    w: _World, config: DemoConfig, step: int, stage: int, p: float, metrics: Mapping[str, Any]
) -> DemoEvent:
    spec = STAGES[stage]
    for name, needed in spec.milestones:
        w.passed[name] = w.passed.get(name, False) or metrics["performance"] >= needed
    return DemoEvent("metadata", step, {
        "current_stage": stage,
        "current_week": min(WEEKS_PER_STAGE, 1 + int(p * WEEKS_PER_STAGE)),
        "total_weeks": WEEKS_PER_STAGE,
        "metrics": {k: metrics[k] for k in ("firing_rate", "capacity", "performance", "loss")},
        "milestones": {name: w.passed[name] for name, _ in spec.milestones},
        "warnings": _warnings(w, stage),
        "stage_name": spec.name,
        "total_stages": len(STAGES),
        "total_steps": config.total_steps,
    })  # fmt: skip
