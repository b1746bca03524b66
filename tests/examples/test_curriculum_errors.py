"""The example trainer ends with one clear error line and a non-zero exit on bad settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "curriculum_training.py"


def _train(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--quick", "--quiet", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip


def _one_error(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "--seed must be between 0 and 2147483647, got -1"),
        (["--seed", "99999999999999999999"], "--seed must be between 0 and 2147483647"),
        (["--seed", "x"], "--seed: invalid int value: 'x'"),
        (["--device", "banana"], "--device 'banana' is not a torch device"),
        (["--step-delay", "nan"], "--step-delay must be 0 or more seconds, got nan"),
    ],
)
def test_bad_settings_end_in_one_clear_line(tmp_path: Path, args: list[str], message: str):
    last = _one_error(_train(tmp_path, "--log-dir", str(tmp_path / "run"), *args))
    assert "error: " in last and message in last
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_ends_in_one_clear_line(tmp_path: Path):
    last = _one_error(_train(tmp_path, "--log-dir", str(tmp_path / "run"), "--device", "cuda"))
    assert "--device cuda: this torch has no usable CUDA GPU; use --device cpu" in last


def test_a_file_as_log_dir_is_refused(tmp_path: Path):
    target = tmp_path / "file"
    target.write_text("")
    last = _one_error(_train(tmp_path, "--log-dir", str(target)))
    assert f"--log-dir {target} is a file, not a directory" in last


def test_resuming_with_another_seed_says_which_seed(tmp_path: Path):
    run = tmp_path / "run"
    done = _train(tmp_path, "--log-dir", str(run), "--seed", "1", "--stages", "1")
    assert done.returncode == 0, done.stderr
    last = _one_error(_train(tmp_path, "--log-dir", str(run), "--seed", "2", "--stages", "1"))
    assert last.startswith("curriculum_training: the checkpoints in") and "--seed 1, not 2" in last
