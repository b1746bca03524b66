"""thalia-report: exit codes, JSON summary, PNGs, escaping of run text, no Streamlit, bad input."""

from __future__ import annotations

import html
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from report_helpers import INJECTION, make_run, metric, write_lines

from dashboard import load_training_state
from dashboard.commands import report
from dashboard.commands.report_facts import direction, run_facts, summary_json
from dashboard.commands.report_html import javascript_bundle, render_html
from dashboard.page.text import plain


@pytest.fixture(scope="module")
def bundle() -> str:
    return javascript_bundle()


@pytest.mark.parametrize(
    ("kind", "code", "mark"),
    [
        ("healthy", 0, "✓ Firing rate in its healthy band"),
        ("warning", 1, "⚠️  WARNING: Firing rate"),
        ("critical", 2, "✗ CRITICAL: Loss became NaN"),
    ],
)
def test_exit_code_and_diagnosis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, code: int, mark: str
) -> None:
    run = make_run(tmp_path / "run", kind=kind)
    out = tmp_path / "out.html"
    assert report.main([str(run), "-o", str(out)]) == code
    stdout = capsys.readouterr().out
    assert mark in stdout
    assert "📊 Training diagnostics" in stdout
    assert out.stat().st_size > 100_000  # the Vega bundle is inlined
    if code:
        assert (
            "→ try" in stdout.lower() or "consider" in stdout.lower()
        )  # every alert suggests a fix


def test_json_summary_matches_the_reader(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", kind="warning")
    out = tmp_path / "summary.json"
    assert report.main([str(run), "-o", "-", "--json", str(out)]) == 1
    summary = json.loads(out.read_text())
    frame = load_training_state(run).metrics_history
    loss = frame["loss"].to_numpy()
    m = summary["metrics"]["loss"]
    assert m["direction"] == "down"
    assert m["last"] == pytest.approx(loss[-1]) and m["last_step"] == int(frame["step"].iloc[-1])
    assert m["min"] == pytest.approx(loss.min()) and m["max"] == pytest.approx(loss.max())
    assert m["best"] == pytest.approx(loss.min())
    assert m["best_step"] == int(frame["step"].iloc[int(np.argmin(loss))])
    perf = summary["metrics"]["performance"]
    assert perf["direction"] == "up" and perf["best"] == pytest.approx(frame["performance"].max())
    assert summary["metrics"]["firing_rate"]["best"] is None  # neutral: no best
    assert summary["metrics"]["val_loss"]["count"] == 50
    assert summary["milestones"] == {
        "total": 2,
        "passed": 1,
        "items": {"mnist plain": True, "sequence": False},
    }
    assert summary["status"] == "finished" and summary["exit_code"] == 1
    assert any(
        "Firing rate" in a["message"] and a["severity"] == "warning" for a in summary["alarms"]
    )
    assert summary["counts"]["growth_events"] == 4


def test_nonfinite_summary_is_valid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(tmp_path / "run", kind="critical")
    out = tmp_path / "summary.json"
    assert report.main([str(run), "-o", "-", "--json", str(out)]) == 2
    summary = json.loads(out.read_text())  # strict: no NaN tokens
    assert math.isfinite(summary["metrics"]["loss"]["last"])  # last *finite* value
    assert summary["alarms"][0]["severity"] == "critical"
    assert "loss: NaN at step 499, last finite" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("loss", "down"),
        ("val_loss", "down"),
        ("train_error", "down"),
        ("performance", "up"),
        ("val_accuracy", "up"),
        ("top1_acc", "up"),
        ("lr", "neutral"),
        ("firing_rate", "neutral"),
    ],
)
def test_direction(name: str, want: str) -> None:
    assert direction(name) == want


