"""``ThaliaLogger``: a PyTorch Lightning logger that writes a Thalia checkpoint directory.

```python
import lightning as L
from thalia_logging.integrations.lightning import ThaliaLogger

logger = ThaliaLogger("runs", name="curriculum")     # writes runs/curriculum/version_N/
trainer = L.Trainer(logger=logger, max_steps=1000)
trainer.fit(model, train_loader, val_loader)
# thalia-dashboard runs/curriculum/version_0             (logger.log_dir: one run per directory)
```

Directory layout as Lightning's ``CSVLogger``: ``save_dir/name/version_N`` where ``N`` is one
more than the highest ``version_*`` already under ``save_dir/name`` (or ``version=`` given: an
int gives ``version_{int}``, a string is used as is). That directory (:attr:`log_dir`) is the
checkpoint directory the dashboard watches; Lightning's ``ModelCheckpoint`` puts its ``.ckpt``
files in ``log_dir/checkpoints`` beside it. ``pip install 'thalia-monitor[lightning]'``.

- ``log_metrics(metrics, step)``: every numeric value to ``CurriculumLogger.log_metrics(step,
  ...)``. ``/`` becomes ``_``; ``train_loss`` (or ``train/loss``) and ``loss`` -> ``loss``;
  ``valid_*``, ``validation_*``, ``eval_*`` -> ``val_*``; other names unchanged (``val_loss``,
  ``lr``, ``grad_norm``, ``epoch``...). Non-numeric values are skipped. Lightning logs one step
  in several calls (training, then validation metrics): each line carries only what that call
  logged; the reader merges lines of one ``(step, rank)`` field by field (README "Reading rules").
- ``log_hyperparams(params)``: the run's config. The directory is opened (and its ``run_start``
  line, which carries the config, written) only when something is first written: the first
  ``log_metrics``, a metadata file, a call on the experiment, or right after the first
  ``log_hyperparams``. So ``save_hyperparameters()`` in the model (which ``Trainer.fit`` passes
  here before training) and ``config=`` land in ``run_start``'s ``config``. Parameters logged
  after the directory was opened cannot go there (the log is never rewritten): they go into
  every later metadata file as ``hparams``.
- :attr:`experiment` is the :class:`~thalia_logging.CurriculumLogger`, so model code logs
  curriculum events: ``self.logger.experiment.log_growth(self.global_step, "cortex", 64, 1088,
  reason="capacity")``, ``log_stage``, ``log_consolidation``. Lightning asks for the experiment
  during setup, before it logs the hyperparameters; until the config is known the property
  returns a handle that opens the ``CurriculumLogger`` on its first attribute use and forwards
  to it. Off rank zero it is Lightning's dummy experiment: every call does nothing.
- ``after_save_checkpoint`` writes ``metadata_{step}.json`` (latest value of each metric,
  ``epoch``, ``total_steps`` when given, the newest checkpoint's path); ``finalize(status)`` writes a
  last one with ``status`` and closes the logger. A later use of the experiment (say
  ``trainer.test`` after ``fit``) reopens it, which the log records as a new ``run_start``.

Only rank zero writes (``@rank_zero_only``, ``@rank_zero_experiment``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from ..logger import CurriculumLogger
from .fields import metric_fields

__all__ = ["LIGHTNING_PREFIXES", "LIGHTNING_RENAMES", "OpenOnFirstUse", "ThaliaLogger"]

LIGHTNING_RENAMES: Mapping[str, str] = {"train_loss": "loss", "loss": "loss"}
"""Lightning metric names -> the dashboard's names (exact matches, after ``/`` -> ``_``)."""

LIGHTNING_PREFIXES: Mapping[str, str] = {"valid_": "val_", "validation_": "val_", "eval_": "val_"}
"""Lightning metric name prefixes -> the dashboard's ``val_``."""


def _params_dict(params: Any) -> dict[str, Any]:
    if isinstance(params, argparse.Namespace):
        return dict(vars(params))
    if isinstance(params, Mapping):
        return dict(params)
    raise TypeError(
        f"log_hyperparams takes a dict or an argparse.Namespace, got {type(params).__name__}"
    )


class OpenOnFirstUse:
    """Stands for the ``CurriculumLogger`` until it is opened: any attribute opens it first."""

    def __init__(self, open_logger: Callable[[], CurriculumLogger]) -> None:
        self._open_logger = open_logger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._open_logger(), name)


