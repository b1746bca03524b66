"""System metrics for metric lines, sampled on a background thread at most once per interval.

``CurriculumLogger(..., system_metrics=True)`` (or a number of seconds, default
:data:`DEFAULT_INTERVAL_S`) starts a :class:`SystemSampler`. Its daemon thread samples every
``interval_s`` seconds and publishes each sample as a new dict in :attr:`SystemSampler.latest`
(one reference assignment). The logger's hot path reads that attribute and compares it by
identity with the last sample it merged, so the fields of each sample land on exactly one
metric line (the first one logged after the sample was taken): at most one line per interval
carries them, and ``log_metrics`` never waits for the sampler, takes no lock and makes no
system call. Fields the caller passed on that line win over the sample's.

Fields (all numbers; any field the probe cannot read is left out):

=============================  ===========================================================
``sys_cpu_percent``            whole-machine CPU use since the previous sample, 0-100
``proc_cpu_percent``           this process's CPU use since the previous sample (100 = 1 core)
``proc_rss_bytes``             this process's resident memory
``host_mem_percent``           machine memory in use, 0-100
``host_mem_used_bytes``        machine memory in use, bytes
``host_mem_total_bytes``       machine memory, bytes
``disk_read_bytes_per_s``      machine-wide disk reads since the previous sample
``disk_write_bytes_per_s``     machine-wide disk writes since the previous sample
``gpu{i}_util_percent``        GPU ``i`` utilisation, 0-100 (NVML only)
``gpu{i}_mem_bytes``           GPU ``i`` memory in use: device-wide with NVML, else what this
                               process's torch allocator holds (``torch.cuda.memory_allocated``)
``gpu{i}_mem_total_bytes``     GPU ``i`` memory, bytes
=============================  ===========================================================

GPU fields come from NVML (the ``nvidia-ml-py`` package, module ``pynvml``) when it imports
and initialises; otherwise from torch when this process has imported torch and initialised
CUDA; otherwise there are none. ``psutil`` is needed for the rest (the ``system`` extra:
``pip install 'thalia-monitor[system]'``). Nothing here is imported by ``import thalia_logging``'s
hot path: psutil and pynvml are imported only when a sampler is made.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .values import LogTypeError, LogValueError

__all__ = [
    "DEFAULT_INTERVAL_S",
    "SYSTEM_FIELDS",
    "HostProbe",
    "SystemMetricsUnavailableError",
    "SystemSampler",
    "interval_from_option",
]

DEFAULT_INTERVAL_S = 10.0
"""Seconds between two samples when ``system_metrics=True``."""

SYSTEM_FIELDS = (
    "sys_cpu_percent", "proc_cpu_percent", "proc_rss_bytes", "host_mem_percent",
    "host_mem_used_bytes", "host_mem_total_bytes", "disk_read_bytes_per_s",
    "disk_write_bytes_per_s",
)  # fmt: skip
"""Host and process fields; GPU fields are ``gpu{i}_util_percent``, ``gpu{i}_mem_bytes``,
``gpu{i}_mem_total_bytes`` for each device index ``i``."""


class SystemMetricsUnavailableError(ImportError):
    """``system_metrics`` was asked for but psutil is not installed."""


def interval_from_option(option: object) -> float | None:
    """``system_metrics`` argument -> seconds between samples, or ``None`` when off."""
    if option is None or option is False:
        return None
    if option is True:
        return DEFAULT_INTERVAL_S
    if isinstance(option, bool) or not isinstance(option, int | float):
        raise LogTypeError(
            f"system_metrics must be True, False or seconds between samples (a number), "
            f"got {type(option).__name__}"
        )
    seconds = float(option)
    if not seconds > 0.0 or seconds == float("inf"):
        raise LogValueError(f"system_metrics must be a positive number of seconds, got {option!r}")
    return seconds


class _NvmlGpus:
    """Per-device utilisation and memory from NVML (``pynvml``), or unusable."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        self.nvml: Any = None
        try:
            import pynvml  # type: ignore[import-not-found, unused-ignore]

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self.nvml = pynvml
        except Exception:  # no package, no driver, no device: NVML is simply not there
            self.handles = []

    def sample(self, out: dict[str, float | int]) -> None:
        nvml = self.nvml
        for i, handle in enumerate(self.handles):
            try:
                out[f"gpu{i}_util_percent"] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                out[f"gpu{i}_mem_bytes"] = int(mem.used)
                out[f"gpu{i}_mem_total_bytes"] = int(mem.total)
            except Exception:  # one device failing must not hide the others
                continue

    def close(self) -> None:
        if self.nvml is not None:
            with contextlib.suppress(Exception):
                self.nvml.nvmlShutdown()
            self.nvml = None


def _torch_gpus(out: dict[str, float | int], torch: Any = None) -> None:
    """Per-device memory from torch, only where this process already initialised CUDA."""
    torch = torch if torch is not None else sys.modules.get("torch")
    if torch is None:
        return
    try:
        cuda = torch.cuda
        if not cuda.is_initialized():
            return
        for i in range(cuda.device_count()):
            _free, total = cuda.mem_get_info(i)
            out[f"gpu{i}_mem_bytes"] = int(cuda.memory_allocated(i))
            out[f"gpu{i}_mem_total_bytes"] = int(total)
    except Exception:  # a broken driver must not take the sampler down
        return


