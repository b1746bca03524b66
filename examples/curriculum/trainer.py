"""The curriculum training loop: stages of weeks, nightly sleep, growth, checkpoints, logging.

One week: ``steps_per_week`` SGD steps on the stage's data (a metric line every ``log_every``
steps: training ``loss``, ``performance`` (batch accuracy), ``lr``, ``grad_norm``, the overall
``dead_unit_fraction`` and one ``dead_unit_fraction.<region>`` per region), then a night of
sleep (NREM clean replay, then REM noisy replay of the stored examples of every stage so far),
then an evaluation on the stage's held-out set (logged as ``val_loss`` / ``val_accuracy``,
never into the training ``loss`` / ``performance`` series), the milestone check,
growth of the regions whose capacity saturated, and a checkpoint (``checkpoint_{step}.pt`` and
``metadata_{step}.json``). Restarted on a directory with checkpoints, the trainer resumes from
the newest one and continues with the next week, bit for bit as if it had never stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from thalia_logging import CurriculumLogger
from thalia_logging.torch_support import global_grad_norm

from . import checkpoint
from .config import REGIONS, TrainConfig
from .consolidation import SleepPhase, sleep_phase
from .data import DEFAULT_STAGES, ClusterTask, ReplayBuffer, StageSpec
from .growth import GrowthPolicy
from .measure import BatchStats, batch_stats, evaluate
from .model import RegionMLP

__all__ = ["CurriculumTrainer", "RunSummary"]


@dataclass
class RunSummary:
    """What a finished (or resumed and finished) run did, for the caller and the tests."""

    final_step: int
    resumed_from_step: int | None
    milestones: dict[str, bool]
    widths: dict[str, int]
    final_metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class _Progress:
    step: int = 0
    stage: int = 0
    week: int = 0  # the next week to run within ``stage``
    milestones: dict[str, bool] = field(default_factory=dict)
    best_accuracy: dict[int, float] = field(default_factory=dict)


class CurriculumTrainer:
    """Trains a ``RegionMLP`` through ``config.stages`` stages, logging into ``config.log_dir``.

    Contract: everything random draws from the torch global RNG (layer init) or ``self.gen``
    (data, replay, growth), and both are checkpointed with the model, the optimizer (momentum
    buffers included), the replay buffer and the progress counters; so a run resumed from any
    checkpoint ends in the same state as an uninterrupted one. ``logger_factory`` and ``sleep``
    are seams for tests.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        logger_factory: Callable[..., Any] = CurriculumLogger,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.stages: tuple[StageSpec, ...] = DEFAULT_STAGES[: config.stages]
        self.device = torch.device(config.device)
        self._logger_factory = logger_factory
        self._sleep = sleep
        torch.manual_seed(config.seed)
        self.gen = torch.Generator().manual_seed(config.seed)
        self.task = ClusterTask(
            input_dim=config.input_dim,
            n_classes=max(s.n_classes for s in self.stages),
            seed=config.seed,
        )
        widths = dict.fromkeys(REGIONS, config.initial_width)
        self.model = RegionMLP(config.input_dim, widths, self.task.n_classes).to(self.device)
        self.optimizer = self._make_optimizer()
        self.buffer = ReplayBuffer(config.replay_per_stage)
        self.policy = GrowthPolicy(saturation=config.saturation, max_width=config.max_width)
        self.progress = _Progress()
        self.loss_fn = nn.CrossEntropyLoss()
        self._earlier_accuracy: dict[int, float] = {}
        self._last_train_line: tuple[int, dict[str, Any]] | None = None

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.config
        return torch.optim.SGD(self.model.parameters(), lr=cfg.lr, momentum=cfg.momentum)

    # -- checkpoints -------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        p = self.progress
        return {
            "model": self.model.state_dict(),
            "widths": self.model.widths,
            "optimizer": self.optimizer.state_dict(),
            "buffer": self.buffer.state_dict(),
            "progress": {
                "step": p.step,
                "stage": p.stage,
                "week": p.week,
                "milestones": p.milestones,
                "best_accuracy": {str(k): v for k, v in p.best_accuracy.items()},
            },
            "rng": {"torch": torch.get_rng_state(), "gen": self.gen.get_state()},
            "seed": self.config.seed,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        if state["seed"] != self.config.seed:
            raise checkpoint.CheckpointError(
                f"the checkpoints in {self.config.log_dir} were made with --seed "
                f"{state['seed']}, not {self.config.seed}: pass that seed or a new --log-dir"
            )
        self.model = RegionMLP(self.config.input_dim, state["widths"], self.task.n_classes)
        self.model.load_state_dict(state["model"])
        self.model.to(self.device)
        self.optimizer = self._make_optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        self.buffer.load_state_dict(state["buffer"])
        prog = state["progress"]
        self.progress = _Progress(
            step=prog["step"], stage=prog["stage"], week=prog["week"],
            milestones=dict(prog["milestones"]),
            best_accuracy={int(k): v for k, v in prog["best_accuracy"].items()},
        )  # fmt: skip
        torch.set_rng_state(state["rng"]["torch"])
        self.gen.set_state(state["rng"]["gen"])

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> RunSummary:
        cfg = self.config
        resumed = checkpoint.load_latest(cfg.log_dir)
        resumed_from = None
        if resumed is not None:
            resumed_from, state = resumed
            self._restore(state)
        logger = self._logger_factory(
            log_dir=cfg.log_dir, console_log=cfg.console_log, file_log=True, json_log=True,
            config=cfg.as_json(), resumed_from_step=resumed_from, capture_gpu_memory=True,
        )  # fmt: skip
        last: BatchStats | None = None
        with logger:
            while self.progress.stage < len(self.stages):
                spec = self.stages[self.progress.stage]
                if self.progress.week == 0:
                    logger.log_stage(self.progress.step, self.progress.stage, name=spec.name)
                last = self._week(logger, spec)
                done = (self.progress.stage, self.progress.week + 1)
                self.progress.week += 1
                if self.progress.week == cfg.weeks_per_stage:
                    self.progress.stage, self.progress.week = self.progress.stage + 1, 0
                self._checkpoint(logger, done, last)
        final = {} if last is None else {"performance": last.accuracy, "loss": last.loss}
        return RunSummary(
            self.progress.step,
            resumed_from,
            dict(self.progress.milestones),
            self.model.widths,
            final,
        )

    def _week(self, logger: Any, spec: StageSpec) -> BatchStats:
        cfg, p = self.config, self.progress
        for _ in range(cfg.steps_per_week):
            x, y = self.task.batch(spec, cfg.batch_size, generator=self.gen)
            x, y = x.to(self.device), y.to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            out = self.model(x, return_activations=True)
            assert isinstance(out, tuple)
            logits, acts = out
            loss = self.loss_fn(logits, y)
            loss.backward()
            grad_norm = global_grad_norm(self.model.parameters())
            self.optimizer.step()
            p.step += 1
            if p.step % cfg.log_every == 0:
                stats = batch_stats(self.model, logits, acts, y, loss)
                self._log_metrics(logger, stats, grad_norm=grad_norm)
            if cfg.step_delay > 0:
                self._sleep(cfg.step_delay)
        self.buffer.add(p.stage, *self.task.batch(spec, cfg.replay_per_stage, generator=self.gen))
        self._night(logger)
        stats = evaluate(self.model, *self.task.eval_set(spec), device=self.device)
        extra = self._retention(spec, stats.accuracy)
        self._log_eval(logger, stats, extra)
        self._grow(logger, spec, stats)
        return stats

    def _night(self, logger: Any) -> None:
        cfg = self.config
        phases = (
            SleepPhase("NREM", cfg.nrem_steps, cfg.batch_size),
            SleepPhase("REM", cfg.rem_steps, cfg.batch_size, noise_std=cfg.rem_noise),
        )
        for phase in phases:
            start = self.progress.step
            result = sleep_phase(
                self.model, self.optimizer, self.buffer, phase,
                generator=self.gen, device=self.device,
            )  # fmt: skip
            if result.duration_steps:
                logger.log_consolidation(
                    start, result.sleep_stage, result.patterns_replayed, result.duration_steps
                )
                self.progress.step += result.duration_steps

    def _retention(self, spec: StageSpec, accuracy: float) -> dict[str, float]:
        """Accuracy on each earlier stage's stored examples; updates milestones and bests."""
        p = self.progress
        if accuracy >= spec.target_accuracy:
            p.milestones[spec.milestone] = True
        p.best_accuracy[p.stage] = max(p.best_accuracy.get(p.stage, 0.0), accuracy)
        earlier = [s for s in self.buffer.stages if s < p.stage]
        if not earlier:
            return {}
        accs = []
        for s in earlier:
            acc = evaluate(self.model, *self.task.eval_set(self.stages[s]), device=self.device)
            accs.append(acc.accuracy)
            p.best_accuracy[s] = max(p.best_accuracy.get(s, 0.0), acc.accuracy)
        self._earlier_accuracy = dict(zip(earlier, accs, strict=True))
        return {"retention_accuracy": sum(accs) / len(accs)}

    def _grow(self, logger: Any, spec: StageSpec, stats: BatchStats) -> None:
        decisions = self.policy.decide(
            self.model.widths, stats.capacity_by_region,
            accuracy=stats.accuracy, target=spec.target_accuracy,
        )  # fmt: skip
        for d in decisions:
            self.model.widen(d.region, d.neurons_added, generator=self.gen)
            logger.log_growth(self.progress.step, d.region, d.neurons_added, d.new_total, d.reason)
        if decisions:  # new parameter tensors: the optimizer (and its momentum) starts over
            self.model.to(self.device)
            self.optimizer = self._make_optimizer()

    def _log_metrics(self, logger: Any, stats: BatchStats, **extra: float) -> None:
        """A training line: the batch's measures, the learning rate and ``extra``."""
        fields: dict[str, Any] = dict(
            firing_rate=stats.firing_rate, capacity=stats.capacity,
            performance=stats.accuracy, loss=stats.loss,
            neuron_counts=stats.neuron_counts, capacity_by_region=stats.capacity_by_region,
            lr=self.optimizer.param_groups[0]["lr"], dead_unit_fraction=stats.dead_fraction,
            **{f"dead_unit_fraction.{r}": v for r, v in stats.dead_by_region.items()},
            **extra,
        )  # fmt: skip
        logger.log_metrics(self.progress.step, **fields)
        self._last_train_line = (self.progress.step, fields)

    def _log_eval(self, logger: Any, stats: BatchStats, extra: dict[str, float]) -> None:
        """The held-out evaluation as ``val_*`` fields only (never the training series).

        A step has one row on the page, so an evaluation at the step of the last training line
        repeats that line's fields rather than hiding them.
        """
        fields: dict[str, Any] = {"val_loss": stats.loss, "val_accuracy": stats.accuracy, **extra}
        last = self._last_train_line
        if last is not None and last[0] == self.progress.step:
            fields = {**last[1], **fields}
        logger.log_metrics(self.progress.step, **fields)

    def _warnings(self, stats: BatchStats) -> list[dict[str, str]]:
        out = []
        for s, acc in self._earlier_accuracy.items():
            best = self.progress.best_accuracy.get(s, acc)
            if best - acc > 0.15:
                out.append(
                    {
                        "severity": "warning",
                        "message": (
                            f"forgetting: stage {s} ({self.stages[s].name}) accuracy fell from "
                            f"{best:.2f} to {acc:.2f}; consider more replay (TrainConfig.nrem_steps, rem_steps)"
                        ),
                    }
                )
        if stats.dead_fraction > 0.5:
            out.append(
                {
                    "severity": "warning",
                    "message": (
                        f"{stats.dead_fraction:.0%} of hidden units never fire on the evaluation set"
                    ),
                }
            )
        return out

    def _checkpoint(self, logger: Any, done: tuple[int, int], stats: BatchStats) -> None:
        """Save ``checkpoint_{step}.pt``, then its metadata; ``done`` = (stage, week) finished."""
        cfg, p = self.config, self.progress
        checkpoint.save(cfg.log_dir, p.step, self._state(), keep_last=cfg.keep_checkpoints)
        stage_index, week = done
        logger.write_metadata(
            p.step,
            current_stage=stage_index,
            current_week=week,
            total_weeks=cfg.weeks_per_stage,
            metrics=self._checkpoint_metrics(stats),
            milestones={s.milestone: p.milestones.get(s.milestone, False) for s in self.stages},
            warnings=self._warnings(stats),
            stage_name=self.stages[stage_index].name,
            total_stages=len(self.stages),
            total_steps=self._total_steps(),
        )  # fmt: skip
        logger.flush()

    def _checkpoint_metrics(self, evaluation: BatchStats) -> dict[str, float]:
        """The last training line's four headline measures, and the evaluation as ``val_*``."""
        last = self._last_train_line
        train = last[1] if last is not None else {
            "firing_rate": evaluation.firing_rate, "capacity": evaluation.capacity,
            "performance": evaluation.accuracy, "loss": evaluation.loss,
        }  # fmt: skip
        out = {k: float(train[k]) for k in ("firing_rate", "capacity", "performance", "loss")}
        out.update(val_loss=evaluation.loss, val_accuracy=evaluation.accuracy)
        return out

    def _total_steps(self) -> int:
        cfg = self.config
        per_week = cfg.steps_per_week + cfg.nrem_steps + cfg.rem_steps
        return per_week * cfg.weeks_per_stage * len(self.stages)