class ThaliaLogger(Logger):  # type: ignore[misc, unused-ignore]
    """Lightning ``Logger`` over a :class:`~thalia_logging.CurriculumLogger` in :attr:`log_dir`.

    ``config`` seeds the run's config; ``total_steps`` goes into metadata files (the page's
    progress); ``logger_kwargs`` go to ``CurriculumLogger`` (``console_log=False`` unless
    given: Lightning prints its own progress).
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str] = "lightning_logs",
        name: str = "thalia",
        version: int | str | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        total_steps: int | None = None,
        **logger_kwargs: Any,
    ) -> None:
        super().__init__()
        self._save_dir = str(save_dir)
        self._name = name
        self._version = version
        self._config: dict[str, Any] = dict(config or {})
        self._late_hparams: dict[str, Any] = {}
        self.total_steps = total_steps
        logger_kwargs.setdefault("console_log", False)
        self._logger_kwargs = logger_kwargs
        self._experiment: CurriculumLogger | None = None
        self._config_known = False
        self._latest: dict[str, float | int] = {}
        self._last_step = 0
        self._last_metadata_step = -1
        self._checkpoint_path = ""

    # -- where ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int | str:
        if self._version is None:
            self._version = self._next_version()
        return self._version

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def root_dir(self) -> str:
        """``save_dir/name``: the folder of this name's versions."""
        return os.path.join(self._save_dir, self._name)

    @property
    def log_dir(self) -> str:
        """``save_dir/name/version_N``: the checkpoint directory to point the dashboard at."""
        version = self.version
        return os.path.join(
            self.root_dir, version if isinstance(version, str) else f"version_{version}"
        )

    def _next_version(self) -> int:
        root = Path(self.root_dir)
        if not root.is_dir():
            return 0
        taken = [
            int(p.name[8:])
            for p in root.iterdir()
            if p.is_dir() and p.name.startswith("version_") and p.name[8:].isdigit()
        ]
        return max(taken) + 1 if taken else 0

    # -- the experiment -----------------------------------------------------------------------

    def _open(self) -> CurriculumLogger:
        if self._experiment is None or self._experiment.closed:
            kwargs = dict(self._logger_kwargs)
            kwargs.setdefault("rank", 0)  # rank_zero_experiment decided: this is rank zero
            self._experiment = CurriculumLogger(self.log_dir, config=self._config, **kwargs)
        return self._experiment

    @property
    @rank_zero_experiment
    def experiment(self) -> CurriculumLogger:
        """The ``CurriculumLogger`` (or, until the config is known, a handle that opens it)."""
        if not self._config_known and (self._experiment is None or self._experiment.closed):
            return OpenOnFirstUse(self._open)  # type: ignore[return-value]
        return self._open()

    @rank_zero_only  # type: ignore[untyped-decorator, unused-ignore]
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        values = _params_dict(params)
        if self._experiment is None:
            self._config.update(values)  # run_start not written yet: it carries them
        else:
            self._late_hparams.update(values)  # into the later metadata files as "hparams"
        self._config_known = True

    @rank_zero_only  # type: ignore[untyped-decorator, unused-ignore]
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        fields, _skipped = metric_fields(
            metrics, rename=LIGHTNING_RENAMES, prefixes=LIGHTNING_PREFIXES, reserved_prefix="pl_"
        )
        if step is None:
            step = self._last_step
        self._last_step = int(step)
        if fields:
            self._config_known = True
            line: dict[str, Any] = fields  # only this call's fields; the reader merges a step
            self._open().log_metrics(self._last_step, **line)
            self._latest.update(fields)

    # -- checkpoints and the end --------------------------------------------------------------

    def _write_metadata(self, step: int, **extra: Any) -> None:
        if self._late_hparams:
            extra["hparams"] = dict(self._late_hparams)
        if self._checkpoint_path:
            extra["checkpoint_path"] = self._checkpoint_path
        epoch = self._latest.get("epoch")
        if epoch is not None:
            extra["epoch"] = epoch
        self._config_known = True
        self._open().write_metadata(
            step, metrics=dict(self._latest), total_steps=self.total_steps, **extra
        )
        self._last_metadata_step = max(self._last_metadata_step, step)

    @rank_zero_only  # type: ignore[untyped-decorator, unused-ignore]
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        step = getattr(checkpoint_callback, "_last_global_step_saved", None)
        step = self._last_step if not isinstance(step, int) or step < 0 else step
        path = getattr(checkpoint_callback, "last_model_path", "") or getattr(
            checkpoint_callback, "best_model_path", ""
        )
        if path:
            self._checkpoint_path = str(path)
        self._write_metadata(step)

    @rank_zero_only  # type: ignore[untyped-decorator, unused-ignore]
    def save(self) -> None:
        if self._experiment is not None and not self._experiment.closed:
            self._experiment.flush()

    @rank_zero_only  # type: ignore[untyped-decorator, unused-ignore]
    def finalize(self, status: str) -> None:
        if self._experiment is None or self._experiment.closed:
            return
        if self._latest:
            step = max(self._last_step, self._last_metadata_step)
            self._write_metadata(step, status=str(status))
        self._experiment.close()
