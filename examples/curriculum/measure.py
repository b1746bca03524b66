"""What the trainer measures on a batch: accuracy, loss, firing rate, capacity, dead units.

Pure functions of a model and a batch; ``thalia_logging.torch_support`` supplies the
population statistics (firing rate, dead-unit fraction), ``growth.region_capacity`` the
capacity. Nothing here logs or updates weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from thalia_logging.torch_support import dead_unit_fraction, firing_rate

from .growth import region_capacity
from .model import RegionMLP

__all__ = ["BatchStats", "accuracy", "batch_stats", "evaluate"]


@dataclass(frozen=True)
class BatchStats:
    """Measures of one batch: the fields of a metric line, as plain floats and ints."""

    loss: float
    accuracy: float
    firing_rate: float
    capacity: float
    capacity_by_region: dict[str, float]
    dead_fraction: float
    neuron_counts: dict[str, int]
    dead_by_region: dict[str, float] = field(default_factory=dict)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(dim=1) == y).float().mean().item())


def batch_stats(
    model: RegionMLP,
    logits: torch.Tensor,
    acts: dict[str, torch.Tensor],
    y: torch.Tensor,
    loss: torch.Tensor,
    *,
    min_activity: float = 0.05,
) -> BatchStats:
    """Stats from a forward pass already made (``model(x, return_activations=True)``)."""
    with torch.no_grad():
        all_units = torch.cat([a.detach() for a in acts.values()], dim=1)
        by_region = {
            name: region_capacity(a, min_activity=min_activity) for name, a in acts.items()
        }
        widths = model.widths
        used = sum(by_region[name] * widths[name] for name in widths)
        return BatchStats(
            loss=float(loss.detach().item()),
            accuracy=accuracy(logits.detach(), y),
            firing_rate=firing_rate(all_units),
            capacity=used / max(sum(widths.values()), 1),
            capacity_by_region=by_region,
            dead_fraction=dead_unit_fraction(all_units),
            neuron_counts=widths,
            dead_by_region={name: dead_unit_fraction(a) for name, a in acts.items()},
        )


@torch.no_grad()
def evaluate(
    model: RegionMLP, x: torch.Tensor, y: torch.Tensor, *, device: torch.device
) -> BatchStats:
    """Stats of the model on a fixed set, in eval mode, without touching gradients."""
    was_training = model.training
    model.eval()
    try:
        x, y = x.to(device), y.to(device)
        out = model(x, return_activations=True)
        assert isinstance(out, tuple)
        logits, acts = out
        loss = nn.functional.cross_entropy(logits, y)
        return batch_stats(model, logits, acts, y, loss)
    finally:
        model.train(was_training)
