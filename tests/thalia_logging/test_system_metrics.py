"""System metrics: the sampler thread, its interval, the merge into metric lines, GPU throttling."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from logger_helpers import REPO

from thalia_logging import CurriculumLogger, LogTypeError, LogValueError
from thalia_logging.system_metrics import (
    DEFAULT_INTERVAL_S,
    SYSTEM_FIELDS,
    HostProbe,
    SystemSampler,
    interval_from_option,
)

SCHEMAS = REPO / "schemas"


def _metric_lines(directory: Path) -> list[dict[str, Any]]:
    lines = (directory / "training_log.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["event_type"] == "metric"]


def _metric_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMAS / "metric.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (False, None),
        (None, None),
        (True, DEFAULT_INTERVAL_S),
        (2.5, 2.5),
        (3, 3.0),
    ],
)
def test_interval_from_option(option: object, expected: float | None) -> None:
    assert interval_from_option(option) == expected


@pytest.mark.parametrize(
    ("option", "error"),
    [
        ("10", LogTypeError),
        ([1], LogTypeError),
        (0, LogValueError),
        (-1.0, LogValueError),
        (float("nan"), LogValueError),
        (float("inf"), LogValueError),
    ],
)
def test_bad_interval_is_a_clear_error(tmp_path: Path, option: object, error: type) -> None:
    with pytest.raises(error, match="system_metrics"):
        CurriculumLogger(tmp_path, console_log=False, system_metrics=option)  # type: ignore[arg-type]
    assert not (tmp_path / "training_log.jsonl").exists()  # refused before anything opened


def test_each_sample_lands_on_exactly_one_metric_line(make_logger: Any) -> None:
    samples = iter(
        [
            {"sys_cpu_percent": 12.5, "proc_rss_bytes": 1000},
            {"sys_cpu_percent": 50.0, "proc_rss_bytes": 2000},
        ]
    )
    sampler = SystemSampler(5.0, sample=lambda: next(samples), start=False)
    logger = make_logger(system_metrics=sampler)
    logger.log_metrics(1, loss=1.0)  # no sample yet
    sampler.sample_now()
    logger.log_metrics(2, loss=0.9)
    logger.log_metrics(3, loss=0.8)
    sampler.sample_now()
    logger.log_metrics(4, loss=0.7, proc_rss_bytes=7)  # the caller's value wins
    logger.close()
    lines = {r["step"]: r for r in _metric_lines(logger.log_dir)}
    assert "sys_cpu_percent" not in lines[1]
    assert lines[2]["sys_cpu_percent"] == 12.5 and lines[2]["proc_rss_bytes"] == 1000
    assert "sys_cpu_percent" not in lines[3]
    assert lines[4]["sys_cpu_percent"] == 50.0 and lines[4]["proc_rss_bytes"] == 7
    validator = _metric_validator()
    for line in lines.values():
        validator.validate(line)


def test_thread_samples_at_the_configured_interval_and_stops_on_close(make_logger: Any) -> None:
    """The thread waits ``interval_s`` between samples; the test's wait releases each tick."""
    waits: list[float] = []
    ticks = threading.Semaphore(0)
    sampled = threading.Semaphore(0)
    count = iter(range(1, 100))

    def wait(timeout: float) -> bool:  # returns at a tick (False) or once close() began (True)
        waits.append(timeout)
        while not sampler.stopping:
            if ticks.acquire(timeout=0.01):
                return False
        return True

    def sample() -> dict[str, float]:
        fields = {"sys_cpu_percent": float(next(count))}
        sampled.release()
        return fields

    sampler = SystemSampler(7.5, sample=sample, start=False, wait=wait)
    logger = make_logger(system_metrics=sampler)
    assert sampler.running and sampler.latest is None
    for step in (1, 2):
        ticks.release()  # one interval passes
        assert sampled.acquire(timeout=30)
        while sampler.samples_taken < step:  # published right after the sample returns
            threading.Event().wait(0.001)
        logger.log_metrics(step, loss=1.0)
    assert waits[:2] == [7.5, 7.5]
    logger.close()
    assert not sampler.running
    lines = {r["step"]: r for r in _metric_lines(logger.log_dir)}
    assert lines[1]["sys_cpu_percent"] == 1.0 and lines[2]["sys_cpu_percent"] == 2.0


def test_real_sampler_thread_with_psutil_writes_valid_fields(make_logger: Any) -> None:
    pytest.importorskip("psutil")
    done = threading.Event()
    probe = HostProbe(use_nvml=False)
    probe.sample()

    def sample() -> dict[str, float | int]:
        fields = probe.sample()
        done.set()
        return fields

    sampler = SystemSampler(0.01, sample=sample, start=False)
    logger = make_logger(system_metrics=sampler)
    assert done.wait(timeout=30)
    while sampler.latest is None:
        threading.Event().wait(0.001)
    logger.log_metrics(1, loss=1.0)
    logger.close()
    assert not sampler.running
    (line,) = _metric_lines(logger.log_dir)
    for field in (
        "sys_cpu_percent",
        "proc_cpu_percent",
        "proc_rss_bytes",
        "host_mem_percent",
        "host_mem_total_bytes",
    ):
        assert field in line, field
    assert set(line) - {"event_type", "step", "wall_time", "loss"} <= set(SYSTEM_FIELDS)
    assert line["proc_rss_bytes"] > 0 and 0 <= line["host_mem_percent"] <= 100
    _metric_validator().validate(line)


