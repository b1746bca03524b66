"""Capacity of each region, and the policy that decides when a region grows.

Capacity is the share of a region's units that are *used*: active (ReLU output above zero) on
at least ``min_activity`` of a probe batch. A region near full capacity has no idle units left
to recruit; if the stage's accuracy target is not met either, it gets more units (Net2Net
widening in ``model.RegionMLP.widen``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

__all__ = ["GrowthDecision", "GrowthPolicy", "region_capacity"]


def region_capacity(activations: torch.Tensor, *, min_activity: float = 0.05) -> float:
    """Share of units (columns) active on at least ``min_activity`` of the rows. NaN if empty."""
    if activations.numel() == 0:
        return math.nan
    active_share = (activations.detach() > 0).float().mean(dim=0)
    return float((active_share >= min_activity).float().mean().item())


@dataclass(frozen=True)
class GrowthDecision:
    """Grow ``region`` by ``neurons_added`` units to ``new_total``, for ``reason``."""

    region: str
    neurons_added: int
    new_total: int
    reason: str


@dataclass(frozen=True)
class GrowthPolicy:
    """Decides, once a week, which regions grow.

    Contract: a region grows when its capacity is at least ``saturation`` AND the stage's
    evaluation accuracy is below the stage target AND it is narrower than ``max_width``; it gets
    ``ceil(growth_factor * width)`` units (at least ``min_new``), capped at ``max_width``.
    ``decide`` is a pure function of its arguments, so a resumed run decides the same way.
    """

    saturation: float = 0.9
    growth_factor: float = 0.5
    min_new: int = 4
    max_width: int = 128

    def decide(
        self,
        widths: Mapping[str, int],
        capacity: Mapping[str, float],
        *,
        accuracy: float,
        target: float,
    ) -> list[GrowthDecision]:
        if not accuracy < target:  # also no growth on a NaN accuracy: nothing to learn from
            return []
        decisions = []
        for region, width in widths.items():
            cap = capacity.get(region, math.nan)
            if not cap >= self.saturation or width >= self.max_width:
                continue
            want = max(self.min_new, math.ceil(self.growth_factor * width))
            added = min(want, self.max_width - width)
            reason = (
                f"capacity {cap:.2f} >= {self.saturation:.2f} with accuracy "
                f"{accuracy:.3f} below the stage target {target:.2f}"
            )
            decisions.append(GrowthDecision(region, added, width + added, reason))
        return decisions
