"""Write errors: a full disk never mixes lines, is said once, keeps lines for a retry.

Two real limits: a 64 KiB tmpfs mounted by the test (root only, else skipped with the reason)
and ``RLIMIT_FSIZE`` in a subprocess (SIGXFSZ ignored, so a write past the limit is short and
the next one fails with EFBIG). No write is faked.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from logger_helpers import REPO

from thalia_logging import CurriculumLogger, LogWriteError
from thalia_logging.sink import JsonlSink

SINK_LOGGER = "thalia_logging.sink"


def _whole_lines(path: Path) -> list[dict[str, object]]:
    """Every line of ``path`` parsed: fails on a fragment or two lines run together."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), data[-200:]
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def _wait_for(condition: object, what: str, timeout_s: float = 30.0) -> None:
    """Wait (on an Event, not a fixed sleep) until ``condition()`` holds; fail after a timeout."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pause.wait(0.005)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted at ``tmp_path/fs`` (root only), unmounted afterwards."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the RLIMIT_FSIZE test covers the rest)")
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory: Path) -> Path:
    """Fill the filesystem with one file (removable later to free the space)."""
    filler = directory / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == SINK_LOGGER and text in r.getMessage()
    ]


def test_full_tmpfs_keeps_lines_whole_says_once_and_retries(
    small_fs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=SINK_LOGGER)
    logger = CurriculumLogger(
        small_fs, console_log=False, file_log=False, flush_every=7, capture_gpu_memory=False
    )
    try:
        filler = _fill(small_fs)
        steps = 0
        while logger.write_error is None:  # short writes and ENOSPC at the next flushes
            logger.log_metrics(steps, loss=0.1, firing_rate=0.2, note=float(steps))
            steps += 1
            assert steps < 10_000, "the disk never filled"
        for _ in range(300):  # the training loop goes on: nothing raises, nothing blocks
            logger.log_metrics(steps, loss=0.1, firing_rate=0.2, note=float(steps))
            steps += 1
        logger.flush()
        assert logger.write_error is not None and logger.pending_lines > 0
        thread = logger._sink.flusher_thread
        assert thread is not None and thread.is_alive()
        assert len(_warnings(caplog, "could not write")) == 1  # said once, not per flush
        assert logger.log_path is not None
        written = _whole_lines(logger.log_path)  # whole lines only, even on a full disk
        assert [r["step"] for r in written if r["event_type"] == "metric"] == list(
            range(len(written) - 1)
        )

        filler.unlink()  # space comes back: the next flush writes what was kept
        logger.flush()
        assert logger.write_error is None and logger.pending_lines == 0
        assert logger.lost_lines == 0
        recovered = _warnings(caplog, "works again after")
        assert len(recovered) == 1 and "0 lines were lost" in recovered[0]
        metric_steps = [
            r["step"] for r in _whole_lines(logger.log_path) if r["event_type"] == "metric"
        ]
        assert metric_steps == list(range(steps))
    finally:
        logger.close()


def test_background_flusher_meets_the_full_disk_and_survives(small_fs: Path) -> None:
    frozen = 1_000.0  # the caller's clock never advances: only the flusher thread writes
    sink = JsonlSink(small_fs / "log.jsonl", flush_every=10**6, flush_interval_s=0.005)
    try:
        sink.write(b'{"step":0}\n', frozen)  # the first line goes out at once
        filler = _fill(small_fs)
        for step in range(1, 600):  # about 36 KiB: fits once the filler is gone
            sink.write(json.dumps({"step": step, "pad": "y" * 40}).encode() + b"\n", frozen)
        _wait_for(lambda: sink.write_error is not None, "the flusher to meet ENOSPC")
        assert sink.flusher_thread is not None and sink.flusher_thread.is_alive()
        _whole_lines(sink.path)
        filler.unlink()
        _wait_for(
            lambda: sink.pending == 0 and sink.write_error is None,
            "the flusher to write the kept lines",
        )
        assert sink.flusher_thread.is_alive()
        assert [r["step"] for r in _whole_lines(sink.path)] == list(range(600))
    finally:
        sink.close()


def test_bound_on_kept_lines_drops_the_oldest_and_counts_them(
    small_fs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=SINK_LOGGER)
    sink = JsonlSink(
        small_fs / "log.jsonl", flush_every=1, background_flush=False, max_pending_bytes=1_000
    )
    try:
        filler = _fill(small_fs)
        lines = [json.dumps({"step": s, "pad": "z" * 80}).encode() + b"\n" for s in range(100)]
        for line in lines:
            sink.write(line)
        assert sink.write_error is not None
        assert 0 < sink.pending <= 1_000 // len(lines[0]) and sink.lost_lines > 0
        filler.unlink()
        sink.flush()
        steps = [r["step"] for r in _whole_lines(sink.path)]
        kept = sink.pending + len(steps)
        assert kept + sink.lost_lines == 100 and steps == sorted(steps)
        assert steps[-1] == 99  # the newest lines were kept
        assert f"{sink.lost_lines} lines were lost" in _warnings(caplog, "works again after")[0]
    finally:
        sink.close()


def test_strict_mode_raises_a_clear_error(small_fs: Path) -> None:
    logger = CurriculumLogger(
        small_fs,
        console_log=False,
        file_log=False,
        flush_every=1,
        strict=True,
        background_flush=False,
        capture_gpu_memory=False,
    )
    filler = _fill(small_fs)
    with pytest.raises(LogWriteError, match="strict=False") as info:
        for step in range(10_000):
            logger.log_metrics(step, loss=0.5)
    assert isinstance(info.value, OSError)
    with pytest.raises(LogWriteError, match="Free space"):
        logger.write_metadata(5)
    filler.unlink()
    logger.flush()  # the kept lines go out once there is space
    assert logger.pending_lines == 0
    logger.close()
    assert logger.log_path is not None
    metric_steps = [r["step"] for r in _whole_lines(logger.log_path) if r["event_type"] == "metric"]
    assert metric_steps == list(range(step + 1))


def test_metadata_on_a_full_disk_warns_and_training_goes_on(
    small_fs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    logger = CurriculumLogger(
        small_fs,
        console_log=False,
        file_log=False,
        background_flush=False,
        capture_gpu_memory=False,
    )
    _fill(small_fs)
    assert logger.write_metadata(10, metrics={"loss": 0.5}) is None
    assert any("metadata_10.json" in r.getMessage() for r in caplog.records)
    assert not list(small_fs.glob(".metadata_*"))  # no temp file left behind
    logger.log_metrics(11, loss=0.4)
    logger.close()


_FSIZE_SCRIPT = textwrap.dedent(r"""
    import json, logging, resource, signal, sys
    from thalia_logging import CurriculumLogger, LogWriteError

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit is short, then EFBIG
    said = []
    class Keep(logging.Handler):
        def emit(self, record):
            said.append(record.getMessage())
    logging.getLogger("thalia_logging").addHandler(Keep())
    directory, limit, strict = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "strict"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    logger = CurriculumLogger(directory, console_log=False, file_log=False, flush_every=7,
                              strict=strict, capture_gpu_memory=False)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    raised = None
    for step in range(500):
        try:
            logger.log_metrics(step, loss=0.25, firing_rate=0.125, tokens=step * 1000)
        except LogWriteError as exc:
            raised = str(exc)
            break
    logger.flush() if not strict else None
    full = {"error": str(logger.write_error), "pending": logger.pending_lines,
            "alive": logger._sink.flusher_thread.is_alive(), "raised": raised}
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # "space is freed"
    logger.flush()
    after = {"error": logger.write_error, "pending": logger.pending_lines,
             "lost": logger.lost_lines}
    logger.close()
    print(json.dumps({"full": full, "after": after, "said": said,
                      "last_step": step}))
""")


@pytest.mark.parametrize("mode", ["lenient", "strict"])
def test_file_size_limit_in_a_subprocess(tmp_path: Path, mode: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _FSIZE_SCRIPT, str(tmp_path), "20000", mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    full, after = out["full"], out["after"]
    if mode == "strict":
        assert full["raised"] and "strict=False" in full["raised"]
    else:
        assert full["raised"] is None and out["last_step"] == 499
        assert "File too large" in full["error"] and full["pending"] > 0
    assert full["alive"]
    assert [s for s in out["said"] if "could not write" in s] and len(
        [s for s in out["said"] if "could not write" in s]
    ) == 1
    assert after == {"error": None, "pending": 0, "lost": 0}
    assert len([s for s in out["said"] if "works again after" in s]) == 1
    records = _whole_lines(tmp_path / "training_log.jsonl")
    steps = [r["step"] for r in records if r["event_type"] == "metric"]
    assert steps == list(range(out["last_step"] + 1))