def test_system_metrics_true_starts_and_stops_a_real_sampler(make_logger: Any) -> None:
    pytest.importorskip("psutil")
    logger = make_logger(system_metrics=True)
    sampler = logger._system
    assert sampler is not None and sampler.running and sampler.interval_s == DEFAULT_INTERVAL_S
    logger.log_metrics(1, loss=1.0)  # the first sample is an interval away: no fields yet
    logger.close()
    assert not sampler.running
    (line,) = _metric_lines(logger.log_dir)
    assert "sys_cpu_percent" not in line


def test_ranks_that_write_nothing_start_no_sampler(make_logger: Any) -> None:
    pytest.importorskip("psutil")
    logger = make_logger(rank=1, system_metrics=0.5)
    assert logger._system is None
    assert not [t for t in threading.enumerate() if t.name == "thalia-system-metrics"]


class _FakePsutil:
    """psutil's surface the probe reads, with counters the test moves."""

    def __init__(self) -> None:
        self.read, self.written = 10_000, 500

    def Process(self) -> Any:
        return SimpleNamespace(
            cpu_percent=lambda _i: 150.0, memory_info=lambda: SimpleNamespace(rss=123_456)
        )

    def cpu_percent(self, _interval: object) -> float:
        return 37.5

    def virtual_memory(self) -> Any:
        return SimpleNamespace(percent=40.0, total=1000, available=600)

    def disk_io_counters(self) -> Any:
        return SimpleNamespace(read_bytes=self.read, write_bytes=self.written)


def test_host_probe_fields_and_disk_rates_over_the_clock() -> None:
    ps, now = _FakePsutil(), [100.0]
    probe = HostProbe(clock=lambda: now[0], psutil_module=ps, use_nvml=False)
    first = probe.sample()
    assert "disk_read_bytes_per_s" not in first  # the first sample primes the counters
    assert first["sys_cpu_percent"] == 37.5 and first["proc_cpu_percent"] == 150.0
    assert first["proc_rss_bytes"] == 123_456
    assert (
        first["host_mem_percent"],
        first["host_mem_used_bytes"],
        first["host_mem_total_bytes"],
    ) == (40.0, 400, 1000)
    now[0], ps.read, ps.written = 102.0, 11_000, 4_500
    second = probe.sample()
    assert second["disk_read_bytes_per_s"] == 500.0 and second["disk_write_bytes_per_s"] == 2000.0
    now[0], ps.read = 103.0, 0  # counters reset (e.g. a disk went away): no negative rate
    assert probe.sample()["disk_read_bytes_per_s"] == 0.0


def test_a_failing_sample_is_said_once_and_sampling_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls = iter([RuntimeError("no /proc"), RuntimeError("again"), {"sys_cpu_percent": 1.0}])

    def sample() -> dict[str, float]:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    sampler = SystemSampler(1.0, sample=sample, start=False)
    assert sampler.sample_now() is None and sampler.sample_now() is None
    assert sampler.sample_now() == {"sys_cpu_percent": 1.0}
    assert capsys.readouterr().err.count("system metrics sample failed") == 1
    sampler.close()


def test_gpu_memory_is_read_at_most_once_per_interval(make_logger: Any) -> None:
    pytest.importorskip("torch")  # the capture only looks while torch is loaded
    now = [1000.0]
    calls: list[float] = []

    def gpu() -> dict[str, int]:
        calls.append(now[0])
        return {"gpu_mem_bytes": 5, "gpu_mem_total_bytes": 10}

    logger = make_logger(clock=lambda: now[0], capture_gpu_memory=gpu, system_metrics=False)
    for t in range(26):  # one line a second for 26 s, the default interval is 10 s
        now[0] = 1000.0 + t
        logger.log_metrics(t, loss=1.0)
    logger.close()
    assert calls == [1000.0, 1010.0, 1020.0]
    with_gpu = [r["step"] for r in _metric_lines(logger.log_dir) if "gpu_mem_bytes" in r]
    assert with_gpu == [0, 10, 20]


def test_importing_thalia_logging_imports_no_psutil_nor_nvml() -> None:
    code = (
        "import sys, thalia_logging, thalia_logging.system_metrics\n"
        "bad = [m for m in ('psutil', 'pynvml') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=REPO)


def _fake_torch(initialised: bool) -> Any:
    cuda = SimpleNamespace(
        is_initialized=lambda: initialised,
        device_count=lambda: 2,
        mem_get_info=lambda i: (1, 80 << 30),
        memory_allocated=lambda i: (i + 1) << 20,
    )
    return SimpleNamespace(cuda=cuda)


def test_gpu_fields_from_torch_per_device_only_while_cuda_is_initialised() -> None:
    probe = HostProbe(psutil_module=_FakePsutil(), use_nvml=False, torch_module=_fake_torch(True))
    fields = probe.sample()
    assert fields["gpu0_mem_bytes"] == 1 << 20 and fields["gpu1_mem_bytes"] == 2 << 20
    assert fields["gpu0_mem_total_bytes"] == fields["gpu1_mem_total_bytes"] == 80 << 30
    assert "gpu0_util_percent" not in fields  # utilisation needs NVML
    idle = HostProbe(psutil_module=_FakePsutil(), use_nvml=False, torch_module=_fake_torch(False))
    assert not [k for k in idle.sample() if k.startswith("gpu")]


def test_without_psutil_system_metrics_is_a_clear_error(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['psutil'] = None\n"
        "from thalia_logging import CurriculumLogger\n"
        "from thalia_logging.system_metrics import SystemMetricsUnavailableError\n"
        "try:\n"
        f"    CurriculumLogger({str(tmp_path)!r}, console_log=False, system_metrics=True)\n"
        "except SystemMetricsUnavailableError as exc:\n"
        "    assert 'thalia-monitor[system]' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=REPO)
    assert not (tmp_path / "training_log.jsonl").exists()