class HostProbe:
    """Reads the fields of one sample (psutil for host and process, NVML or torch for GPUs).

    Rates and CPU percentages are over the time since the previous :meth:`sample` (the first
    call primes them and returns no rates). ``clock`` (monotonic seconds) is a seam for tests;
    ``psutil_module``, ``use_nvml`` and ``torch_module`` (default: the ``torch`` already in
    ``sys.modules``, never imported here) too.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        psutil_module: Any = None,
        use_nvml: bool = True,
        torch_module: Any = None,
    ) -> None:
        if psutil_module is None:
            try:
                import psutil
            except ImportError as exc:
                raise SystemMetricsUnavailableError(
                    "system_metrics needs psutil: pip install 'thalia-monitor[system]'"
                ) from exc
            psutil_module = psutil
        self._ps = psutil_module
        self._clock = clock
        self._proc = psutil_module.Process()
        self._gpus = _NvmlGpus() if use_nvml else None
        self._prev_disk: tuple[float, int, int] | None = None
        self._torch = torch_module

    def sample(self) -> dict[str, float | int]:
        ps = self._ps
        out: dict[str, float | int] = {}
        now = self._clock()
        for name, read in (
            ("sys_cpu_percent", lambda: float(ps.cpu_percent(None))),
            ("proc_cpu_percent", lambda: float(self._proc.cpu_percent(None))),
            ("proc_rss_bytes", lambda: int(self._proc.memory_info().rss)),
        ):
            try:
                out[name] = read()
            except Exception:
                continue
        try:
            vm = ps.virtual_memory()
            out["host_mem_percent"] = float(vm.percent)
            out["host_mem_used_bytes"] = int(vm.total - vm.available)
            out["host_mem_total_bytes"] = int(vm.total)
        except Exception:
            pass
        try:
            disk = ps.disk_io_counters()
        except Exception:
            disk = None
        if disk is not None:
            prev, self._prev_disk = (
                self._prev_disk,
                (now, int(disk.read_bytes), int(disk.write_bytes)),
            )
            if prev is not None and now > prev[0]:
                dt = now - prev[0]
                out["disk_read_bytes_per_s"] = max(0, int(disk.read_bytes) - prev[1]) / dt
                out["disk_write_bytes_per_s"] = max(0, int(disk.write_bytes) - prev[2]) / dt
        if self._gpus is not None and self._gpus.handles:
            self._gpus.sample(out)
        else:
            _torch_gpus(out, self._torch)
        return out

    def close(self) -> None:
        if self._gpus is not None:
            self._gpus.close()


class SystemSampler:
    """Takes a sample every ``interval_s`` seconds on a daemon thread; never blocks readers.

    Contract: :attr:`latest` is ``None`` until the first sample, then always a new dict per
    sample (never mutated after it is published), so a reader that keeps the last dict it used
    knows a new sample came by ``latest is not seen``: that identity check is the documented
    fast path the logger uses, without locks. The first sample is taken ``interval_s`` after
    :meth:`start` (the probe is primed at start, so CPU percentages and rates cover a whole
    interval). A sample that raises is skipped and said once on stderr; the thread goes on.
    :meth:`close` stops and joins the thread and is idempotent.

    ``sample`` (a callable returning the fields) replaces :class:`HostProbe` (a seam for tests);
    ``start=False`` makes no thread, and :meth:`sample_now` takes one sample in the caller;
    ``wait(timeout) -> stop`` replaces the thread's wait between samples (default: the stop
    event's ``wait``, so :meth:`close` ends a wait at once).
    """

    def __init__(
        self,
        interval_s: float = DEFAULT_INTERVAL_S,
        *,
        sample: Callable[[], Mapping[str, float | int]] | None = None,
        start: bool = True,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self.interval_s = interval_from_option(interval_s) or DEFAULT_INTERVAL_S
        self._probe: HostProbe | None = None
        if sample is None:
            self._probe = HostProbe()
            sample = self._probe.sample
        self._sample = sample
        self.latest: dict[str, float | int] | None = None
        self.samples_taken = 0
        self._failed = False
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    def start(self) -> None:
        """Start the sampling thread (once)."""
        if self._thread is not None or self._stop.is_set():
            return
        if self._probe is not None:
            self._probe.sample()  # prime CPU percentages and disk counters
        self._thread = threading.Thread(target=self._run, name="thalia-system-metrics", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._wait(self.interval_s) and not self._stop.is_set():
            self.sample_now()

    def sample_now(self) -> dict[str, float | int] | None:
        """Take one sample and publish it in :attr:`latest`; returns it (``None`` on error)."""
        try:
            fields = dict(self._sample())
        except Exception as exc:
            if not self._failed:
                self._failed = True
                print(
                    f"thalia_logging: system metrics sample failed ({exc!r}); skipping it",
                    file=sys.stderr,
                )
            return None
        self.samples_taken += 1
        self.latest = fields  # one reference assignment: the publication
        return fields

    @property
    def stopping(self) -> bool:
        """``close()`` was called."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if self._probe is not None:
            self._probe.close()
