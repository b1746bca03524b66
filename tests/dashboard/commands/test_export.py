from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from reader_helpers import consolidation, growth, metric

from dashboard.commands.export import main


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    (d / "training_log.jsonl").write_bytes(
        metric(1) + growth(1) + metric(2, loss="NaN") + consolidation(2)
    )
    return d


def test_metrics_export(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    assert main([str(run_dir), "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert df["step"].tolist() == [1, 2] and "neuron_counts.cortex" in df.columns
    assert df["loss"].isna().tolist() == [False, True]


def test_all_writes_one_file_per_frame(run_dir: Path, tmp_path: Path) -> None:
    assert main([str(run_dir), "-o", str(tmp_path / "run.csv"), "--what", "all"]) == 0
    assert len(pd.read_csv(tmp_path / "run_growth.csv")) == 1
    assert len(pd.read_csv(tmp_path / "run_consolidation.csv")) == 1
    assert len(pd.read_csv(tmp_path / "run_metrics.csv")) == 2
    assert list(pd.read_csv(tmp_path / "run_stages.csv").columns) == [
        "step",
        "wall_time",
        "rank",
        "stage",
        "name",
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["{missing}"], 2, "does not exist"),
        (["{run}", "-o", "/nonexistent-dir/x.csv"], 1, "cannot write"),
        (["{empty}"], 1, "nothing to export"),
        (["{run}", "--what", "stages"], 1, "nothing to export"),
        (["{run}", "--what", "all", "-o", "-"], 2, "several files"),
    ],
)
def test_errors_are_clear_and_nonzero(
    run_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    (tmp_path / "empty").mkdir()
    paths = {
        "missing": str(tmp_path / "missing"),
        "run": str(run_dir),
        "empty": str(tmp_path / "empty"),
    }
    assert main([a.format(**paths) for a in args]) == code
    assert message in capsys.readouterr().err


def test_help_documents_all_files(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dashboard.commands.export", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "run_metrics.csv" in out.stdout and "--what" in out.stdout
