"""Synthetic curriculum data: Gaussian-mixture classification, harder stage by stage.

Every class is a mixture of three Gaussian "modes" at fixed random centres, so the boundaries are
not linear and the hidden regions have real work to do. Stage k uses the first ``n_classes``
classes with a wider ``spread`` (more overlap) than stage k-1. Nothing is downloaded: the centres
and the evaluation sets follow from the seed, and training batches come from a generator whose
state the trainer checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["DEFAULT_STAGES", "ClusterTask", "ReplayBuffer", "StageSpec"]


@dataclass(frozen=True)
class StageSpec:
    """One curriculum stage: its classes, their overlap, and the accuracy milestone to reach."""

    name: str
    n_classes: int
    spread: float
    milestone: str
    target_accuracy: float


DEFAULT_STAGES: tuple[StageSpec, ...] = (
    StageSpec("sensory_orientation", 2, 0.7, "binary_discrimination", 0.95),
    StageSpec("pattern_discrimination", 4, 0.9, "four_way_discrimination", 0.90),
    StageSpec("categorisation", 6, 1.1, "six_way_categorisation", 0.85),
    StageSpec("fine_discrimination", 8, 1.3, "fine_grained_recognition", 0.80),
)


class ClusterTask:
    """Draws labelled batches for any stage of a fixed family of Gaussian-mixture classes.

    Contract: the class centres depend only on ``seed`` (so a resumed run sees the same
    problem), ``eval_set(stage)`` is the same fixed set on every call, and ``batch`` draws from
    the caller's generator only (its state is the caller's to checkpoint).
    """

    modes_per_class = 3

    def __init__(self, *, input_dim: int, n_classes: int, seed: int, eval_size: int = 512) -> None:
        self.input_dim = input_dim
        self.n_classes = n_classes
        self.seed = seed
        self.eval_size = eval_size
        g = torch.Generator().manual_seed(seed * 7919 + 17)
        self.centres = torch.randn(n_classes, self.modes_per_class, input_dim, generator=g)
        self._eval_cache: dict[tuple[int, float], tuple[torch.Tensor, torch.Tensor]] = {}

    def batch(
        self, spec: StageSpec, size: int, *, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` samples ``(x, y)`` of the stage's classes, drawn with ``generator``."""
        if spec.n_classes > self.n_classes:
            raise ValueError(
                f"stage {spec.name!r} needs {spec.n_classes} classes but the task has "
                f"{self.n_classes}; raise n_classes when building ClusterTask"
            )
        y = torch.randint(0, spec.n_classes, (size,), generator=generator)
        mode = torch.randint(0, self.modes_per_class, (size,), generator=generator)
        noise = torch.randn(size, self.input_dim, generator=generator)
        return self.centres[y, mode] + spec.spread * noise, y

    def eval_set(self, spec: StageSpec) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed held-out set for the stage (same samples on every call and every run)."""
        key = (spec.n_classes, spec.spread)
        if key not in self._eval_cache:
            g = torch.Generator().manual_seed(self.seed * 104729 + spec.n_classes)
            self._eval_cache[key] = self.batch(spec, self.eval_size, generator=g)
        return self._eval_cache[key]


class ReplayBuffer:
    """Stored examples per stage, for consolidation (sleep replay) of earlier stages.

    Contract: at most ``per_stage`` examples are kept for each stage (the first ones offered);
    ``sample`` draws uniformly over all stored examples with the caller's generator;
    ``state_dict`` / ``load_state_dict`` round-trip exactly (tensors only, safe for
    ``torch.load(weights_only=True)``).
    """

    def __init__(self, per_stage: int) -> None:
        self.per_stage = per_stage
        self._x: dict[int, torch.Tensor] = {}
        self._y: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return sum(len(y) for y in self._y.values())

    @property
    def stages(self) -> list[int]:
        return sorted(self._y)

    def add(self, stage: int, x: torch.Tensor, y: torch.Tensor) -> None:
        have = len(self._y.get(stage, ()))
        room = self.per_stage - have
        if room <= 0:
            return
        x, y = x[:room].detach().cpu(), y[:room].detach().cpu()
        if stage in self._y:
            x, y = torch.cat([self._x[stage], x]), torch.cat([self._y[stage], y])
        self._x[stage], self._y[stage] = x, y

    def sample(self, size: int, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._y:
            raise ValueError("the replay buffer is empty: add examples before sampling")
        xs = torch.cat([self._x[s] for s in self.stages])
        ys = torch.cat([self._y[s] for s in self.stages])
        idx = torch.randint(0, len(ys), (size,), generator=generator)
        return xs[idx], ys[idx]

    def stage_examples(self, stage: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._x[stage], self._y[stage]

    def state_dict(self) -> dict[str, object]:
        return {
            "per_stage": self.per_stage,
            "x": {str(k): v for k, v in self._x.items()},
            "y": {str(k): v for k, v in self._y.items()},
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        per_stage, xs, ys = state["per_stage"], state["x"], state["y"]
        assert isinstance(per_stage, int) and isinstance(xs, dict) and isinstance(ys, dict)
        self.per_stage = per_stage
        self._x = {int(k): v for k, v in xs.items()}
        self._y = {int(k): v for k, v in ys.items()}