def test_pngs(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    pngs = tmp_path / "png"
    assert report.main([str(run), "-o", "-", "--png", str(pngs)]) == 0
    files = sorted(p.name for p in pngs.iterdir())
    for name in (
        "metric_loss.png",
        "metric_performance.png",
        "growth_neurons.png",
        "consolidation.png",
        "train-val_val_loss.png",
        "gap_val_loss.png",
    ):
        assert name in files
    for p in pngs.iterdir():
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, p.name


@pytest.mark.parametrize("payload", INJECTION)
def test_run_text_is_escaped(tmp_path: Path, payload: str, bundle: str) -> None:
    run = make_run(tmp_path / "run", text=payload)
    extra = metric(500, **{f"m{payload}": 1.0})  # a metric whose *name* is hostile
    write_lines(run / "training_log.jsonl", [extra], mode="a")
    page = render_html(run_facts(load_training_state(run)), bundle=bundle)
    body = page.replace(bundle, "")
    assert body.count("<script") == 2  # the bundle and the embed call: nothing injected
    assert "<img" not in body and "<svg" not in body  # no raw tag: "<" always escaped
    assert "</script><script>alert" not in body
    for shown in (f"mnist {payload}", f"full {payload}", f"m{payload}"):
        assert html.escape(plain(shown)) in body, shown  # shown, as text


def test_live_legacy_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Older Thalia logs: training_log.json, no event_type, no wall_time, no metadata yet."""
    run = tmp_path / "legacy"
    run.mkdir()
    write_lines(
        run / "training_log.json",
        [
            {
                "step": s,
                "firing_rate": 0.1,
                "capacity": 0.4,
                "performance": 0.6,
                "loss": 1 / (s + 1),
            }
            for s in range(50)
        ],
    )
    out = tmp_path / "r.html"
    code = report.main([str(run), "-o", str(out)])
    assert code in (0, 1)  # a legacy run may warn (plateau/stall), never crash
    assert "loss: 0.02" in capsys.readouterr().out
    assert "Current and best metrics" in out.read_text()


def test_empty_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main([str(tmp_path / "missing")]) == report.EXIT_ERROR
    assert "no such directory" in capsys.readouterr().err
    file = tmp_path / "file"
    file.write_text("x")
    assert report.main([str(file)]) == report.EXIT_ERROR
    assert "is a file" in capsys.readouterr().err
    run = make_run(tmp_path / "run")
    before = sorted(p.name for p in run.iterdir())
    assert report.main([str(run), "-o", str(run / "r.html")]) == report.EXIT_ERROR
    assert "inside the checkpoint directory" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "e.html"
    assert report.main([str(empty), "-o", str(out)]) == 0
    assert "No charts yet" in out.read_text()


def test_imports_no_streamlit(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    code = (
        "import sys\n"
        "from dashboard.commands import report, top\n"
        f"rc = report.main([{str(run)!r}, '-o', {str(tmp_path / 'r.html')!r}])\n"
        "assert rc == 0, rc\n"
        "assert 'streamlit' not in sys.modules, 'streamlit imported'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


def test_summary_counts_config(tmp_path: Path) -> None:
    facts = run_facts(load_training_state(make_run(tmp_path / "run")))
    assert facts.configs and facts.configs[0]["config"] == {"lr": 0.001, "note": "plain"}
    assert summary_json(facts)["counts"]["consolidation_events"] == 4


def test_train_val_panels_are_the_run_pages(tmp_path: Path, bundle: str) -> None:
    """A run logging val_loss next to loss gets the run page's four train/validation panels
    (train and val on one chart, gap, improvement with NEW BEST, stability), not two lone charts."""
    run = tmp_path / "run"
    run.mkdir()
    lines = [metric(s, loss=2.0 - s / 1000) for s in range(0, 1000, 10)]
    lines += [{**metric(s), "val_loss": 2.1 - s / 1100} for s in range(0, 1000, 100)]
    lines.sort(key=lambda r: r["step"])
    write_lines(run / "training_log.jsonl", lines)
    from dashboard.commands.report_html import report_charts

    charts, _ = report_charts(run_facts(load_training_state(run)))
    keys = {c.key for c in charts}
    assert {
        "train-val:val_loss",
        "gap:val_loss",
        "improvement:val_loss",
        "stability:val_loss",
    } <= keys
    panels = [
        c for c in charts if c.key.split(":")[0] in ("train-val", "gap", "improvement", "stability")
    ]
    assert len(panels) == 4 and {c.section for c in panels} == {"Train / validation"}
    page = render_html(run_facts(load_training_state(run)), bundle=bundle)
    assert "Train / validation" in page


@pytest.mark.parametrize("end", ["failed", "killed", "crashed"])
def test_status_badge_names_every_lifecycle_kind(tmp_path: Path, bundle: str, end: str) -> None:
    """A run that ended badly is not drawn in the grey "waiting" badge: every lifecycle kind
    has its own CSS class."""
    from typing import get_args

    from dashboard.analysis.lifecycle import LifecycleKind
    from dashboard.commands.report_style import CSS

    for kind in get_args(LifecycleKind):
        assert f".{kind}" in CSS, kind
    run = tmp_path / "run"
    run.mkdir()
    # a logger on another host that wrote run_start; it ends with run_end, or (crashed) goes
    # quiet for days without one
    start = {"event_type": "run_start", "step": 0, "wall_time": 1_000_000.0, "host": "node-7"}
    start |= {"schema_version": 2, "run_id": "r1", "resumed_from_step": None, "config": {}}
    start["pid"] = 4242
    records = [start] + [metric(s) for s in range(11)]
    if end != "crashed":
        records.append(
            {"event_type": "run_end", "step": 10, "wall_time": 1_000_010.0, "status": end}
        )
    write_lines(run / "training_log.jsonl", records)
    facts = run_facts(load_training_state(run))
    assert facts.status.kind == end
    assert f'class="badge {end}"' in render_html(facts, bundle=bundle)
