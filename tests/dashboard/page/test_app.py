"""The page under Streamlit's AppTest: shown texts and values for the runs users meet."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from page_helpers import write_lines, write_metadata
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from dashboard.page.text import escape_markdown

APP = str(Path(__file__).resolve().parents[3] / "dashboard" / "app.py")
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def _release_watchers() -> Iterator[None]:
    """Drop the cached watchers after each page run, so their observer threads stop (the
    suite-wide guard in tests/conftest.py then checks that nothing is left running)."""
    yield
    st.cache_resource.clear()  # on_release closes every cached RunWatcher


def run_page(directory: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(directory))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, tuple[str, Any]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def alerts(at: AppTest) -> dict[str, list[str]]:
    return {
        "error": [e.value for e in at.error],
        "warning": [w.value for w in at.warning],
        "info": [i.value for i in at.info],
    }


def charts_shown(at: AppTest) -> list[Any]:
    return list(at.get("vega_lite_chart"))


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def metric_line(step: int, loss: float, **extra: Any) -> dict[str, Any]:
    return {
        "event_type": "metric",
        "step": step,
        "wall_time": time.time() - 600 + step / 100,
        "firing_rate": 0.12,
        "capacity": 0.6,
        "performance": 0.8 + step / 1e6,
        "loss": loss,
        "neuron_counts": {"cortex": 1000 + step // 100, XSS: 50},
        "capacity_by_region": {"cortex": 0.5, XSS: 0.7},
        **extra,
    }


def normal_run(d: Path) -> None:
    now = time.time()
    records: list[dict[str, Any]] = [
        {
            "event_type": "run_start",
            "step": 0,
            "wall_time": now - 600,
            "schema_version": 1,
            "run_id": "r1",
            "resumed_from_step": None,
            "config": {},
        },
        {"event_type": "stage", "step": 0, "wall_time": now - 600, "stage": 1, "name": "sensory"},
    ]
    records += [metric_line(s, 2.0 - s / 10_000) for s in range(0, 5000, 100)]
    records += [
        {
            "event_type": "growth",
            "step": 2000,
            "wall_time": now - 500,
            "region": XSS,
            "neurons_added": 50,
            "new_total": 1050,
            "reason": "capacity **high**",
        }
    ]
    records += [
        {
            "event_type": "consolidation",
            "step": s,
            "wall_time": now - 400,
            "sleep_stage": "NREM" if s % 2000 else "REM",
            "patterns_replayed": 100 + s // 100,
            "duration_steps": 40,
        }
        for s in (1000, 2000, 3000)
    ]
    records.sort(key=lambda r: r["step"])  # a logger writes in step order
    write_lines(d / "training_log.jsonl", records)
    write_metadata(
        d,
        4900,
        current_stage=1,
        stage_name="sensory",
        total_steps=10_000,
        milestones={
            "mnist_accuracy": True,
            "sequence_prediction": True,
            "phoneme_discrimination": False,
        },
        warnings=[{"severity": "info", "message": "checkpoint _saved_ to [disk](x)"}],
    )
    (d / "console.log").write_text("step 4800 loss=1.52\nstep 4900 loss=1.51\n", encoding="utf-8")


def test_normal_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    normal_run(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    at = run_page(tmp_path, monkeypatch)
    shown = metrics(at)
    assert shown["Stage"][0] == "1" and "sensory" in [t.value for t in at.text]
    assert [m.value for m in at.markdown if "badge" in m.value] == [
        ":green-badge[:material/play_circle: Running]"
    ]
    colors = {m.label: Metric.MetricColor.Name(m.proto.color) for m in at.metric}
    # firing rate and capacity have no good direction (grey); loss went down: good (green)
    assert (colors["Firing rate"], colors["Capacity"], colors["Loss"]) == ("GRAY", "GRAY", "GREEN")
    assert shown["Week"][0] == "2/4"
    assert shown["Training step"][0] == "4,900"
    assert shown["Firing rate"][0] == "12.0%"
    assert shown["Loss"] == ("1.51", "-0.01")
    assert shown["Total"][0] == "3" and shown["Passed"][0] == "2"
    assert shown["Completion"][0] == "67%"
    assert shown["Growth events"][0] == "1" and shown["Consolidations"][0] == "3"
    assert shown["Total events"][0] == "3" and shown["Avg patterns replayed"][0] == "120.0"
    assert shown["Steps/s"][0] == "100.0" and shown["ETA"][0] == "51 s"
    assert alerts(at)["info"] == [escape_markdown("checkpoint _saved_ to [disk](x)")]
    assert at.error == [] and at.warning == []
    assert "✅ mnist_accuracy" in texts(at) and "❌ phoneme_discrimination" in texts(at)
    pick = at.multiselect(key="metric_pick")
    assert pick.options == ["Firing rate", "Capacity", "Performance", "Loss"]
    assert pick.value == ["firing_rate", "capacity", "performance", "loss"]
    assert len(charts_shown(at)) == 4 + 3  # the picked metrics, neurons, capacity, consolidation
    growth = at.dataframe[0].value
    assert growth["Region"].tolist() == [XSS] and growth["Reason"].tolist() == ["capacity **high**"]
    assert "step 4900 loss=1.51" in at.code[-1].value
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before  # read-only


def test_missing_and_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page(tmp_path / "not-yet", monkeypatch)
    assert "Waiting for the checkpoint directory" in alerts(at)["info"][0]
    assert at.code[0].value == str(tmp_path / "not-yet")
    assert not (tmp_path / "not-yet").exists()
    at = run_page(tmp_path, monkeypatch)
    assert "No training logs yet" in alerts(at)["info"][0]


def test_logs_without_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lines(tmp_path / "training_log.jsonl", [metric_line(s, 1.0) for s in (0, 100)])
    at = run_page(tmp_path, monkeypatch)
    assert "No checkpoint metadata yet" in alerts(at)["info"][0]
    assert metrics(at)["Training step"][0] == "100"


def test_nan_loss_shows_critical_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [metric_line(s, 1.0) for s in range(0, 1000, 100)]
    lines += [metric_line(s, float("nan")) for s in range(1000, 1300, 100)]
    write_lines(tmp_path / "training_log.jsonl", lines)
    write_metadata(tmp_path, 1200)
    at = run_page(tmp_path, monkeypatch)
    assert len(at.error) == 1
    assert at.error[0].value == escape_markdown(
        "Loss became NaN at step 1,000 (3 non-finite points so far): training has diverged. "
        "Consider a lower learning rate."
    )
    assert metrics(at)["Loss"] == ("NaN", "")  # AppTest shows "no delta" as ""


def test_nan_loss_then_recovery_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [metric_line(s, 1.0) for s in range(0, 1000, 100)]
    lines += [metric_line(1000, float("nan"))]
    lines += [metric_line(s, 0.9) for s in range(1100, 5000, 100)]
    write_lines(tmp_path / "training_log.jsonl", lines)
    write_metadata(tmp_path, 4900)
    at = run_page(tmp_path, monkeypatch)
    assert at.error == []
    assert alerts(at)["warning"] == [
        escape_markdown(
            "Non-finite loss at step 1,000 (1 point) — recovered since step 1,100: the losses logged "
            "since then are finite."
        )
    ]


def test_bad_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lines(
        tmp_path / "training_log.jsonl",
        [metric_line(0, 1.0)],
        raw_tail='{"step": 100, "loss": \n' + "not json at all\n",
    )
    write_lines(tmp_path / "training_log.jsonl", [metric_line(200, 0.9)])
    write_metadata(tmp_path, 200)
    at = run_page(tmp_path, monkeypatch)
    assert metrics(at)["Bad lines skipped"][0] == "2"
    assert alerts(at)["warning"] == [
        escape_markdown("2 bad lines skipped; see Training information for details.")
    ]
    table = at.dataframe[-1].value
    assert table["File"].tolist() == ["training_log.jsonl"] * 2
    assert table["Line (start)"].tolist()[-1].startswith("not json")
    assert metrics(at)["Training step"][0] == "200"


def test_older_thalia_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        '{"step": 1000, "firing_rate": 0.11, "capacity": 0.65, "performance": 0.5, "loss": 0.9}',
        '{"step": 2000, "firing_rate": 0.12, "capacity": 0.7, "performance": 0.6, "loss": NaN}',
        '{"step": 2000, "event_type": "growth", "region": "cortex", "neurons_added": 10, '
        '"new_total": 110, "reason": "capacity"}',
        '{"step": 3000, "event_type": "consolidation", "sleep_stage": "REM", '
        '"patterns_replayed": 150, "duration_steps": 20}',
    ]
    (tmp_path / "training_log.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_metadata(
        tmp_path,
        50000,
        current_stage=0,
        metrics={"loss": 0.234},
        milestones={"mnist_accuracy": True},
        warnings=["Capacity nearly full"],
    )
    at = run_page(tmp_path, monkeypatch)
    shown = metrics(at)
    assert shown["Training step"][0] == "50,000" and shown["Stage"][0] == "0"
    assert shown["Growth events"][0] == "1" and shown["Consolidations"][0] == "1"
    assert shown["Loss"][0] == "NaN"
    assert escape_markdown("Capacity nearly full") in alerts(at)["warning"]
    assert "NaN at step 2,000" in at.error[0].value.replace("\\", "")
    assert shown["Completion"][0] == "100%"


def test_many_milestones_are_one_text_per_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty milestones: three text elements (one per column), not forty, in their order."""
    write_lines(tmp_path / "training_log.jsonl", [metric_line(0, 1.0)])
    names = {f"milestone_{i:02d}": i % 3 != 0 for i in range(40)}
    write_metadata(tmp_path, 0, milestones=names)
    at = run_page(tmp_path, monkeypatch)
    columns = [t.value.splitlines() for t in at.text if t.value[:1] in "✅❌"]
    assert len(columns) == 3
    shown = [line for i in range(14) for col in columns if i < len(col) for line in [col[i]]]
    assert shown == [f"{'✅' if ok else '❌'} {name}" for name, ok in names.items()]


