"""The train/val Altair builders: valid Vega-Lite, the marks they promise, run text as data."""

from __future__ import annotations

from typing import Any

import numpy as np
from page_helpers import make_metrics

from dashboard.analysis.trainval import Panel, TrainValPair, train_val_panel
from dashboard.page.charts_trainval import (
    gap_chart,
    improvement_chart,
    stability_chart,
    train_val_chart,
)


def panel(n: int = 60, **columns: Any) -> Panel:
    val = np.full(n, np.nan)
    val[9::10] = np.linspace(1.0, 0.6, n // 10)
    val[-1] = 0.9
    lr = np.r_[np.full(n // 2, 1e-3), np.full(n - n // 2, 5e-4)]
    built = train_val_panel(
        make_metrics(n, val_loss=val, lr=lr, **columns), TrainValPair("loss", "val_loss", True)
    )
    assert built is not None
    return built


def datasets(spec: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return list(spec.get("datasets", {}).values())


def test_every_builder_makes_a_valid_spec() -> None:
    p = panel()
    for build in (train_val_chart, gap_chart, improvement_chart, stability_chart):
        chart = build(p)
        spec = chart.to_dict(validate=True)  # raises SchemaValidationError on an invalid spec
        assert chart.to_dict() == spec


def test_train_val_chart_marks_best_and_lr_changes() -> None:
    spec = train_val_chart(panel()).to_dict(validate=True)
    rows = [r for d in datasets(spec) for r in d]
    assert {r["series"] for r in rows if "series" in r} == {"train", "val"}
    assert [r["label"] for r in rows if "label" in r] == ["lr 0.001 → 0.0005 at step 3,000"]
    assert [r["step"] for r in rows if r.get("text") == "best"] == [4900]
    kinds = [layer["mark"]["type"] for layer in spec["layer"]]
    assert kinds == ["line", "point", "text", "rule"]


def test_improvement_bars_are_coloured_by_sign() -> None:
    spec = improvement_chart(panel()).to_dict(validate=True)
    kinds = [r["kind"] for d in datasets(spec) for r in d if "kind" in r]
    assert kinds == ["better"] * 4 + ["worse"]


def test_improvement_bars_do_not_push_the_step_axis_below_the_first_step() -> None:
    p = panel()
    spec = improvement_chart(p).to_dict(validate=True)
    bars = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "bar")
    assert bars["encoding"]["x"]["scale"] == {"domainMin": float(p.train["step"].min())}


def test_metric_names_from_the_run_are_titles_not_fields() -> None:
    name = "<img src=x>"
    val = np.full(30, np.nan)
    val[9::10] = [0.5, 0.6, 0.7]
    p = train_val_panel(
        make_metrics(30, **{name: np.linspace(0, 1, 30), f"val_{name}": val}),
        TrainValPair(name, f"val_{name}", False),
    )
    assert p is not None
    for build in (train_val_chart, gap_chart, improvement_chart, stability_chart):
        spec = build(p).to_dict(validate=True)
        fields = {
            enc.get("field")
            for layer in spec["layer"]
            for enc in layer.get("encoding", {}).values()
            if isinstance(enc, dict)
        }
        assert not any(name in str(f) for f in fields)
