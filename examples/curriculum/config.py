"""Settings of a curriculum run, with the defaults (about a minute on a CPU) and ``--quick``."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .data import DEFAULT_STAGES

__all__ = ["MAX_SEED", "REGIONS", "TrainConfig", "device_problem", "parse_args"]

MAX_SEED = 2**31 - 1  # the seed is scaled for the data generators: keep it within torch's range

REGIONS: tuple[str, ...] = ("sensory", "association", "motor")


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a run. ``as_json`` is what the logger's ``run_start`` line records."""

    log_dir: Path = Path("checkpoints/curriculum")
    seed: int = 0
    stages: int = len(DEFAULT_STAGES)
    weeks_per_stage: int = 4
    steps_per_week: int = 1000
    batch_size: int = 256
    input_dim: int = 20
    initial_width: int = 12
    max_width: int = 96
    lr: float = 0.05
    momentum: float = 0.9
    log_every: int = 10
    replay_per_stage: int = 512
    nrem_steps: int = 30
    rem_steps: int = 20
    rem_noise: float = 0.3
    saturation: float = 0.9
    keep_checkpoints: int = 3
    step_delay: float = 0.0
    device: str = "cpu"
    console_log: bool = True

    @classmethod
    def quick(cls, **overrides: Any) -> TrainConfig:
        """A few seconds: three stages of two short weeks, small replay phases."""
        base = cls(
            stages=3, weeks_per_stage=2, steps_per_week=60, batch_size=64, initial_width=8,
            max_width=32, log_every=5, replay_per_stage=128, nrem_steps=8, rem_steps=6,
        )  # fmt: skip
        return replace(base, **overrides)

    def as_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        description="Train a growing region MLP through a synthetic curriculum, logging with "
        "thalia_logging.CurriculumLogger (watch it with: thalia-dashboard LOG_DIR).",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=TrainConfig.log_dir,
        help="checkpoint directory (logs, metadata, checkpoint_*.pt)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a run of a few seconds (tests)")
    parser.add_argument("--stages", type=int, help=f"1-{len(DEFAULT_STAGES)} curriculum stages")
    parser.add_argument("--weeks-per-stage", type=int)
    parser.add_argument("--steps-per-week", type=int)
    parser.add_argument(
        "--step-delay",
        type=float,
        default=0.0,
        help="seconds to pause after each step, to watch a run live",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--quiet", action="store_true", help="no console output")
    ns = parser.parse_args(argv)
    overrides: dict[str, Any] = {
        "log_dir": ns.log_dir, "seed": ns.seed, "step_delay": ns.step_delay,
        "device": ns.device, "console_log": not ns.quiet,
    }  # fmt: skip
    for name in ("stages", "weeks_per_stage", "steps_per_week"):
        if getattr(ns, name) is not None:
            overrides[name] = getattr(ns, name)
    config = TrainConfig.quick(**overrides) if ns.quick else replace(TrainConfig(), **overrides)
    if not 1 <= config.stages <= len(DEFAULT_STAGES):
        parser.error(f"--stages must be between 1 and {len(DEFAULT_STAGES)}")
    if min(config.weeks_per_stage, config.steps_per_week) < 1:
        parser.error("--weeks-per-stage and --steps-per-week must be at least 1")
    if not 0 <= config.seed <= MAX_SEED:
        parser.error(f"--seed must be between 0 and {MAX_SEED}, got {config.seed}")
    if not config.step_delay >= 0:
        parser.error(f"--step-delay must be 0 or more seconds, got {config.step_delay}")
    if config.log_dir.exists() and not config.log_dir.is_dir():
        parser.error(f"--log-dir {config.log_dir} is a file, not a directory")
    problem = device_problem(config.device)
    if problem:
        parser.error(problem)
    return config


def device_problem(device: str) -> str | None:
    """Why torch cannot train on ``device`` here (unknown name, no CUDA, no MPS), or None."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        return f"--device {device!r} is not a torch device (e.g. cpu, cuda, cuda:1)"
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return f"--device {device}: this torch has no usable CUDA GPU; use --device cpu"
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            return f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here"
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        return f"--device {device}: MPS is not available here; use --device cpu"
    elif dev.type not in ("cpu", "cuda", "mps"):
        return f"--device {device}: only cpu, cuda and mps are supported"
    return None
