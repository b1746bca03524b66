"""A tiny classifier trained with PyTorch Lightning, logged for the Thalia dashboard.

    python examples/lightning_trainer.py --save-dir runs        # a few seconds on a CPU
    thalia-dashboard runs/lightning/version_0                   # the path it prints

The model is a two-layer MLP built locally; the data are generated Gaussian clusters (nothing is
downloaded). ``ThaliaLogger`` writes what ``self.log`` logs (``train_loss`` as ``loss``,
``val_loss``, ``val_accuracy``, ``lr``, ``grad_norm``), the hyperparameters as the run's config,
and a metadata file per checkpoint; ``self.logger.experiment`` is the ``CurriculumLogger``, so
the model logs its own curriculum stage and a growth event. Needs
``pip install 'thalia-monitor[lightning]'``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from thalia_logging.integrations.lightning import ThaliaLogger
from thalia_logging.torch_support import global_grad_norm

N_CLASSES = 4
INPUT_DIM = 8


def make_clusters(n: int, seed: int) -> TensorDataset:
    """``n`` points around ``N_CLASSES`` fixed centres (the centres come from seed 0)."""
    centres = torch.randn(N_CLASSES, INPUT_DIM, generator=torch.Generator().manual_seed(0)) * 2
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=gen)
    x = centres[y] + torch.randn(n, INPUT_DIM, generator=gen)
    return TensorDataset(x, y)


class Classifier(L.LightningModule):
    def __init__(self, hidden: int = 32, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()  # -> ThaliaLogger.log_hyperparams -> the run_start config
        self.net = nn.Sequential(
            nn.Linear(INPUT_DIM, hidden), nn.ReLU(), nn.Linear(hidden, N_CLASSES)
        )
        self.loss_fn = nn.CrossEntropyLoss()

    def on_train_start(self) -> None:
        if self.logger is not None:  # off rank zero the experiment is a no-op dummy
            self.logger.experiment.log_stage(self.global_step, 0, name="clusters")

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _i: int) -> torch.Tensor:
        x, y = batch
        loss = self.loss_fn(self.net(x), y)
        self.log("train_loss", loss)
        self.log("lr", self.optimizers().param_groups[0]["lr"])  # type: ignore[union-attr]
        return loss

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        self.log("grad_norm", global_grad_norm(self.parameters()))

    def on_train_epoch_end(self) -> None:
        if self.current_epoch == 0 and self.logger is not None:
            hidden = self.hparams["hidden"]  # pretend growth, to show the curriculum events
            self.logger.experiment.log_growth(self.global_step, "hidden", 0, hidden, "example")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _i: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", self.loss_fn(logits, y))
        self.log("val_accuracy", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams["lr"], momentum=0.9)
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=20, gamma=0.7)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save-dir", default="runs")
    parser.add_argument("--name", default="lightning")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    L.seed_everything(args.seed, verbose=False)
    train = DataLoader(make_clusters(1024, args.seed + 1), batch_size=32, shuffle=True)
    val = DataLoader(make_clusters(256, args.seed + 2), batch_size=128)
    logger = ThaliaLogger(args.save_dir, name=args.name, total_steps=args.epochs * len(train))
    trainer = L.Trainer(
        max_epochs=args.epochs, logger=logger, log_every_n_steps=4, accelerator="cpu",
        devices=1, enable_progress_bar=False, enable_model_summary=False,
        val_check_interval=0.5,
    )  # fmt: skip
    trainer.fit(Classifier(), train, val)
    print(f"finished at step {trainer.global_step}; thalia-dashboard {logger.log_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
