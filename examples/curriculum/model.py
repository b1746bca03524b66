"""A multilayer perceptron whose hidden layers are named brain "regions" that can grow.

Growth is Net2Net-style widening (Chen, Goodfellow & Shlens, 2016): the new units are copies of
existing ones (same incoming weights and bias), and the outgoing weights of each copied unit are
split between the unit and its copies. With ReLU, a copy fires exactly like its original, so the
network computes the same function right after growth (up to float rounding). The split is
random (positive shares summing to one) rather than even, so the copies get different gradients
and drift apart instead of staying clones forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

import torch
from torch import nn

__all__ = ["GrowthError", "RegionMLP"]


class GrowthError(ValueError):
    """A widening request that cannot be applied (unknown region or a bad unit count)."""


class RegionMLP(nn.Module):
    """``input -> region_1 -> ... -> region_k -> head`` with ReLU after every region.

    Contract: ``widths`` maps region name to unit count, in layer order, and is kept in step
    with the layers by ``widen`` (so a checkpoint can rebuild the same shapes from it before
    ``load_state_dict``). ``forward`` returns logits, or ``(logits, {region: activations})``
    with post-ReLU activations shaped ``(batch, units)`` when ``return_activations`` is true.
    ``widen`` replaces two ``nn.Linear`` modules, so any optimizer holding the old parameters
    must be rebuilt afterwards.
    """

    def __init__(self, input_dim: int, widths: Mapping[str, int], output_dim: int) -> None:
        super().__init__()
        if not widths:
            raise GrowthError("RegionMLP needs at least one region, e.g. {'sensory': 16}")
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.region_names: list[str] = list(widths)
        sizes = [input_dim, *(int(w) for w in widths.values())]
        self.regions = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
        self.head = nn.Linear(sizes[-1], output_dim)

    @property
    def widths(self) -> dict[str, int]:
        """Current unit count per region, in layer order."""
        return {name: self._region(i).out_features for i, name in enumerate(self.region_names)}

    def _region(self, index: int) -> nn.Linear:
        layer = self.regions[index]
        assert isinstance(layer, nn.Linear)
        return layer

    def forward(
        self, x: torch.Tensor, return_activations: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        acts: dict[str, torch.Tensor] = {}
        h = x
        for name, layer in zip(self.region_names, self.regions, strict=True):
            h = torch.relu(layer(h))
            acts[name] = h
        logits = self.head(h)
        return (logits, acts) if return_activations else logits

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``forward`` without activations, typed as a tensor."""
        out = self.forward(x)
        assert isinstance(out, torch.Tensor)
        return out

    def _outgoing(self, index: int) -> nn.Linear:
        layer = self.head if index == len(self.regions) - 1 else self.regions[index + 1]
        assert isinstance(layer, nn.Linear)
        return layer

    @torch.no_grad()
    def widen(self, region: str, n_new: int, *, generator: torch.Generator | None = None) -> None:
        """Add ``n_new`` units to ``region`` without changing the function computed.

        Units to copy are drawn uniformly with ``generator`` (so a seeded run grows the same
        way each time); a unit may be copied more than once.
        """
        if region not in self.region_names:
            raise GrowthError(f"unknown region {region!r}; the regions are {self.region_names}")
        if n_new <= 0:
            raise GrowthError(f"n_new must be a positive number of units, got {n_new}")
        i = self.region_names.index(region)
        incoming = self.regions[i]
        outgoing = self._outgoing(i)
        assert isinstance(incoming, nn.Linear)
        old = incoming.out_features
        src = torch.randint(0, old, (n_new,), generator=generator)
        # Group every unit with its copies; give each member a random positive share.
        owner = torch.cat([torch.arange(old), src])
        shares = torch.rand(old + n_new, generator=generator) + 0.5
        totals = torch.zeros(old).index_add_(0, owner, shares)
        fraction = (shares / totals[owner]).to(outgoing.weight.dtype)

        new_in = nn.Linear(incoming.in_features, old + n_new).to(incoming.weight.device)
        new_in.weight.copy_(incoming.weight[owner])
        new_in.bias.copy_(incoming.bias[owner])
        new_out = nn.Linear(old + n_new, outgoing.out_features).to(outgoing.weight.device)
        dev = outgoing.weight.device
        new_out.weight.copy_(outgoing.weight[:, owner.to(dev)] * fraction.to(dev))
        new_out.bias.copy_(outgoing.bias)

        self.regions[i] = new_in
        if i == len(self.regions) - 1:
            self.head = new_out
        else:
            self.regions[i + 1] = new_out
