"""thalia-demo: the simulation is deterministic and complete; a fast run writes a valid directory."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from thalia_logging.demo import LINES_PER_SECOND, existing_run_files, main, run_demo, write_event
from thalia_logging.simulation import (
    REGIONS,
    STAGES,
    DemoConfig,
    DemoConfigError,
    DemoEvent,
    simulate,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = {
    p.name.removesuffix(".schema.json"): Draft202012Validator(json.loads(p.read_text()))
    for p in (REPO / "schemas").glob("*.schema.json")
}
SMALL = DemoConfig(total_steps=8_000, seed=7)


def _events(config: DemoConfig = SMALL) -> list[DemoEvent]:
    return list(simulate(config))


# --- the pure simulation ----------------------------------------------------------------------


def test_same_seed_same_events_other_seed_other_events():
    assert _events() == _events()
    assert _events() != _events(DemoConfig(total_steps=8_000, seed=8))


@pytest.mark.parametrize("total_steps", [800, 8_000, 200_000])
def test_every_event_kind_appears_in_short_and_long_runs(total_steps: int):
    kinds = Counter(e.kind for e in simulate(DemoConfig(total_steps=total_steps)))
    assert set(kinds) == {"stage", "metrics", "growth", "consolidation", "metadata"}
    assert kinds["stage"] == len(STAGES)
    assert kinds["metrics"] == total_steps // 100 + 1


def test_stages_weeks_and_steps_progress_in_order():
    events = _events()
    steps = [e.step for e in events]
    assert steps == sorted(steps)
    stages = [(e.fields["stage"], e.fields["name"]) for e in events if e.kind == "stage"]
    assert stages == [(i, s.name) for i, s in enumerate(STAGES)]
    meta = [e for e in events if e.kind == "metadata"]
    assert meta[-1].step == SMALL.total_steps
    assert all(m.fields["total_steps"] == SMALL.total_steps for m in meta)
    assert all(1 <= m.fields["current_week"] <= m.fields["total_weeks"] for m in meta)
    pairs = [(m.fields["current_stage"], m.fields["current_week"]) for m in meta]
    assert pairs == sorted(pairs)
    assert {m.fields["stage_name"] for m in meta} == {s.name for s in STAGES}


def test_metric_curves_look_like_training():
    lines = [e for e in _events(DemoConfig(total_steps=40_000)) if e.kind == "metrics"]
    rates = [m.fields["firing_rate"] for m in lines]
    assert 0.08 < sum(rates) / len(rates) < 0.12
    per_stage = len(lines) // len(STAGES)
    first = lines[:per_stage]
    assert first[-1].fields["loss"] < first[0].fields["loss"] / 2  # loss falls within a stage
    assert first[-1].fields["performance"] > first[0].fields["performance"] + 0.4
    jump = lines[per_stage]  # first line of stage 1: loss jumps up
    assert jump.fields["loss"] > 2 * lines[per_stage - 1].fields["loss"]
    for m in lines:
        assert set(m.fields["neuron_counts"]) == set(REGIONS) == set(m.fields["capacity_by_region"])
        assert 0 < m.fields["lr"] <= 1e-3 and m.fields["grad_norm"] > 0 and m.fields["val_loss"] > 0
        assert all(math.isfinite(v) for k, v in m.fields.items() if isinstance(v, float))


def test_growth_raises_the_neuron_count_and_drops_the_capacity():
    events = _events()
    totals = {r: n for r, (n, _, _) in REGIONS.items()}
    grew = 0
    for i, e in enumerate(events):
        if e.kind != "growth":
            continue
        grew += 1
        region = e.fields["region"]
        assert e.fields["new_total"] == totals[region] + e.fields["neurons_added"]
        assert e.fields["neurons_added"] > 0 and "capacity" in e.fields["reason"]
        totals[region] = e.fields["new_total"]
        after = next((x for x in events[i + 1 :] if x.kind == "metrics"), None)
        if after is not None:  # a growth at the last step has no metric line after it
            assert after.fields["neuron_counts"][region] == totals[region]
    assert grew >= len(STAGES)


def test_consolidations_alternate_nrem_then_rem_and_milestones_latch():
    events = _events(DemoConfig(total_steps=40_000))
    sleeps = [e.fields["sleep_stage"] for e in events if e.kind == "consolidation"]
    assert sleeps[0] == "NREM" and len(sleeps) >= 2 * len(STAGES)
    assert all(a != b for a, b in itertools.pairwise(sleeps))
    meta = [e.fields for e in events if e.kind == "metadata"]
    for stage, spec in enumerate(STAGES):
        seen = [m["milestones"] for m in meta if m["current_stage"] == stage]
        assert all(set(ms) == {n for n, _ in spec.milestones} for ms in seen)
        for before, after in itertools.pairwise(seen):
            assert all(after[k] for k, v in before.items() if v)  # once passed, stays passed
    assert any(all(m["milestones"].values()) for m in meta)
    assert any(m["warnings"] for m in meta) and not all(m["warnings"] for m in meta)


@pytest.mark.parametrize("steps", [0, 100, 799])
def test_too_few_steps_is_refused_with_a_hint(steps: int):
    with pytest.raises(DemoConfigError, match="--steps must be at least 800"):
        DemoConfig(total_steps=steps)


# --- the pacing loop --------------------------------------------------------------------------


class _RecordingLogger:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.closed = False

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))

        return record

    def close(self) -> None:
        self.closed = True


class _FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.naps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("speed", [1.0, 10.0])
def test_run_demo_paces_metric_lines_and_flushes_before_each_pause(speed: float, tmp_path: Path):
    clock, made = _FakeClock(), []

    def factory(**kwargs: Any) -> _RecordingLogger:
        made.append(_RecordingLogger(**kwargs))
        return made[0]

    events = _events()
    last = run_demo(tmp_path, events, speed=speed, logger_factory=factory, clock=clock,
                    sleep=clock.sleep)  # fmt: skip
    logger = made[0]
    assert last == SMALL.total_steps and logger.closed
    assert logger.kwargs["log_dir"] == tmp_path and logger.kwargs["file_log"] is True
    n_metrics = sum(e.kind == "metrics" for e in events)
    expected = (n_metrics - 1) / (LINES_PER_SECOND * speed)
    assert clock.now - 1000.0 == pytest.approx(expected)
    names = [c[0] for c in logger.calls]
    assert names.count("flush") >= len(clock.naps)
    assert names.count("log_metrics") == n_metrics
    assert names.count("write_metadata") == sum(e.kind == "metadata" for e in events)


def test_run_demo_at_infinite_speed_never_sleeps(tmp_path: Path):
    naps: list[float] = []
    run_demo(tmp_path, _events(), speed=math.inf, logger_factory=_RecordingLogger,
             sleep=naps.append)  # fmt: skip
    assert naps == []


def test_write_event_maps_each_kind_to_the_logger_call():
    logger = _RecordingLogger()
    write_event(logger, DemoEvent("growth", 5, {"region": "cortex", "neurons_added": 32,
                                                "new_total": 64, "reason": "r"}))  # fmt: skip
    write_event(logger, DemoEvent("stage", 6, {"stage": 1, "name": "phonology"}))
    assert logger.calls == [
        ("log_growth", (5, "cortex", 32, 64), {"reason": "r"}),
        ("log_stage", (6, 1), {"name": "phonology"}),
    ]


# --- end to end through CurriculumLogger ------------------------------------------------------


def _validate_dir(directory: Path) -> Counter[str]:
    kinds: Counter[str] = Counter()
    with (directory / "training_log.jsonl").open("rb") as fh:
        for raw in fh:
            assert raw.endswith(b"\n")
            line = json.loads(raw)
            kind = line["event_type"]
            errors = list(SCHEMAS[kind].iter_errors(line))
            assert not errors, (kind, errors[0].message)
            kinds[kind] += 1
    for path in directory.glob("metadata_*.json"):
        meta = json.loads(path.read_text())
        assert path.name == f"metadata_{meta['step']}.json"
        errors = list(SCHEMAS["metadata"].iter_errors(meta))
        assert not errors, (path.name, errors[0].message)
        kinds["metadata"] += 1
    return kinds


def test_a_fast_run_writes_a_directory_that_follows_the_schemas(tmp_path: Path):
    run_dir = tmp_path / "demo"
    run_demo(run_dir, simulate(SMALL), speed=math.inf)
    kinds = _validate_dir(run_dir)
    assert set(kinds) == {
        "run_start",
        "stage",
        "metric",
        "growth",
        "consolidation",
        "metadata",
        "run_end",
    }
    assert kinds["metric"] == SMALL.total_steps // SMALL.stride + 1
    assert (run_dir / "console.log").stat().st_size > 0
    latest = json.loads((run_dir / f"metadata_{SMALL.total_steps}.json").read_text())
    assert latest["total_steps"] == SMALL.total_steps and latest["stage_name"] == "reading"


def test_cli_refuses_an_existing_run_unless_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    run_dir = tmp_path / "demo"
    assert main([str(run_dir), "--steps", "800", "--speed", "inf"]) == 0
    first = (run_dir / "training_log.jsonl").read_bytes()
    (run_dir / "model.pt").write_bytes(b"weights")
    assert main([str(run_dir), "--steps", "800", "--speed", "inf"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (
        main([str(run_dir), "--steps", "800", "--speed", "inf", "--overwrite", "--seed", "3"]) == 0
    )
    assert (run_dir / "training_log.jsonl").read_bytes() != first
    assert (run_dir / "model.pt").read_bytes() == b"weights"  # only the logger's files go
    assert {p.name for p in existing_run_files(run_dir)} >= {"training_log.jsonl", "console.log"}
    _validate_dir(run_dir)


@pytest.mark.parametrize("argv", [["--steps", "10"], ["--speed", "0"], ["--speed", "-1"]])
def test_cli_rejects_bad_values(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert main([str(tmp_path / "d"), *argv]) == 2
    assert "thalia-demo:" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_demo_does_not_import_streamlit_or_torch():
    code = (
        "import sys, thalia_logging.demo, thalia_logging.simulation; "
        "bad = {'streamlit', 'torch', 'altair', 'watchdog'} & set(sys.modules); "
        "print(*sorted(bad)); sys.exit(1 if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
