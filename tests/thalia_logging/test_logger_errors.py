"""Each bad argument raises a TypeError/ValueError saying what and how, and writes nothing."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from thalia_logging import LoggerClosedError, LogTypeError, LogValueError

T, V = LogTypeError, LogValueError
CASES: list[tuple[str, str, tuple[Any, ...], dict[str, Any], type, str]] = [
    ("negative step", "log_metrics", (-1,), {"loss": 0.1}, V, "step must be >= 0"),
    ("float step", "log_metrics", (1.0,), {}, T, "step must be the training step"),
    ("str step", "log_metrics", ("5",), {}, T, "pass int(...)"),
    ("bool step", "log_metrics", (True,), {}, T, "step"),
    ("str metric", "log_metrics", (1,), {"loss": "0.5"}, T, "loss must be an int, a float"),
    ("bool metric", "log_metrics", (1,), {"capacity": True}, T, "capacity is a bool"),
    ("list metric", "log_metrics", (1,), {"loss": [0.1]}, T, "convert it with float"),
    ("complex metric", "log_metrics", (1,), {"loss": 1j}, T, "real number"),
    ("extra not a number", "log_metrics", (1,), {"lr": "high"}, T, "lr must be"),
    ("extra bool", "log_metrics", (1,), {"converged": False}, T, "converged is a bool"),
    ("extra dict", "log_metrics", (1,), {"more": {"a": 1}}, T, "more must be"),
    ("reserved extra", "log_metrics", (1,), {"wall_time": 3.0}, V, "set by the logger"),
    ("reserved rank", "log_metrics", (1,), {"rank": 3}, V, "set by the logger"),
    ("huge int", "log_metrics", (1,), {"tokens": 2**70}, V, "cannot write"),
    ("tensor of many", "log_metrics", (1,), {"loss": torch.ones(3)}, V, "shape (3,)"),
    ("numpy array", "log_metrics", (1,), {"loss": np.ones((2, 2))}, V, "shape (2, 2)"),
    ("counts not dict", "log_metrics", (1,), {"neuron_counts": [1, 2]}, T, "dict of region"),
    ("count float", "log_metrics", (1,), {"neuron_counts": {"a": 1.5}}, T, "neuron_counts['a']"),
    ("count negative", "log_metrics", (1,), {"neuron_counts": {"a": -1}}, V, "must be >= 0"),
    ("count bool", "log_metrics", (1,), {"neuron_counts": {"a": True}}, T, "neuron_counts['a']"),
    ("count str key", "log_metrics", (1,), {"neuron_counts": {3: 1}}, T, "keys must be region"),
    ("count str value", "log_metrics", (1,), {"neuron_counts": {"a": "1"}}, T, "an int"),
    ("capacity str", "log_metrics", (1,), {"capacity_by_region": {"a": "x"}}, T, "['a']"),
    ("capacity bool", "log_metrics", (1,), {"capacity_by_region": {"a": False}}, T, "a bool"),
    ("capacity None", "log_metrics", (1,), {"capacity_by_region": {"a": None}}, T, "['a']"),
    ("capacity key", "log_metrics", (1,), {"capacity_by_region": {(1,): 0.5}}, T, "keys"),
    ("capacity nested", "log_metrics", (1,), {"capacity_by_region": {"a": {"b": 1}}}, T, "['a']"),
    ("region not str", "log_growth", (1, 7, 10, 20), {}, T, "region must be a str"),
    ("region empty", "log_growth", (1, "", 10, 20), {}, V, "region must not be empty"),
    ("added negative", "log_growth", (1, "cortex", -5, 20), {}, V, "neurons_added must be >= 0"),
    ("total float", "log_growth", (1, "cortex", 5, 2.5), {}, T, "new_total"),
    ("reason not str", "log_growth", (1, "cortex", 5, 20), {"reason": 3}, T, "reason must"),
    ("growth bad step", "log_growth", (-2, "cortex", 5, 20), {}, V, "step must be >= 0"),
    ("sleep unknown", "log_consolidation", (1, "DEEP", 10, 5), {}, V, "use 'NREM' or 'REM'"),
    ("sleep not str", "log_consolidation", (1, 2, 10, 5), {}, T, "sleep_stage must"),
    ("patterns neg", "log_consolidation", (1, "REM", -1, 5), {}, V, "patterns_replayed"),
    ("duration str", "log_consolidation", (1, "REM", 1, "5"), {}, T, "duration_steps"),
    ("stage negative", "log_stage", (1, -1), {}, V, "stage must be >= 0"),
    ("stage name", "log_stage", (1, 2), {"name": 5}, T, "name must be a str"),
    ("meta bad step", "write_metadata", (-1,), {}, V, "step must be >= 0"),
    ("meta stage", "write_metadata", (1,), {"current_stage": "two"}, T, "current_stage"),
    ("meta milestone", "write_metadata", (1,), {"milestones": {"a": 1}}, T, "True or False"),
    ("meta metrics", "write_metadata", (1,), {"metrics": {"loss": "low"}}, T, "metrics['loss']"),
    ("meta warnings", "write_metadata", (1,), {"warnings": "careful"}, T, "wrap a single"),
    (
        "meta severity",
        "write_metadata",
        (1,),
        {"warnings": [{"severity": "bad", "message": "x"}]},
        V,
        "use one of info, warning, critical",
    ),
    ("meta own field", "write_metadata", (1,), {"run_id": "x"}, V, "sets 'run_id' itself"),
    # integers the reader keeps as int64, reserved "_" names, lone surrogates (issue 8)
    ("step beyond int64", "log_metrics", (2**63,), {"loss": 0.1}, V, "signed 64-bit int"),
    (
        "fast step beyond int64",
        "log_metrics",
        (2**63,),
        {
            "firing_rate": 0.1,
            "capacity": 0.1,
            "performance": 0.1,
            "loss": 0.1,
            "neuron_counts": {"a": 1},
            "capacity_by_region": {"a": 0.5},
        },
        V,
        "signed 64-bit int",
    ),
    (
        "count beyond int64",
        "log_metrics",
        (1,),
        {
            "firing_rate": 0.1,
            "capacity": 0.1,
            "performance": 0.1,
            "loss": 0.1,
            "neuron_counts": {"a": 2**63},
            "capacity_by_region": {"a": 0.5},
        },
        V,
        "signed 64-bit",
    ),
    ("growth total beyond int64", "log_growth", (1, "cortex", 5, 2**63), {}, V, "64-bit"),
    ("growth step beyond int64", "log_growth", (2**64, "cortex", 5, 6), {}, V, "64-bit"),
    ("patterns beyond int64", "log_consolidation", (1, "REM", 2**63, 5), {}, V, "64-bit"),
    ("stage beyond int64", "log_stage", (1, 2**63), {}, V, "64-bit"),
    ("meta step beyond int64", "write_metadata", (2**63,), {}, V, "64-bit"),
    ("metric below int64", "log_metrics", (1,), {"tokens": -(2**63) - 1}, V, "64 bits"),
    ("underscore metric", "log_metrics", (1,), {"_nonfinite": 1.0}, V, "reserved"),
    ("underscore seq", "log_metrics", (1,), {"_seq": 3}, V, "rename your metric"),
    ("surrogate region", "log_growth", (1, "cor\ud800tex", 5, 6), {}, V, "lone surrogate"),
    (
        "surrogate reason",
        "log_growth",
        (1, "cortex", 5, 6),
        {"reason": "\udc80"},
        V,
        "text.encode('utf-8', 'replace')",
    ),
    ("surrogate stage name", "log_stage", (1, 2), {"name": "\ud800"}, V, "lone surrogate"),
    ("surrogate metric name", "log_metrics", (1,), {"lo\ud800ss": 0.5}, V, "lone surrogate"),
    (
        "surrogate region key",
        "log_metrics",
        (1,),
        {
            "firing_rate": 0.1,
            "capacity": 0.1,
            "performance": 0.1,
            "loss": 0.1,
            "neuron_counts": {"\ud800": 1},
            "capacity_by_region": {"a": 0.5},
        },
        V,
        "lone surrogate",
    ),
    (
        "surrogate milestone",
        "write_metadata",
        (1,),
        {"milestones": {"\ud800": True}},
        V,
        "lone surrogate",
    ),
    ("surrogate warning", "write_metadata", (1,), {"warnings": ["\ud800"]}, V, "lone surrogate"),
]


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "exc", "fragment"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_argument_raises_and_writes_nothing(
    make_logger,
    tmp_path: Path,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    exc: type,
    fragment: str,
) -> None:
    logger = make_logger(file_log=True, console_log=True, console_every=1)
    logger.log_metrics(0, loss=0.5)
    logger.flush()
    before = _snapshot(tmp_path)
    with pytest.raises(exc) as info:
        getattr(logger, method)(*args, **kwargs)
    assert isinstance(info.value, TypeError | ValueError)
    assert fragment in str(info.value), str(info.value)
    logger.flush()
    assert _snapshot(tmp_path) == before
    logger.log_metrics(1, loss=math.nan)  # the logger still works afterwards
    logger.close()


def test_logging_after_close_raises(make_logger) -> None:
    logger = make_logger()
    logger.close()
    logger.close()  # idempotent
    for call in (
        lambda: logger.log_metrics(1),
        lambda: logger.log_stage(1, 1),
        lambda: logger.log_growth(1, "a", 1, 1),
        lambda: logger.write_metadata(1),
    ):
        with pytest.raises(LoggerClosedError, match="closed"):
            call()


def test_bad_constructor_arguments(tmp_path: Path) -> None:
    from thalia_logging import CurriculumLogger

    with pytest.raises(ValueError, match="flush_every"):
        CurriculumLogger(tmp_path, console_log=False, flush_every=0)
    with pytest.raises(TypeError, match="config must be a dict"):
        CurriculumLogger(tmp_path, console_log=False, config=[1])


def test_huge_rank_and_surrogate_config_are_refused(tmp_path: Path) -> None:
    from thalia_logging import CurriculumLogger

    with pytest.raises(ValueError, match="int64"):
        CurriculumLogger(tmp_path, console_log=False, rank=2**63)
    with pytest.raises(LogValueError, match="lone surrogate"):
        CurriculumLogger(tmp_path, console_log=False, config={"name": "\ud800"})
    assert not (tmp_path / "training_log.jsonl").exists()


def test_metric_values_keep_the_whole_uint64_range(make_logger, tmp_path: Path) -> None:
    """Only steps, ranks and counts are int64; a metric value may be any 64-bit int."""
    import json

    logger = make_logger()
    logger.log_metrics(1, tokens=2**64 - 1, debt=-(2**63))
    logger.close()
    lines = [json.loads(x) for x in (tmp_path / "training_log.jsonl").read_text().splitlines()]
    assert lines[-2]["tokens"] == 2**64 - 1 and lines[-2]["debt"] == -(2**63)
