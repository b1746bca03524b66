"""A two-process torch.distributed run (gloo on CPU) logs through CurriculumLogger.

Default: only rank 0 writes the shared ``training_log.jsonl``. ``per_rank=True``: rank 1 writes
``training_log.rank1.jsonl`` too, and the loader reads both (a ``rank`` column).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

WORKER = Path(__file__).with_name("dist_worker.py")
ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 90


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_two_ranks(shared_dir: Path, per_rank_dir: Path) -> None:
    port = _free_port()
    procs = []
    for rank in range(2):
        env = {
            **os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
        }  # fmt: skip
        cmd = [sys.executable, str(WORKER), str(shared_dir), str(per_rank_dir)]
        procs.append(
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        )
    deadline = time.monotonic() + DEADLINE_S
    outputs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
            outputs.append(out.decode(errors="replace"))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for rank, (proc, out) in enumerate(zip(procs, outputs, strict=True)):
        assert proc.returncode == 0, f"rank {rank} failed:\n{out[-3000:]}"


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One two-rank run logging into a default directory and a per-rank directory."""
    shared = tmp_path_factory.mktemp("shared")
    per_rank = tmp_path_factory.mktemp("per_rank")
    _run_two_ranks(shared, per_rank)
    return shared, per_rank


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_default_only_rank_zero_writes_the_shared_log(run_dirs: tuple[Path, Path]) -> None:
    tmp_path = run_dirs[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metadata_3.json", "training_log.jsonl"]
    lines = _lines(tmp_path / "training_log.jsonl")
    metrics = [r for r in lines if r["event_type"] == "metric"]
    assert [r["step"] for r in metrics] == [1, 2, 3]
    # the all-reduced mean of rank + step over ranks 0 and 1; local_loss is rank 0's own
    assert [r["loss"] for r in metrics] == [1.5, 2.5, 3.5]
    assert [r["local_loss"] for r in metrics] == [1.0, 2.0, 3.0]
    assert all("rank" not in r for r in lines)
    (growth,) = [r for r in lines if r["event_type"] == "growth"]
    assert growth["reason"] == "rank 0"


def test_per_rank_writes_one_file_per_rank_and_the_loader_reads_both(
    run_dirs: tuple[Path, Path],
) -> None:
    tmp_path = run_dirs[1]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["metadata_3.json", "training_log.jsonl", "training_log.rank1.jsonl"]
    rank1 = _lines(tmp_path / "training_log.rank1.jsonl")
    assert {r["rank"] for r in rank1} == {1}
    assert [r["local_loss"] for r in rank1 if r["event_type"] == "metric"] == [2.0, 3.0, 4.0]

    load_training_state = pytest.importorskip("dashboard").load_training_state
    state = load_training_state(tmp_path)
    frame = state.metrics_history
    assert sorted(frame["rank"].unique().tolist()) == [0, 1]
    for rank in (0, 1):
        rows = frame[frame["rank"] == rank]
        assert rows["step"].tolist() == [1, 2, 3]
        assert rows["loss"].tolist() == [1.5, 2.5, 3.5]
        assert rows["local_loss"].tolist() == [float(rank + s) for s in (1, 2, 3)]
        assert rows["neuron_counts.cortex"].tolist() == [10.0 + rank] * 3
    growth = state.growth_events.sort_values("rank")
    assert growth["rank"].tolist() == [0, 1] and growth["new_total"].tolist() == [11, 12]
    assert set(state.log_files) == {"training_log.jsonl", "training_log.rank1.jsonl"}
    assert state.bad_line_count == 0


def test_page_offers_a_rank_selector_for_per_rank_logs(
    run_dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    st = pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(run_dirs[1]))
    try:
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
        assert not at.exception, [e.value for e in at.exception]
        (selector,) = [s for s in at.selectbox if s.label == "Rank"]
        assert list(selector.options) == ["0", "1"] and selector.value == 0
        at = selector.select(1).run()
        assert not at.exception, [e.value for e in at.exception]
    finally:
        st.cache_resource.clear()  # closes the cached RunWatcher and its threads
