"""thalia_logging.torch_support, and the torch values the logger takes (tensors, numpy, CUDA)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from thalia_logging import CurriculumLogger  # noqa: E402
from thalia_logging.torch_support import (  # noqa: E402
    dead_unit_fraction,
    firing_rate,
    global_grad_norm,
    gpu_memory_fields,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _lines(log_dir: Path, name: str = "training_log.jsonl") -> list[dict]:
    return [json.loads(line) for line in (log_dir / name).read_text().splitlines()]


def _metric_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMAS / "metric.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


# -- statistics ---------------------------------------------------------------------------


def test_firing_rate_is_the_share_of_active_entries() -> None:
    acts = torch.tensor([[0.0, 1.0, 2.0, -1.0], [0.5, 0.0, 0.0, 0.0]])
    assert firing_rate(acts) == pytest.approx(3 / 8)
    assert firing_rate(acts, threshold=0.75) == pytest.approx(2 / 8)
    assert firing_rate(acts.numpy()) == pytest.approx(3 / 8)
    assert firing_rate([[1.0, 0.0]]) == pytest.approx(0.5)
    assert math.isnan(firing_rate(torch.empty(0, 4)))


def test_firing_rate_of_a_tensor_needing_grad_is_a_plain_float() -> None:
    acts = torch.relu(torch.randn(16, 8, requires_grad=True))
    rate = firing_rate(acts)
    assert type(rate) is float and 0.0 <= rate <= 1.0


def test_dead_unit_fraction_counts_units_silent_on_every_sample() -> None:
    acts = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert dead_unit_fraction(acts) == pytest.approx(2 / 4)
    assert dead_unit_fraction(acts.numpy()) == pytest.approx(2 / 4)
    assert dead_unit_fraction(torch.ones(5, 3)) == 0.0
    assert math.isnan(dead_unit_fraction(torch.empty(0, 3)))
    with pytest.raises(ValueError, match="batch, units"):
        dead_unit_fraction(torch.tensor(1.0))


def test_global_grad_norm_matches_clip_grad_norm() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    model(torch.randn(8, 4)).sum().backward()
    expected = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"), norm_type=2)
    norm = global_grad_norm(model.parameters())
    assert type(norm) is float
    assert norm == pytest.approx(float(expected), rel=1e-5)


def test_global_grad_norm_keeps_nan_and_inf_and_skips_missing_grads() -> None:
    a, b, c = (torch.zeros(3, requires_grad=True) for _ in range(3))
    assert global_grad_norm([a, b]) == 0.0  # no gradients at all
    a.grad = torch.tensor([3.0, 4.0, 0.0])
    assert global_grad_norm([a, b]) == pytest.approx(5.0)
    assert global_grad_norm(a) == pytest.approx(5.0)
    b.grad = torch.tensor([float("inf"), 0.0, 0.0])
    assert global_grad_norm([a, b]) == math.inf
    c.grad = torch.tensor([float("nan"), 1.0, 0.0])
    assert math.isnan(global_grad_norm([a, b, c]))


# -- GPU memory fields --------------------------------------------------------------------


def _fake_torch(*, initialised: bool) -> SimpleNamespace:
    cuda = SimpleNamespace(
        is_available=lambda: True,
        is_initialized=lambda: initialised,
        current_device=lambda: 0,
        memory_allocated=lambda device=None: 1234,
        mem_get_info=lambda device=None: (1000, 80_000),
    )
    return SimpleNamespace(cuda=cuda)


def test_gpu_memory_fields_from_an_initialised_cuda() -> None:
    fields = gpu_memory_fields(torch_module=_fake_torch(initialised=True))
    assert fields == {"gpu_mem_bytes": 1234, "gpu_mem_total_bytes": 80_000}


def test_gpu_memory_fields_empty_while_cuda_is_not_initialised() -> None:
    assert gpu_memory_fields(torch_module=_fake_torch(initialised=False)) == {}


def test_gpu_memory_fields_never_raise() -> None:
    def broken() -> int:
        raise RuntimeError("CUDA driver gone")

    fake = _fake_torch(initialised=True)
    fake.cuda.memory_allocated = broken
    assert gpu_memory_fields(torch_module=fake) == {}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a CUDA-less machine")
def test_cuda_less_machine_gives_no_gpu_fields(tmp_path: Path) -> None:
    assert gpu_memory_fields() == {}
    with CurriculumLogger(tmp_path, console_log=False, file_log=False) as logger:
        logger.log_metrics(1, loss=torch.tensor(0.25))
    (line,) = [r for r in _lines(tmp_path) if r["event_type"] == "metric"]
    assert "gpu_mem_bytes" not in line and "gpu_mem_total_bytes" not in line


def test_logger_merges_gpu_fields_unless_the_caller_passed_them(tmp_path: Path) -> None:
    fields = {"gpu_mem_bytes": 5 << 20, "gpu_mem_total_bytes": 80 << 30}
    with CurriculumLogger(
        tmp_path, console_log=False, file_log=False, capture_gpu_memory=lambda: fields
    ) as logger:
        logger.log_metrics(1, loss=0.5)
        logger.log_metrics(2, loss=0.4, gpu_mem_bytes=7)
        logger.log_growth(3, "cortex", 4, 20)
    lines = _lines(tmp_path)
    metrics = {r["step"]: r for r in lines if r["event_type"] == "metric"}
    assert metrics[1]["gpu_mem_bytes"] == 5 << 20
    assert metrics[1]["gpu_mem_total_bytes"] == 80 << 30
    assert metrics[2]["gpu_mem_bytes"] == 7 and "gpu_mem_total_bytes" not in metrics[2]
    assert all("gpu_mem_bytes" not in r for r in lines if r["event_type"] != "metric")
    validator = _metric_validator()
    for record in metrics.values():
        validator.validate(record)


def test_logger_without_capture_writes_no_gpu_fields(tmp_path: Path) -> None:
    with CurriculumLogger(
        tmp_path, console_log=False, file_log=False, capture_gpu_memory=False
    ) as logger:
        logger.log_metrics(1, loss=0.5)
    assert all("gpu_mem_bytes" not in r for r in _lines(tmp_path))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_memory_fields_on_cuda(tmp_path: Path) -> None:
    block = torch.ones(1 << 20, device="cuda")  # 4 MiB held while logging
    with CurriculumLogger(tmp_path, console_log=False, file_log=False) as logger:
        logger.log_metrics(1, loss=block.sum() / block.numel())
    (line,) = [r for r in _lines(tmp_path) if r["event_type"] == "metric"]
    _free, total = torch.cuda.mem_get_info()
    assert line["loss"] == pytest.approx(1.0)
    assert line["gpu_mem_total_bytes"] == total
    assert 4 << 20 <= line["gpu_mem_bytes"] <= total
    _metric_validator().validate(line)
    del block


# -- tensors and numpy scalars through the logger -----------------------------------------


def test_logger_takes_tensors_and_numpy_scalars(tmp_path: Path) -> None:
    w = torch.tensor(2.0, requires_grad=True)
    loss = w * 0.25  # a 0-d float tensor that requires grad
    with CurriculumLogger(tmp_path, console_log=False, file_log=False) as logger:
        logger.log_metrics(
            torch.tensor(10),
            firing_rate=torch.tensor(0.125, dtype=torch.float64),
            capacity=np.float32(0.75),
            performance=np.float64(0.5),
            loss=loss,
            neuron_counts={"cortex": torch.tensor(64), "hippocampus": np.int64(32)},
            capacity_by_region={"cortex": torch.tensor(0.5), "hippocampus": np.float16(0.25)},
            grad_norm=torch.tensor(float("nan")),
            tokens=np.int32(7),
        )
        logger.log_growth(torch.tensor(11), "cortex", torch.tensor(8), np.int64(72))
        logger.log_consolidation(np.int64(12), "REM", torch.tensor(100), np.int16(5))
    lines = _lines(tmp_path)
    metric = next(r for r in lines if r["event_type"] == "metric")
    assert metric["step"] == 10
    assert metric["firing_rate"] == 0.125 and metric["capacity"] == 0.75
    assert metric["performance"] == 0.5 and metric["loss"] == 0.5
    assert metric["neuron_counts"] == {"cortex": 64, "hippocampus": 32}
    assert metric["capacity_by_region"] == {"cortex": 0.5, "hippocampus": 0.25}
    assert metric["grad_norm"] == "NaN" and metric["tokens"] == 7
    _metric_validator().validate(metric)
    growth = next(r for r in lines if r["event_type"] == "growth")
    assert (growth["step"], growth["neurons_added"], growth["new_total"]) == (11, 8, 72)
    sleep = next(r for r in lines if r["event_type"] == "consolidation")
    assert (sleep["step"], sleep["patterns_replayed"], sleep["duration_steps"]) == (12, 100, 5)


def test_importing_thalia_logging_does_not_import_torch() -> None:
    code = (
        "import sys, thalia_logging, thalia_logging.torch_support as ts\n"
        "assert ts.gpu_memory_fields() == {}\n"
        "assert 'torch' not in sys.modules, 'thalia_logging imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_page_shows_gpu_memory_when_the_column_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    fields = {"gpu_mem_bytes": 3 << 30, "gpu_mem_total_bytes": 80 << 30}
    with CurriculumLogger(
        tmp_path, console_log=False, file_log=False, capture_gpu_memory=lambda: fields
    ) as logger:
        for step in range(1, 6):
            logger.log_metrics(step, loss=torch.tensor(1.0 / step), performance=0.1 * step)
    monkeypatch.setenv("THALIA_CHECKPOINT_DIR", str(tmp_path))
    try:
        at = AppTest.from_file(str(SCHEMAS.parent / "dashboard" / "app.py"), default_timeout=60)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert "GPU memory" in [c.value for c in at.caption]
    finally:
        st.cache_resource.clear()  # closes the cached RunWatcher and its threads
