"""thalia-demo ends with one clear line and a non-zero exit on a bad DIR, never a traceback; the
growth reasons it writes never print a value equal to the threshold as above it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from thalia_logging.simulation import GROWTH_THRESHOLD, DemoConfig, distinct_digits, simulate

REPO = Path(__file__).resolve().parents[2]


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "thalia_logging.demo", *args, "--speed", "1e9"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_demo_on_a_file_says_so_in_one_line(tmp_path: Path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me\n")
    done = _demo(str(target))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"thalia-demo: {target} is a file, not a directory; give the directory the demo should "
        "write its run into"
    ]
    assert target.read_text() == "keep me\n"


def test_demo_under_a_file_says_it_cannot_write(tmp_path: Path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    done = _demo(str(blocker / "run"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"thalia-demo: cannot write into {blocker}/run")


@pytest.mark.parametrize(
    ("value", "threshold", "expected"),
    [
        (0.9204, 0.92, ("0.9204", "0.9200")),
        (0.95, 0.92, ("0.950", "0.920")),
        (0.920000001, 0.92, ("0.920000001", "0.920000000")),
        (0.92, 0.92, ("0.920", "0.920")),
    ],
)
def test_distinct_digits(value: float, threshold: float, expected: tuple[str, str]):
    assert distinct_digits(value, threshold) == expected


def test_growth_reasons_are_honest_comparisons():
    reasons = [e.fields["reason"] for e in simulate(DemoConfig(total_steps=20_000, seed=3))
               if e.kind == "growth"]  # fmt: skip
    assert reasons
    for reason in reasons:
        match = re.fullmatch(r"capacity (\d\.\d+) > (\d\.\d+)", reason)
        assert match, reason
        value, threshold = match.groups()
        assert len(value) == len(threshold) and float(value) > float(threshold), reason
        assert float(threshold) == GROWTH_THRESHOLD
