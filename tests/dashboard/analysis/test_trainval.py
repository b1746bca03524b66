"""Train/val panel data: pairs, evaluations, gap, improvement, NEW BEST, stability, lr changes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from page_helpers import make_metrics, read_in_parts

from dashboard.analysis.trainval import (
    TrainValPair,
    eval_log,
    lr_changes,
    train_val_panel,
    val_pairs,
)
from dashboard.analysis.trainval_kept import KeptPanel


def sparse(n: int, every: int, values: object) -> np.ndarray:
    out = np.full(n, np.nan)
    out[every - 1 :: every] = values
    return out


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["loss", "performance"], []),
        (["loss", "val_loss"], [("loss", "val_loss", True)]),
        (["val_accuracy", "performance", "loss"], [("performance", "val_accuracy", False)]),
        (
            ["accuracy", "val_accuracy", "performance", "val_loss", "loss"],
            [("loss", "val_loss", True), ("accuracy", "val_accuracy", False)],
        ),
        (
            ["bleu", "val_bleu", "val_", "val_orphan", "wer", "val_wer"],
            [("bleu", "val_bleu", False), ("wer", "val_wer", True)],
        ),
    ],
)
def test_val_pairs(columns: list[str], expected: list[tuple[str, str, bool]]) -> None:
    assert [(p.train, p.val, p.lower_is_better) for p in val_pairs(columns)] == expected


LOSS = TrainValPair("loss", "val_loss", True)


def test_panel_evaluations_gap_improvement_and_best() -> None:
    val = sparse(50, 10, [1.0, 0.8, 0.9, 0.7, 0.75])
    loss = np.linspace(1.0, 0.5, 50)
    loss[19] = np.nan  # the train value at an evaluation row is missing: the one before counts
    panel = train_val_panel(make_metrics(50, loss=loss, val_loss=val), LOSS)
    assert panel is not None
    ev = panel.evals
    assert ev["step"].tolist() == [900, 1900, 2900, 3900, 4900]
    assert ev["train"].iloc[1] == pytest.approx(loss[18])
    assert ev["gap"].tolist() == pytest.approx((ev["val"] - ev["train"]).tolist())
    assert np.isnan(ev["improvement"].iloc[0])
    assert ev["improvement"].iloc[1:].tolist() == pytest.approx([0.2, -0.1, 0.2, -0.05])
    assert ev["new_best"].tolist() == [True, True, False, True, False]
    assert (panel.best_step, panel.best_value, panel.evaluations) == (3900, 0.7, 5)
    summary = panel.summary()
    assert summary.startswith("Step 4,900 | Train: 0.5 | Val: 0.75 | Gap: +0.25 | Δ: +0.05")
    assert summary.endswith("Best val_loss: 0.7 at step 3,900")
    assert eval_log(panel, 2) == [
        "Step 3,900: Train=0.602, Val=0.7, Gap=+0.09796 ✓ NEW BEST",
        "Step 4,900: Train=0.5, Val=0.75, Gap=+0.25",
    ]


def test_higher_is_better_pairs_count_increases_as_improvement() -> None:
    pair = TrainValPair("performance", "val_accuracy", False)
    val = sparse(30, 10, [0.5, 0.7, 0.6])
    panel = train_val_panel(make_metrics(30, val_accuracy=val), pair)
    assert panel is not None
    assert panel.evals["improvement"].iloc[1:].tolist() == pytest.approx([0.2, -0.1])
    assert panel.best_step == 1900 and panel.summary().endswith("at step 1,900")


def test_no_panel_without_evaluations() -> None:
    assert train_val_panel(make_metrics(10, val_loss=np.nan), LOSS) is None
    assert train_val_panel(make_metrics(10), LOSS) is None
    assert train_val_panel(make_metrics(0), LOSS) is None


def test_stability_is_the_rolling_std() -> None:
    loss = np.r_[np.full(40, 1.0), np.tile([0.5, 1.5], 20)]
    panel = train_val_panel(make_metrics(80, loss=loss, val_loss=0.9), LOSS, window=10)
    assert panel is not None
    std = panel.stability.set_index("step")["std"]
    assert std.loc[3900] == pytest.approx(0.0)
    assert std.loc[7900] == pytest.approx(np.std([0.5, 1.5] * 5, ddof=1))


def test_long_runs_are_downsampled_keeping_the_best() -> None:
    n = 200_000
    rng = np.random.default_rng(1)
    loss = 1.0 + rng.normal(0, 0.1, n)
    val = 1.0 + rng.normal(0, 0.1, n)
    val[123_457] = 0.01
    panel = train_val_panel(make_metrics(n, loss=loss, val_loss=val), LOSS, max_points=2000)
    assert panel is not None
    assert len(panel.train) <= 2000 and len(panel.stability) <= 2000
    assert len(panel.evals) <= 2000
    assert panel.best_step == 12_345_700
    assert 12_345_700 in panel.evals["step"].tolist()
    assert panel.evaluations == n


def test_lr_changes_label_steps_and_ignore_smooth_schedules() -> None:
    lr = np.r_[np.full(10, 1e-3), np.full(10, 5e-4), np.full(10, np.nan), np.full(10, 5e-5)]
    changes = lr_changes(make_metrics(40, lr=lr))
    assert changes["label"].tolist() == [
        "lr 0.001 → 0.0005 at step 1,000",
        "lr 0.0005 → 5e-05 at step 3,000",
    ]
    smooth = 1e-3 * np.cos(np.linspace(0, 1.0, 1000))  # per-step cosine: < 5 % a step
    assert lr_changes(make_metrics(1000, lr=smooth)).empty
    assert lr_changes(make_metrics(10)).empty
    assert lr_changes(pd.DataFrame({"step": [], "lr": []})).empty


_CELL = st.one_of(st.floats(0.01, 10.0), st.just(math.nan))


@pytest.mark.parametrize("part", [None, 3])
@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(_CELL, _CELL, st.sampled_from([1e-3, 5e-4, math.nan])), max_size=120),
    cuts=st.lists(st.integers(0, 120), max_size=5),
    moved=st.booleans(),
)
def test_a_kept_panel_over_appends_equals_a_fresh_one(
    rows: list[tuple[float, float, float]], cuts: list[int], moved: bool, part: int | None
) -> None:
    """The panel a live page keeps (extended from appended rows; cut back to the first changed
    row when earlier rows changed) equals the panel of a fresh computation on the same frame."""
    frame = pd.DataFrame(
        {
            "step": np.arange(len(rows), dtype=np.int64) * 10,
            "loss": [r[0] for r in rows],
            "val_loss": [r[1] for r in rows],
            "lr": [r[2] for r in rows],
        }
    )
    kept = KeptPanel(window=4)
    with read_in_parts(part):
        for i, end in enumerate(sorted({min(c, len(rows)) for c in cuts} | {len(rows)})):
            shown = frame.iloc[:end].copy()
            if moved and i == 1 and end:  # earlier rows changed: cut back to the first one
                shown.loc[end // 2, "loss"] = 99.0
                shown.loc[end // 3, "val_loss"] = 0.001
            got = train_val_panel(shown, LOSS, window=4, max_points=40, kept=kept)
            want = train_val_panel(shown, LOSS, window=4, max_points=40)
            assert (got is None) == (want is None)
            if got is None or want is None:
                continue
            for name in ("train", "evals", "lr"):
                pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name))
            pd.testing.assert_frame_equal(got.stability, want.stability, rtol=1e-9, atol=1e-12)
            assert (got.best_step, got.best_value, got.evaluations) == (
                want.best_step, want.best_value, want.evaluations
            )  # fmt: skip
