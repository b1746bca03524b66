"""Sleep consolidation: replay stored examples of the stages seen so far, to fight forgetting.

A night has two phases, in the order sleep has them:

* **NREM**: clean replay. Stored examples are replayed as they were seen, with a gentler learning
  rate, which rehearses the earlier stages' decision boundaries.
* **REM**: noisy replay. The same examples with Gaussian input noise, which smooths the
  boundaries around them (a cheap stand-in for dreaming up nearby variations).

Each phase takes ``steps`` optimizer steps of ``batch_size`` examples; both count as training
steps of the run, so the caller advances its step counter by ``duration_steps``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .data import ReplayBuffer
from .model import RegionMLP

__all__ = ["SleepPhase", "SleepResult", "sleep_phase"]

SleepStage = Literal["NREM", "REM"]


@dataclass(frozen=True)
class SleepPhase:
    """How one phase replays: ``noise_std`` 0 is clean (NREM), above 0 noisy (REM)."""

    sleep_stage: SleepStage
    steps: int
    batch_size: int
    noise_std: float = 0.0
    lr_scale: float = 0.5


@dataclass(frozen=True)
class SleepResult:
    """What a phase did, in the fields of a ``consolidation`` event, plus its mean loss."""

    sleep_stage: SleepStage
    patterns_replayed: int
    duration_steps: int
    mean_loss: float


def sleep_phase(
    model: RegionMLP,
    optimizer: torch.optim.Optimizer,
    buffer: ReplayBuffer,
    phase: SleepPhase,
    *,
    generator: torch.Generator,
    device: torch.device,
) -> SleepResult:
    """Run one phase on ``model`` with ``optimizer``; learning rates are restored afterwards."""
    if len(buffer) == 0 or phase.steps <= 0:
        return SleepResult(phase.sleep_stage, 0, 0, float("nan"))
    loss_fn = nn.CrossEntropyLoss()
    saved = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * phase.lr_scale
    total = 0.0
    model.train()
    try:
        for _ in range(phase.steps):
            x, y = buffer.sample(phase.batch_size, generator=generator)
            if phase.noise_std > 0:
                x = x + phase.noise_std * torch.randn(x.shape, generator=generator)
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model.logits(x), y)
            loss.backward()
            optimizer.step()
            total += float(loss.item())
    finally:
        for group, lr in zip(optimizer.param_groups, saved, strict=True):
            group["lr"] = lr
    return SleepResult(
        phase.sleep_stage,
        patterns_replayed=phase.steps * phase.batch_size,
        duration_steps=phase.steps,
        mean_loss=total / phase.steps,
    )
