"""A tiny GPT-2 trained with the Hugging Face ``Trainer``, logged for the Thalia dashboard.

    python examples/hf_trainer.py --log-dir checkpoints/hf        # under a minute on a CPU
    thalia-dashboard checkpoints/hf                                # watch it

The model is built from a ``GPT2Config`` (one layer, 32 wide) and the data is generated: each
sequence counts up from a random token by a random stride (mod the vocabulary), so the next
token is predictable from the two before it and the loss falls fast. Nothing is downloaded
(``HF_HUB_OFFLINE=1`` is set). ``ThaliaCallback`` writes the training loss, learning rate and
grad norm, the held-out ``val_loss`` / ``val_accuracy``, and a metadata file per checkpoint;
a second callback shows how curriculum events from your own code use ``callback.logger``.
Needs ``pip install 'thalia-monitor[hf]'``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from thalia_logging.integrations.hf import ThaliaCallback

VOCAB = 32
SEQ_LEN = 16


class CountingSequences(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """``n`` sequences ``start, start+k, start+2k, ...`` (mod ``VOCAB``), fixed by ``seed``."""

    def __init__(self, n: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        start = torch.randint(0, VOCAB, (n, 1), generator=gen)
        stride = torch.randint(1, 4, (n, 1), generator=gen)
        self.ids = (start + stride * torch.arange(SEQ_LEN)) % VOCAB

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def next_token_accuracy(eval_pred: Any) -> dict[str, float]:
    """Share of next tokens predicted right, past the first two (which fix the stride)."""
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    predicted = np.asarray(logits)[:, 1:-1].argmax(-1)
    return {"accuracy": float((predicted == np.asarray(labels)[:, 2:]).mean())}


class CurriculumEvents(TrainerCallback):  # type: ignore[misc]
    """Your own curriculum hooks, through the ThaliaCallback's logger: a stage at the start and
    a (pretend) growth event half way."""

    def __init__(self, thalia: ThaliaCallback) -> None:
        self.thalia = thalia

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.thalia.logger is not None:
            self.thalia.logger.log_stage(state.global_step, 0, name="counting")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.thalia.logger is not None and state.global_step == state.max_steps // 2:
            self.thalia.logger.log_growth(state.global_step, "transformer", 0, 1, "example")


def build_model(seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=SEQ_LEN,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2LMHeadModel(config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-dir", default="checkpoints/hf")
    parser.add_argument("--max-steps", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    thalia = ThaliaCallback(args.log_dir, config={"example": "hf_trainer"})
    training = TrainingArguments(
        output_dir=args.log_dir, max_steps=args.max_steps, per_device_train_batch_size=32,
        per_device_eval_batch_size=64, learning_rate=3e-3, warmup_steps=args.max_steps // 10,
        logging_steps=max(1, args.max_steps // 40), eval_strategy="steps",
        eval_steps=args.eval_every, save_strategy="steps", save_steps=args.eval_every,
        save_total_limit=2, report_to="none", use_cpu=True, disable_tqdm=True, seed=args.seed,
        dataloader_num_workers=0,
    )  # fmt: skip
    trainer = Trainer(
        model=build_model(args.seed), args=training,
        train_dataset=CountingSequences(2048, seed=args.seed),
        eval_dataset=CountingSequences(256, seed=args.seed + 1),
        compute_metrics=next_token_accuracy, callbacks=[thalia, CurriculumEvents(thalia)],
    )  # fmt: skip
    result = trainer.train()
    print(
        f"finished at step {result.global_step}; training loss {result.training_loss:.3f}; "
        f"logged to {args.log_dir}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