def test_rank_selector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lines(tmp_path / "training_log.jsonl", [metric_line(0, 1.0), metric_line(100, 0.5)])
    write_lines(
        tmp_path / "training_log.rank1.jsonl",
        [metric_line(0, 3.0, rank=1), metric_line(100, 2.5, rank=1)],
    )
    write_metadata(tmp_path, 100)
    at = run_page(tmp_path, monkeypatch)
    assert at.selectbox(key="rank").value == 0
    assert metrics(at)["Loss"][0] == "0.5"
    at.selectbox(key="rank").set_value(1).run()
    assert metrics(at)["Loss"][0] == "2.5"


@pytest.mark.parametrize(
    ("minutes_ago", "total_steps", "badge", "warning", "eta"),
    [
        (
            47,
            None,
            ":orange-badge[:material/pause_circle: Stalled for 47 min]",
            "No new data for 47 min",
            "—",
        ),
        (
            47,
            5000,
            ":orange-badge[:material/pause_circle: Stalled for 47 min]",
            "No new data for 47 min",
            "—",
        ),  # stalled: no ETA
        (47, 900, ":blue-badge[:material/check_circle: Finished]", None, "done"),  # not "0 s"
    ],
)
def test_header_run_status(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    minutes_ago: int,
    total_steps: int | None,
    badge: str | None,
    warning: str | None,
    eta: str,
) -> None:
    then = time.time() - minutes_ago * 60
    write_lines(
        tmp_path / "training_log.jsonl",
        [
            {
                "event_type": "metric",
                "step": s,
                "wall_time": then - 900 + s,
                "firing_rate": 0.1,
                "capacity": 0.5,
                "performance": 0.5,
                "loss": 1.0,
            }
            for s in range(0, 901, 100)
        ],
    )
    extra = {} if total_steps is None else {"total_steps": total_steps}
    meta = write_metadata(tmp_path, 900, **extra)
    os.utime(meta, (then, then))
    at = run_page(tmp_path, monkeypatch)
    badges = [m.value for m in at.markdown if "badge" in m.value]
    assert badges == ([badge] if badge else [])
    stalled = [w for w in alerts(at)["warning"] if "no new data" in w.lower()]
    assert len(stalled) <= 1, stalled  # said once, not by the header and the health check both
    assert stalled[0].startswith(warning) if warning else not stalled, stalled
    assert metrics(at)["ETA"][0] == eta


