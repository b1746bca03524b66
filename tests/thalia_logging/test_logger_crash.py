"""Crashes: a SIGKILLed trainer leaves only whole lines (at most the last torn); metadata is
never seen half-written; buffered lines reach the file at exit and on garbage collection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest
from logger_helpers import REPO, read_lines, read_records, validate_metadata, validate_record

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _python(code: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RANK", None)
    env.pop("LOCAL_RANK", None)
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(predicate, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("child made no progress before the deadline")
        time.sleep(0.01)  # polling interval only; nothing is timed by it


LOOP = """
    import sys
    from thalia_logging import CurriculumLogger
    logger = CurriculumLogger(sys.argv[1], console_log=False, file_log=False,
                              flush_every_line=sys.argv[2] == "1", flush_every=50)
    step = 0
    while True:
        logger.log_metrics(step, loss=step * 1e-3, firing_rate=float("nan"),
                           neuron_counts={"cortex": step, "hippocampus": 2 * step},
                           capacity_by_region={"cortex": 0.5}, note_len=len("x" * (step % 300)))
        if step % 97 == 0:
            logger.log_growth(step, "cortex", 1, step + 1, reason="r" * (step % 200))
        step += 1
"""


@pytest.mark.parametrize("every_line", ["1", "0"])
def test_sigkill_leaves_only_whole_lines(tmp_path: Path, every_line: str) -> None:
    path = tmp_path / "training_log.jsonl"
    proc = _python(LOOP, str(tmp_path), every_line)
    try:
        _wait_for(lambda: path.exists() and path.stat().st_size > 200_000, proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    records, tail = read_lines(path)  # every complete line parses
    assert len(records) > 100
    for record in records:
        validate_record(record)
    if tail:  # at most the last line is torn, and it is a prefix of a line we would write
        assert tail.startswith(b'{"event_type":')
    steps = [r["step"] for r in records if r["event_type"] == "metric"]
    assert steps == list(range(len(steps)))

    # A new logger on the same file ends the torn line first, so its own lines stay whole.
    proc2 = _python(
        """
        import sys
        from thalia_logging import CurriculumLogger
        with CurriculumLogger(sys.argv[1], console_log=False, file_log=False) as lg:
            lg.log_metrics(10**6, loss=1.0)
    """,
        str(tmp_path),
    )
    assert proc2.wait(timeout=60) == 0, proc2.stderr.read().decode()  # type: ignore[union-attr]
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    last_two = [orjson.loads(x) for x in lines[-4:-2]]
    assert [r["event_type"] for r in last_two] == ["run_start", "metric"]
    assert orjson.loads(lines[-2])["event_type"] == "run_end"  # the with block ended it
    assert last_two[0]["resumed_from_step"] >= steps[-1]


WRITER = """
    import sys
    from thalia_logging import CurriculumLogger
    logger = CurriculumLogger(sys.argv[1], console_log=False, file_log=False,
                              fsync_metadata=False)
    print("ready", flush=True)
    for i in range(int(sys.argv[2])):
        logger.write_metadata(100, current_stage=i % 3, current_week=i,
                              metrics={f"m{j}": j * 0.5 for j in range(i % 200)},
                              warnings=["w" * (i % 500)])
    logger.close()
"""


def test_metadata_never_seen_partial(tmp_path: Path) -> None:
    path = tmp_path / "metadata_100.json"
    proc = _python(WRITER, str(tmp_path), "600")
    reads = 0
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        while proc.poll() is None or reads == 0:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            record = orjson.loads(data)  # a partial file would fail to parse here
            validate_metadata(record)
            assert len(record["metrics"]) == record["current_week"] % 200
            reads += 1
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read().decode()  # type: ignore[union-attr]
    assert reads > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metadata_100.json", "training_log.jsonl"]


def test_buffered_lines_are_written_at_interpreter_exit(tmp_path: Path) -> None:
    proc = _python(
        """
        import sys
        from thalia_logging import CurriculumLogger
        logger = CurriculumLogger(sys.argv[1], console_log=False, file_log=False,
                                  flush_every=10_000, background_flush=False,
                                  clock=lambda: 1.0)
        for step in range(25):
            logger.log_metrics(step, loss=0.5)
        assert logger._sink.pending == 25
        # no close(), no flush(): the atexit finalizer must write them
    """,
        str(tmp_path),
    )
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()  # type: ignore[union-attr]
    records = read_records(tmp_path / "training_log.jsonl")
    assert [r["step"] for r in records[1:-1]] == list(range(25))
    assert records[-1]["event_type"] == "run_end" and records[-1]["status"] == "finished"


def test_buffered_lines_are_written_when_logger_is_collected(tmp_path: Path) -> None:
    import gc

    from thalia_logging import CurriculumLogger

    logger = CurriculumLogger(
        tmp_path,
        console_log=False,
        file_log=False,
        flush_every=10_000,
        background_flush=False,
        clock=lambda: 1.0,
    )
    for step in range(5):
        logger.log_metrics(step, loss=0.5)
    del logger
    gc.collect()
    assert [r["step"] for r in read_records(tmp_path / "training_log.jsonl")] == [0, 0, 1, 2, 3, 4]
