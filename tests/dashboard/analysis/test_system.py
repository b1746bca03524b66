"""dashboard.analysis.system and .config: which columns, latest values, GB text, history rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from page_helpers import make_metrics

from dashboard.analysis.config import config_rows
from dashboard.analysis.system import (
    GPU_GB,
    format_gb,
    gpu_columns,
    gpu_memory_text,
    has_system_metrics,
    history_charts,
    history_frame,
    latest_system,
    system_columns,
)

NAN = math.nan


def _sampled(n: int = 10, every: int = 3) -> pd.DataFrame:
    """A run whose system fields are on every ``every``-th line only (as the sampler writes)."""
    on = np.arange(n) % every == 0

    def col(values: np.ndarray) -> np.ndarray:
        return np.where(on, values, NAN)

    ramp = np.linspace(1, 2, n)
    return make_metrics(
        n,
        sys_cpu_percent=col(40.0 * ramp),
        proc_cpu_percent=col(110.0 * ramp),
        proc_rss_bytes=col(1.5e9 * ramp),
        host_mem_percent=col(30.0 * ramp),
        host_mem_used_bytes=col(8e9 * ramp),
        host_mem_total_bytes=col(np.full(n, 32e9)),
        disk_read_bytes_per_s=col(2e6 * ramp),
        disk_write_bytes_per_s=col(5e5 * ramp),
        gpu0_util_percent=col(80.0 * ramp / 2),
        gpu0_mem_bytes=col(np.full(n, 4.2 * GPU_GB)),
        gpu0_mem_total_bytes=col(np.full(n, 8.0 * GPU_GB)),
        gpu1_mem_bytes=col(np.full(n, 1.0 * GPU_GB)),
    )


def test_gb_text_like_the_page_design() -> None:
    assert format_gb(4.2 * GPU_GB) == "4.2"
    assert gpu_memory_text(4.2 * GPU_GB, 8.0 * GPU_GB) == "4.2 / 8.0 GB"
    assert gpu_memory_text(512 * 1024**2, None) == "0.5 GB"
    assert gpu_memory_text(1.0, NAN) == "0.0 GB" and gpu_memory_text(1.0, 0.0) == "0.0 GB"


def test_columns_of_a_run_with_and_without_system_metrics() -> None:
    plain = make_metrics(5, lr=0.1, grad_norm=1.0)
    assert not has_system_metrics(plain.columns) and system_columns(plain.columns) == []
    assert latest_system(plain) is None and history_charts(plain.columns) == []
    run = _sampled()
    cols = system_columns(run.columns)
    assert cols[:2] == ["sys_cpu_percent", "proc_cpu_percent"]
    assert {"gpu0_util_percent", "gpu0_mem_bytes", "gpu0_mem_total_bytes", "gpu1_mem_bytes"} <= set(
        cols
    )
    assert has_system_metrics(run.columns)
    gpus = gpu_columns(run.columns)
    assert [g.label for g in gpus] == ["GPU 0", "GPU 1"]
    assert gpus[1].util is None and gpus[1].total is None
    # names that only look like GPU fields are not
    assert gpu_columns(["gpu0_temp", "xgpu0_mem_bytes", "gpu_x_mem_bytes"]) == []


def test_gpus_sort_by_index_not_by_name() -> None:
    labels = [
        g.label for g in gpu_columns(["gpu10_mem_bytes", "gpu2_mem_bytes", "gpu0_util_percent"])
    ]
    assert labels == ["GPU 0", "GPU 2", "GPU 10"]


def test_the_loggers_own_gpu_capture_counts_when_no_indexed_gpu() -> None:
    run = make_metrics(4, gpu_mem_bytes=2 * GPU_GB, gpu_mem_total_bytes=16 * GPU_GB)
    assert has_system_metrics(run.columns)
    now = latest_system(run)
    assert now is not None and now.host == ()
    (gpu,) = now.gpus
    assert gpu.memory is not None and gpu.memory.text == "2.0 / 16.0 GB"
    assert gpu.fraction == pytest.approx(0.125) and gpu.util is None


def test_latest_values_are_the_last_sampled_ones() -> None:
    run = _sampled(n=10, every=3)  # sampled at rows 0, 3, 6, 9
    now = latest_system(run)
    assert now is not None
    host = {r.label: r for r in now.host}
    assert host["System CPU"].text == "80%" and host["System CPU"].step == 900
    assert host["Process CPU"].text == "220%"
    assert host["Process memory (RSS)"].text == "3.0 GB"
    assert host["Host memory"].text == "60% · 16.0 GB / 32.0 GB"
    assert host["Disk read"].text == "4 MB/s" and host["Disk write"].text == "1 MB/s"
    gpu0, gpu1 = now.gpus
    assert gpu0.util is not None and gpu0.util.text == "80%"
    assert gpu0.memory is not None and gpu0.memory.text == "4.2 / 8.0 GB"
    assert gpu0.fraction == pytest.approx(4.2 / 8.0)
    assert gpu1.memory is not None and gpu1.memory.text == "1.0 GB" and gpu1.fraction is None


def test_the_latest_value_skips_trailing_rows_without_a_sample() -> None:
    run = _sampled(n=5000, every=1000)  # last sample at row 4000, far from the end
    now = latest_system(run)
    assert now is not None and now.host[0].step == 400_000


def test_a_field_never_finite_is_left_out() -> None:
    run = make_metrics(3, sys_cpu_percent=NAN, proc_rss_bytes=[NAN, 1e9, NAN])
    now = latest_system(run)
    assert now is not None and [r.label for r in now.host] == ["Process memory (RSS)"]
    assert now.host[0].step == 100


def test_history_charts_and_their_rows() -> None:
    run = _sampled(n=10, every=3)
    charts = {c.title: c for c in history_charts(run.columns)}
    assert list(charts) == ["CPU", "Memory", "Disk I/O", "GPU utilisation", "GPU memory"]
    mem = history_frame(run, charts["GPU memory"])
    assert set(mem["series"]) == {"GPU 0 used", "GPU 1 used", "GPU 0 total"}
    assert len(mem[mem["series"] == "GPU 0 used"]) == 4  # only the sampled lines
    assert mem.loc[mem["series"] == "GPU 0 total", "value"].iloc[0] == pytest.approx(8.0)
    cpu = history_frame(run, charts["CPU"])
    assert cpu.loc[cpu["series"] == "process", "value"].max() == pytest.approx(220.0)


def test_history_is_downsampled_keeping_extremes() -> None:
    n = 50_000
    cpu = np.full(n, 10.0)
    cpu[12_345] = 99.0
    run = make_metrics(n, sys_cpu_percent=cpu, proc_cpu_percent=cpu / 2)
    (chart,) = history_charts(run.columns)
    rows = history_frame(run, chart, max_points=1000)
    assert len(rows) <= 1000
    system = rows[rows["series"] == "system"]
    assert system["value"].max() == 99.0 and system["step"].iloc[-1] == (n - 1) * 100


def test_config_rows_flatten_to_dotted_keys() -> None:
    config = {
        "lr": 0.1,
        "model": {"layers": [2, 3], "act": {"name": "relu"}},
        "empty": {},
        "tags": ["a"],
    }
    rows = config_rows(config)
    assert rows.rows == (
        ("lr", 0.1),
        ("model.layers", [2, 3]),
        ("model.act.name", "relu"),
        ("empty", {}),
        ("tags", ["a"]),
    )
    assert rows.more == 0
    assert config_rows(None).rows == () and config_rows({}).rows == ()
    many = config_rows({f"k{i}": i for i in range(30)}, max_rows=10)
    assert len(many.rows) == 10 and many.more == 20


def test_config_rows_of_a_deep_config_do_not_recurse() -> None:
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(5000):
        deep = {"d": deep}
    (row,) = config_rows(deep).rows
    assert row[0].endswith(".d.leaf") and row[1] == 1


def test_what_the_sampler_writes_reads_back_as_the_system_section(tmp_path: Path) -> None:
    """End to end: a CurriculumLogger with a (fake-probe) sampler -> the reader -> the values."""
    from dashboard import load_training_state
    from thalia_logging import CurriculumLogger
    from thalia_logging.system_metrics import SystemSampler

    sample = {
        "sys_cpu_percent": 12.0,
        "proc_rss_bytes": 2_000_000_000,
        "gpu0_util_percent": 55.0,
        "gpu0_mem_bytes": int(4.2 * GPU_GB),
        "gpu0_mem_total_bytes": 8 * GPU_GB,
    }
    sampler = SystemSampler(10.0, sample=lambda: dict(sample), start=False)
    logger = CurriculumLogger(tmp_path, system_metrics=sampler, file_log=False, config={"lr": 0.1})
    try:
        for step in range(6):
            if step in (1, 4):
                sampler.sample_now()  # what the thread does once per interval
            logger.log_metrics(step, loss=1.0)
    finally:
        logger.close()
    state = load_training_state(tmp_path)
    assert state.config == {"lr": 0.1}
    now = latest_system(state.metrics_history)
    assert now is not None
    assert [(r.label, r.text, r.step) for r in now.host] == [
        ("System CPU", "12%", 4),
        ("Process memory (RSS)", "2.0 GB", 4),
    ]
    (gpu,) = now.gpus
    assert gpu.memory is not None and gpu.memory.text == "4.2 / 8.0 GB"
    rows = state.metrics_history
    assert rows.loc[rows["sys_cpu_percent"].notna(), "step"].tolist() == [1, 4]