def test_a_file_is_not_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "training_log.jsonl"
    write_lines(log, [metric_line(0, 1.0)])
    at = run_page(log, monkeypatch)
    shown = alerts(at)
    assert "This path is a file, not a directory" in shown["error"][0]
    assert not any("Waiting for the checkpoint directory" in i for i in shown["info"])
    assert at.code[0].value == str(log)


def test_missing_grad_norm_is_no_alarm_a_logged_nan_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real trainer's last metric line had no grad_norm: no "exploding gradients" for that."""
    lines = [metric_line(s, 1.0 - s / 10_000, grad_norm=0.5) for s in range(0, 1000, 100)]
    lines.append(metric_line(1000, 0.9))  # no grad_norm on the final line
    write_lines(tmp_path / "training_log.jsonl", lines)
    at = run_page(tmp_path, monkeypatch)
    assert alerts(at)["error"] == []
    assert "grad_norm" in at.multiselect(key="metric_pick").options
    write_lines(tmp_path / "training_log.jsonl", [metric_line(1100, 0.8, grad_norm=float("nan"))])
    at = run_page(tmp_path, monkeypatch)
    assert [e for e in alerts(at)["error"] if "grad" in e and "NaN at step 1,100" in e], alerts(at)


def test_picked_metric_survives_alerts_and_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The metric pick (and the other widgets) stay put while alerts and the first metadata come
    and go above them; only the picked metrics are charted."""
    log = tmp_path / "training_log.jsonl"
    write_lines(
        log,
        [
            metric_line(s, 1.0 - s / 1e5, lr=0.05, **{f"extra_{k}": k for k in range(30)})
            for s in range(0, 1000, 100)
        ],
    )
    at = run_page(tmp_path, monkeypatch)
    assert "No checkpoint metadata yet" in alerts(at)["info"][0]
    assert len(at.multiselect(key="metric_pick").options) == 4 + 1 + 30
    before = len(charts_shown(at))
    at.multiselect(key="metric_pick").set_value(["lr"])
    at.toggle(key="log_scale").set_value(True)
    at.slider(key="ema_weight").set_value(0.9)
    at.run()
    assert len(charts_shown(at)) == before - 3  # one metric chart instead of four

    def changed(change: Any) -> AppTest:
        change()
        st.cache_resource.clear()  # the next run reads the directory afresh, deterministically
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.multiselect(key="metric_pick").value == ["lr"]
        assert at.toggle(key="log_scale").value is True
        assert at.slider(key="ema_weight").value == 0.9
        return at

    changed(lambda: write_metadata(tmp_path, 900))  # the first metadata arrives
    assert not any("No checkpoint metadata" in i for i in alerts(at)["info"])
    changed(lambda: write_lines(log, [metric_line(1000, 0.9, lr=0.05, firing_rate=0.9)]))
    assert any("Firing rate" in w for w in alerts(at)["warning"])  # an alert appeared
    changed(lambda: write_lines(log, [metric_line(1100, 0.9, lr=0.05)]))
    assert not any("Firing rate" in w for w in alerts(at)["warning"])  # and went away
    assert len(charts_shown(at)) == before - 3


def _legacy_lines(path: Path, steps: range) -> None:
    """Older Thalia lines written with plain json: no event_type, no wall_time."""
    with path.open("a", encoding="utf-8") as f:
        for s in steps:
            f.write(
                json.dumps(
                    {
                        "step": s,
                        "firing_rate": 0.1,
                        "capacity": 0.5,
                        "performance": 0.5,
                        "loss": 1.0,
                    }
                )
                + "\n"
            )


def _badges(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "badge" in m.value]


def test_live_legacy_run_under_old_metadata_is_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = write_metadata(tmp_path, 0, total_steps=10_000)
    three_hours_ago = time.time() - 3 * 3600
    os.utime(meta, (three_hours_ago, three_hours_ago))
    _legacy_lines(tmp_path / "training_log.json", range(0, 500, 10))  # written just now
    at = run_page(tmp_path, monkeypatch)
    assert len(_badges(at)) == 1 and "Running" in _badges(at)[0], _badges(at)
    assert not [w for w in alerts(at)["warning"] if "no new data" in w.lower()]
    assert metrics(at)["Training step"][0] == "490"
    assert "ago" in metrics(at)["Last update"][0] and "h" not in metrics(at)["Last update"][0]


def test_legacy_log_without_metadata_is_not_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _legacy_lines(tmp_path / "training_log.json", range(50))
    at = run_page(tmp_path, monkeypatch)
    assert len(_badges(at)) == 1 and "Running" in _badges(at)[0], _badges(at)
    assert metrics(at)["Last update"][0] != "—"


def test_old_finished_legacy_log_is_not_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "training_log.json"
    _legacy_lines(log, range(50))
    yesterday = time.time() - 86_400
    os.utime(log, (yesterday, yesterday))
    at = run_page(tmp_path, monkeypatch)
    assert len(_badges(at)) == 1 and "Stalled" in _badges(at)[0], _badges(at)


def test_metadata_only_run_shows_its_metrics_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference README's metadata_50000.json, and no log at all."""
    (tmp_path / "metadata_50000.json").write_text(
        json.dumps(
            {
                "current_stage": 0,
                "step": 50000,
                "current_week": 2,
                "total_weeks": 4,
                "metrics": {
                    "firing_rate": 0.112,
                    "capacity": 0.75,
                    "performance": 0.92,
                    "loss": 0.234,
                },
                "milestones": {
                    "mnist_accuracy": True,
                    "sequence_prediction": True,
                    "phoneme_discrimination": False,
                },
                "warnings": [],
            }
        ),
        encoding="utf-8",
    )
    at = run_page(tmp_path, monkeypatch)
    shown = metrics(at)
    assert shown["Loss"][0] == "0.234" and shown["Firing rate"][0] == "11.2%"
    assert shown["Capacity"][0] == "75.0%" and shown["Performance"][0] == "92.0%"
    assert not [i for i in alerts(at)["info"] if "No metric lines yet" in i]
    assert any("checkpoint metadata at step 50,000" in c.value for c in at.caption)


def test_a_directory_name_that_is_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint directory whose name is not UTF-8 (it reaches Python with lone surrogates)
    opens: the name is shown with U+FFFD, the watcher and the alarm log are keyed by its bytes."""
    run = Path(os.fsdecode(os.fsencode(tmp_path) + b"/run\xff\xfe"))
    run.mkdir()
    write_lines(run / "training_log.jsonl", [metric_line(s, 1.0 / (s + 1)) for s in range(5)])
    at = run_page(run, monkeypatch)
    assert f"{tmp_path}/run\ufffd\ufffd" in texts(at)
    assert metrics(at)["Training step"][0] == "4"
