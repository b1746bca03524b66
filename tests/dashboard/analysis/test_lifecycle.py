"""Run lifecycle end to end: a real trainer process with CurriculumLogger, ended four ways.

The trainer runs in a subprocess, tells the test it is ready on stdout, then waits on stdin
(so a signal meets a blocked read, as in a data loader). The reader and the lifecycle rules
decide; the stall path uses an injected ``now`` (no sleeps).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dashboard import load_training_state
from dashboard.analysis.lifecycle import run_lifecycle
from dashboard.analysis.status import run_status

REPO = Path(__file__).resolve().parents[3]

TRAINER = """
import signal, sys
from thalia_logging import CurriculumLogger
mode = sys.argv[2]
if mode == "own-handler":
    def mine(signum, frame):
        print("trainer handler ran", flush=True)
        raise SystemExit(3)
    signal.signal(signal.SIGTERM, mine)
with CurriculumLogger(sys.argv[1], console_log=False, file_log=False,
                      flush_every_line=True) as logger:
    for step in range(5):
        logger.log_metrics(step, loss=1.0 / (step + 1))
    print("ready", flush=True)
    if mode == "raise":
        raise RuntimeError("loss exploded at step 4")
    sys.stdin.readline()
"""


def _trainer(tmp_path: Path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(TRAINER), str(tmp_path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_sigkill_is_crashed_at_once_on_this_host(tmp_path: Path) -> None:
    proc = _trainer(tmp_path, "wait")
    state = load_training_state(tmp_path)
    now = state.last_update or 0.0
    assert run_lifecycle(state, 4, now=now).kind == "running"  # alive: its pid is there
    proc.kill()
    _finish(proc)
    state = load_training_state(tmp_path)
    life = run_lifecycle(state, 4, now=now)
    assert life.kind == "crashed" and str(proc.pid) in life.text
    assert run_status(state, 4, now=now).kind == "crashed"


@pytest.mark.parametrize("stall_minutes", [0.5, 2.0])
def test_sigkill_elsewhere_is_crashed_past_the_stall_threshold(
    tmp_path: Path, stall_minutes: float
) -> None:
    proc = _trainer(tmp_path, "wait")
    proc.kill()
    _finish(proc)
    state = load_training_state(tmp_path)
    last = state.last_update
    assert last is not None
    other_host = {"host": "another-machine"}  # the pid cannot be checked from here
    within = run_lifecycle(
        state, 4, now=last + stall_minutes * 60 - 1, stall_minutes=stall_minutes, **other_host
    )
    past = run_lifecycle(
        state, 4, now=last + stall_minutes * 60 + 1, stall_minutes=stall_minutes, **other_host
    )
    assert within.kind == "running"
    assert past.kind == "crashed" and "no run_end" in past.text


def test_an_exception_is_failed_with_its_message(tmp_path: Path) -> None:
    proc = _trainer(tmp_path, "raise")
    code, _, err = _finish(proc)
    assert code == 1 and "loss exploded" in err
    state = load_training_state(tmp_path)
    life = run_lifecycle(state, 4, now=(state.last_update or 0) + 3600)
    assert life.kind == "failed"
    assert life.error_type == "RuntimeError" and life.message == "loss exploded at step 4"
    assert life.text == "failed: RuntimeError: loss exploded at step 4" and life.step == 4
    assert state.bad_line_count == 0


def test_sigterm_is_killed_and_the_process_still_dies_by_it(tmp_path: Path) -> None:
    proc = _trainer(tmp_path, "wait")
    proc.send_signal(signal.SIGTERM)
    code, _, _ = _finish(proc)
    assert code == -signal.SIGTERM
    state = load_training_state(tmp_path)
    life = run_lifecycle(state, 4, now=(state.last_update or 0) + 3600)
    assert life.kind == "killed" and "SIGTERM" in life.text


def test_sigterm_chains_the_trainers_own_handler(tmp_path: Path) -> None:
    proc = _trainer(tmp_path, "own-handler")
    proc.send_signal(signal.SIGTERM)
    code, out, _ = _finish(proc)
    assert code == 3 and "trainer handler ran" in out
    state = load_training_state(tmp_path)
    ends = state.run_ends
    assert ends["status"].tolist() == ["killed"]  # the with block's exit wrote no second end
    assert run_lifecycle(state, 4, now=0.0).kind == "killed"


def test_a_clean_end_is_finished_and_a_resume_is_live_again(tmp_path: Path) -> None:
    from thalia_logging import CurriculumLogger

    with CurriculumLogger(tmp_path, console_log=False, file_log=False) as logger:
        logger.log_metrics(3, loss=0.5)
    state = load_training_state(tmp_path)
    assert run_lifecycle(state, 3, now=0.0).kind == "finished"
    logger = CurriculumLogger(tmp_path, console_log=False, file_log=False)
    try:
        state = load_training_state(tmp_path)
        assert run_lifecycle(state, 3, now=state.last_update or 0.0).kind == "running"
    finally:
        logger.close()


def test_logs_without_run_start_stay_stalled_not_crashed(tmp_path: Path) -> None:
    (tmp_path / "training_log.jsonl").write_text('{"step": 1, "wall_time": 100.0, "loss": 1}\n')
    state = load_training_state(tmp_path)
    assert run_lifecycle(state, 1, now=100.0 + 601).kind == "stalled"
    assert run_lifecycle(state, 1, now=100.0 + 10).kind == "running"
