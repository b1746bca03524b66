"""``ThaliaCallback``: a Hugging Face ``Trainer`` writes a Thalia checkpoint directory.

```python
from transformers import Trainer
from thalia_logging.integrations.hf import ThaliaCallback

callback = ThaliaCallback()            # log_dir defaults to args.output_dir
trainer = Trainer(model, args, train_dataset=..., eval_dataset=..., callbacks=[callback])
trainer.train()
# thalia-dashboard <args.output_dir>
```

What lands where (``pip install 'thalia-monitor[hf]'``):

- ``on_train_begin`` opens a :class:`~thalia_logging.CurriculumLogger` on ``log_dir`` (default
  ``args.output_dir``) on the world's process zero only; its ``run_start`` line carries
  ``args.to_sanitized_dict()`` (plus ``config=``) as the run's config. Other processes write
  nothing and ``callback.logger`` stays ``None`` there.
- ``on_log``: every numeric value of the Trainer's logs goes to ``log_metrics(state.global_step,
  ...)``: ``loss`` -> ``loss``, ``eval_*`` -> ``val_*`` (``eval_loss`` -> ``val_loss``),
  ``learning_rate`` -> ``lr``, ``grad_norm`` -> ``grad_norm``, anything else under its own name
  (``epoch``, ``train_runtime``...). Non-numeric values are skipped (said once on stderr).
  The Trainer logs one step in several calls (training loss, evaluation, end-of-training
  summary); each line carries only what that call logged: the reader merges the lines of one
  ``(step, rank)`` field by field (README "Reading rules").
- ``on_evaluate`` logs the evaluation metrics (as ``val_*``) unless ``on_log`` already wrote the
  same ones at this step (the Trainer calls both for one evaluation).
- ``on_save`` writes ``metadata_{global_step}.json`` with ``epoch``, ``total_steps``
  (``state.max_steps``) and the latest value of each logged metric (its ``metrics``).
- ``on_train_end`` closes the logger.

Curriculum events from your own code go through the same logger, e.g. in another callback or
between ``trainer.train()`` calls: ``callback.logger.log_stage(step, 1, name="phonemes")``,
``callback.logger.log_growth(step, "cortex", 64, 1088, reason="capacity")``,
``callback.logger.log_consolidation(step, "NREM", 512, 20)`` (check ``callback.logger is not
None`` first: it is ``None`` off process zero and outside training).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..logger import CurriculumLogger
from .fields import metric_fields

__all__ = ["HF_PREFIXES", "HF_RENAMES", "ThaliaCallback"]

HF_RENAMES: Mapping[str, str] = {"learning_rate": "lr", "loss": "loss", "grad_norm": "grad_norm"}
"""Trainer log names -> the dashboard's names (exact matches)."""

HF_PREFIXES: Mapping[str, str] = {"eval_": "val_"}
"""Trainer log name prefixes -> the dashboard's (``eval_accuracy`` -> ``val_accuracy``)."""


class ThaliaCallback(TrainerCallback):  # type: ignore[misc, unused-ignore]
    """Sends a ``transformers.Trainer``'s logs, evaluations and checkpoints to a Thalia directory.

    ``log_dir`` defaults to ``args.output_dir``; ``config`` is merged over the training
    arguments in the ``run_start`` config; ``logger_kwargs`` go to ``CurriculumLogger``
    (``console_log=False`` unless given: the Trainer prints its own progress). Assumes one
    training run at a time per callback; a second ``on_train_begin`` while the logger is open
    keeps it. :attr:`logger` is the open ``CurriculumLogger`` (or ``None``).
    """

    def __init__(
        self,
        log_dir: str | Path | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        **logger_kwargs: Any,
    ) -> None:
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.extra_config = dict(config or {})
        logger_kwargs.setdefault("console_log", False)
        self.logger_kwargs = logger_kwargs
        self.logger: CurriculumLogger | None = None
        self.latest: dict[str, float | int] = {}
        self._last_eval: tuple[int, dict[str, float | int]] | None = None
        self._said_skipped: set[str] = set()

    # -- lifecycle ----------------------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero or self.logger is not None:
            return
        config: dict[str, Any] = dict(args.to_sanitized_dict())
        model = kwargs.get("model")
        model_config = getattr(model, "config", None)
        if model_config is not None and hasattr(model_config, "to_dict"):
            config["model_config"] = model_config.to_dict()
        config.update(self.extra_config)
        log_dir = self.log_dir if self.log_dir is not None else Path(args.output_dir)
        self.logger = CurriculumLogger(log_dir, config=config, **self.logger_kwargs)
        self.latest, self._last_eval = {}, None

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.logger is not None:
            self.logger.close()
            self.logger = None

    # -- metrics ------------------------------------------------------------------------------

    def _log(self, state: Any, values: Mapping[str, Any]) -> dict[str, float | int]:
        fields, skipped = metric_fields(
            values, rename=HF_RENAMES, prefixes=HF_PREFIXES, reserved_prefix="hf_"
        )
        new = [name for name in skipped if name not in self._said_skipped]
        if new:
            self._said_skipped.update(new)
            print(f"ThaliaCallback: skipped non-numeric log values {new}", file=sys.stderr)
        if fields and self.logger is not None:
            step = int(state.global_step)
            line: dict[str, Any] = fields  # only this call's fields; the reader merges a step
            self.logger.log_metrics(step, **line)
            self.latest.update(fields)
        return fields

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if self.logger is None or not logs:
            return
        fields = self._log(state, logs)
        evals = {k: v for k, v in fields.items() if k.startswith("val_")}
        if evals:
            self._last_eval = (int(state.global_step), evals)

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if self.logger is None or not metrics:
            return
        fields, _ = metric_fields(
            metrics, rename=HF_RENAMES, prefixes=HF_PREFIXES, reserved_prefix="hf_"
        )
        evals = {k: v for k, v in fields.items() if k.startswith("val_")}
        if self._last_eval == (int(state.global_step), evals):
            return  # the Trainer's on_log already wrote this evaluation
        self._log(state, metrics)

    # -- checkpoints --------------------------------------------------------------------------

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.logger is None:
            return
        extra: dict[str, Any] = {} if state.epoch is None else {"epoch": float(state.epoch)}
        self.logger.write_metadata(
            int(state.global_step),
            metrics=dict(self.latest),
            total_steps=int(state.max_steps) if state.max_steps else None,
            **extra,
        )
        self.logger.flush()
