"""Missing is not NaN: the loader's record of explicitly logged non-finite values, and the health
checks and charts that read it (through real log lines, not hand-built frames)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reader_helpers import metric, run_start

from dashboard import load_training_state
from dashboard.analysis.health import check_health
from dashboard.page.charts import metric_chart
from dashboard.reading.arrow_fastpath import parse_block
from dashboard.reading.line_parser import parse_line
from dashboard.run_state import FRAME_COLUMNS, HealthWarning, NonFinite, RunState


def write(directory: Path, *lines: bytes | str, name: str = "training_log.jsonl") -> None:
    with (directory / name).open("ab") as fh:
        for item in lines:
            fh.write(item if isinstance(item, bytes) else item.encode() + b"\n")


def raw(step: int, **fields: Any) -> str:
    """A metric line with ``fields`` written verbatim (so ``"NaN"`` and bare ``NaN`` differ)."""
    body = ", ".join(f'"{k}": {v}' for k, v in fields.items())
    return f'{{"step": {step}, "wall_time": {4000.0 + step}, "loss": 0.5, {body}}}'.replace(
        ", }", "}"
    )


def summary(found: NonFinite | None) -> tuple[object, ...] | None:
    """``found`` as a tuple that compares NaN equal to NaN (a dataclass with NaN never does)."""
    if found is None:
        return None
    return (
        found.count,
        found.first_step,
        found.last_step,
        repr(found.first_value),
        repr(found.last_value),
    )


def health(state: RunState, rank: int = 0) -> list[HealthWarning]:
    """The health warnings just after the newest line (so the run is not stalled)."""
    return check_health(state, now=state.last_update or 0.0, rank=rank)


def critical(state: RunState) -> list[str]:
    return [w.message for w in health(state) if w.severity == "critical"]


def test_metric_line_without_grad_norm_is_not_a_nan(tmp_path: Path) -> None:
    write(tmp_path, *(metric(s, grad_norm=0.5) for s in range(10)), metric(10))
    state = load_training_state(tmp_path)
    assert math.isnan(state.metrics_history["grad_norm"].iloc[-1])  # missing reads as NaN...
    assert state.nonfinite.empty and state.logged_nonfinite("grad_norm") is None  # ...not logged
    assert health(state) == []


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        ('"NaN"', "NaN"),
        ("NaN", "NaN"),
        ('"Infinity"', "Infinity"),
        ("-Infinity", "-Infinity"),
        ("1e999", "Infinity"),
    ],
)
def test_logged_nonfinite_grad_norm_is_critical(tmp_path: Path, token: str, shown: str) -> None:
    write(tmp_path, *(raw(s, grad_norm=0.5) for s in range(5)), raw(5, grad_norm=token))
    state = load_training_state(tmp_path)
    value = repr(float(shown.lower()))
    assert summary(state.logged_nonfinite("grad_norm")) == (1, 5, 5, value, value)
    assert any(f"grad_norm is {shown} at step 5" in m for m in critical(state))


def test_legacy_bare_nan_loss_counts_as_logged(tmp_path: Path) -> None:
    write(
        tmp_path,
        '{"step": 0, "loss": 1.0}',
        '{"step": 1, "loss": NaN}',
        '{"step": 2}',
        name="training_log.json",
    )
    state = load_training_state(tmp_path)
    nf = state.nonfinite
    assert (nf["step"].tolist(), nf["rank"].tolist(), nf["column"].tolist()) == ([1], [0], ["loss"])
    assert math.isnan(nf["value"].iloc[0])
    assert [m for m in critical(state) if "Loss became NaN at step 1 (1 non-finite" in m]


def test_every_metric_column_kind_is_recorded(tmp_path: Path) -> None:
    line = {
        "event_type": "metric",
        "step": 3,
        "firing_rate": "NaN",
        "loss": 0.1,
        "lr": "Infinity",
        "capacity_by_region": {"cortex": "-Infinity"},
        "neuron_counts": {"cortex": 4},
    }
    write(tmp_path, json.dumps(line))
    nf = load_training_state(tmp_path).nonfinite
    assert list(nf.columns) == list(FRAME_COLUMNS["nonfinite"])
    assert nf["column"].tolist() == ["capacity_by_region.cortex", "firing_rate", "lr"]
    assert [str(t) for t in nf.dtypes] == list(FRAME_COLUMNS["nonfinite"].values())


def test_resume_abandoning_the_nan_rows_clears_the_warning(tmp_path: Path) -> None:
    write(tmp_path, *(raw(s, grad_norm=0.5) for s in range(0, 50, 10)), raw(50, grad_norm='"NaN"'))
    assert critical(load_training_state(tmp_path))
    write(
        tmp_path,
        run_start(40, resumed_from_step=40),
        *(raw(s, grad_norm=0.4) for s in range(40, 80, 10)),
    )
    state = load_training_state(tmp_path)
    assert state.nonfinite.empty and critical(state) == []
    assert [r.step for r in state.restarts] == [40]


def test_resume_keeps_nan_rows_before_the_resume_step(tmp_path: Path) -> None:
    write(
        tmp_path,
        raw(10, val_loss='"NaN"'),
        raw(20, val_loss=1.0),
        raw(30, val_loss=1.0),
        run_start(20, resumed_from_step=20),
        raw(20, val_loss=0.9),
    )  # resumed at 20: the NaN at 10 stays
    state = load_training_state(tmp_path)
    assert summary(state.logged_nonfinite("val_loss")) == (1, 10, 10, "nan", "nan")
    assert state.metrics_history["step"].tolist() == [10, 20]


def test_newer_line_at_the_same_step_merges_field_by_field(tmp_path: Path) -> None:
    write(tmp_path, raw(1, grad_norm=0.5), raw(2, grad_norm='"NaN"'), raw(2))
    # the newer line for step 2 does not carry grad_norm: the logged NaN stays
    assert summary(load_training_state(tmp_path).logged_nonfinite("grad_norm")) == (
        1,
        2,
        2,
        "nan",
        "nan",
    )
    write(tmp_path, raw(2, grad_norm=0.7))
    state = load_training_state(tmp_path)
    assert state.nonfinite.empty  # a later finite value replaces the logged NaN
    assert state.metrics_history["grad_norm"].tolist() == [0.5, 0.7]
    write(
        tmp_path,
        raw(2, grad_norm="NaN"),
        '{"event_type": "growth", "step": 2, "region": "c", "neurons_added": 1, "new_total": 2}',
    )  # a growth event does not replace a metric line
    assert load_training_state(tmp_path).logged_nonfinite("grad_norm") is not None


def test_truncated_file_drops_what_was_read_from_it(tmp_path: Path) -> None:
    from dashboard import RunWatcher

    log = tmp_path / "training_log.jsonl"
    with RunWatcher(tmp_path, use_watchdog=False, poll_interval_s=0.0) as w:
        write(tmp_path, raw(1, loss_scale='"Infinity"'), raw(2))
        assert w.refresh().logged_nonfinite("loss_scale") is not None
        log.write_bytes((raw(1, loss_scale=2.0) + "\n").encode())  # shorter: read again from 0
        w.mark_dirty()
        assert w.refresh().nonfinite.empty


def test_ranks_are_kept_apart(tmp_path: Path) -> None:
    write(tmp_path, raw(1), raw(2))
    write(
        tmp_path,
        raw(1),
        raw(2, loss='"NaN"').replace('"loss": 0.5, ', ""),
        name="training_log.rank1.jsonl",
    )
    state = load_training_state(tmp_path)
    assert state.logged_nonfinite("loss", 0) is None
    assert summary(state.logged_nonfinite("loss", 1)) == (1, 2, 2, "nan", "nan")
    assert summary(state.logged_nonfinite("loss")) == (1, 2, 2, "nan", "nan")  # any rank
    assert critical(state) == [] and health(state, rank=1)[0].severity == "critical"


def test_parser_names_nonfinite_columns_and_block_parser_refuses_them() -> None:
    assert "_nonfinite" not in parse_line(raw(1, lr=0.1).encode())[1]
    assert parse_line(raw(1, lr='"NaN"', loss_scale="Infinity").encode())[1]["_nonfinite"] == (
        "lr",
        "loss_scale",
    )
    clean = b"".join(metric(s) for s in range(20))
    assert parse_block(clean) is not None
    # pyarrow itself reads bare NaN/Infinity/Inf as floats: the block parser must still refuse
    for token in (b'"NaN"', b"NaN", b'"-Infinity"', b"Infinity", b"-Inf", b"1e999"):
        assert parse_block(clean + raw(20, lr=token.decode()).encode() + b"\n") is None
    assert parse_block(clean + b'{"step": 20, "wall_time": NaN, "loss": 1}\n') is None


def _marker_rows(chart: Any) -> list[tuple[int, str]]:
    spec = chart.to_dict()
    layer = next(
        (lay for lay in spec["layer"] if lay["mark"].get("shape") == "triangle-down"), None
    )
    if layer is None:
        return []
    return [(r["step"], r["value"]) for r in spec["datasets"][layer["data"]["name"]]]


def test_chart_marks_only_logged_nonfinite_values(tmp_path: Path) -> None:
    lines = [raw(s, grad_norm=0.5, lr=0.1) for s in range(10)]
    lines += [raw(10, grad_norm='"NaN"'), raw(11, lr='"Infinity"'), raw(12, val_loss='"NaN"')]
    write(tmp_path, *lines)
    state = load_training_state(tmp_path)
    metrics = state.metrics_history
    for column, expected in (
        ("grad_norm", [(10, "NaN")]),
        ("lr", [(11, "Infinity")]),
        ("loss", []),
        ("val_loss", [(12, "NaN")]),
    ):
        chart = metric_chart(metrics, column, nonfinite=state.nonfinite_rows(column, 0))
        assert chart is not None, column  # val_loss: only a logged NaN, still a chart
        assert _marker_rows(chart) == expected, column
        chart.to_dict(validate=True)
    # without the record, a NaN in the frame is "not logged": no marker
    grad = metric_chart(metrics, "grad_norm")
    assert grad is not None and _marker_rows(grad) == []
    assert metric_chart(metrics, "val_loss") is None


def test_markers_are_thinned_keeping_first_and_last() -> None:
    from page_helpers import logged_nonfinite, make_metrics

    n = 20_000
    loss = np.linspace(2, 1, n)
    loss[5_000:] = math.nan
    metrics = make_metrics(n, loss=loss)
    chart = metric_chart(
        metrics, "loss", nonfinite=logged_nonfinite(metrics, "loss"), max_points=1000
    )
    assert chart is not None
    rows = _marker_rows(chart)
    assert len(rows) <= 499 and rows[0] == (500_000, "NaN") and rows[-1] == ((n - 1) * 100, "NaN")
