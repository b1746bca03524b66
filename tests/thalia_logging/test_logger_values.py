"""numpy scalars and 0-d torch tensors are accepted; many-element tensors are refused."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from logger_helpers import read_records, validate_record

from thalia_logging.values import (
    LogTypeError,
    LogValueError,
    check_step,
    json_safe,
    number,
    plain_counts,
    plain_numbers,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.25, 0.25),
        (3, 3),
        (-0.0, -0.0),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (np.float16(0.5), 0.5),
        (np.float32(0.25), 0.25),
        (np.float64(0.125), 0.125),
        (np.int8(-3), -3),
        (np.uint64(2**63), 2**63),
        (np.float32("nan"), "NaN"),
        (np.array(1.5), 1.5),
        (Fraction(1, 4), 0.25),
        (torch.tensor(0.5), 0.5),
        (torch.tensor(7), 7),
        (torch.tensor([2.5]), 2.5),
        (torch.tensor(float("inf")), "Infinity"),
        (torch.tensor(0.5, requires_grad=True), 0.5),
        (torch.tensor(0.5, dtype=torch.bfloat16), 0.5),
    ],
)
def test_number_coercion(value: object, expected: object) -> None:
    got = number("x", value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value", [True, np.bool_(True), torch.tensor(True), "1", None, [1], b"1"])
def test_number_refuses(value: object) -> None:
    with pytest.raises(LogTypeError):
        number("x", value)


def test_many_element_tensor_message() -> None:
    with pytest.raises(LogValueError) as info:
        number("loss", torch.zeros(2, 3))
    message = str(info.value)
    assert "loss is a torch tensor of shape (2, 3) (6 elements)" in message
    assert ".item()" in message and ".mean()" in message


def test_step_accepts_numpy_and_tensor_integers() -> None:
    assert check_step(np.int64(5)) == 5 and type(check_step(np.int64(5))) is int
    assert check_step(torch.tensor(9)) == 9
    with pytest.raises(LogTypeError):
        check_step(torch.tensor(9.0))


def test_cheap_dict_checks() -> None:
    assert plain_numbers({"a": 0.5, "b": 1}) and plain_numbers({})
    assert not plain_numbers({"a": math.nan}) and not plain_numbers({"a": "x"})
    assert not plain_numbers({"a": np.float32(1)}) and not plain_numbers([0.5])
    assert not plain_numbers({"a": True}) and not plain_numbers({"a": -math.inf})
    assert plain_counts({"a": 1, "b": 0}) and plain_counts({})
    assert not plain_counts({"a": -1}) and not plain_counts({"a": 1.0})
    assert not plain_counts({"a": True}) and not plain_counts({"a": np.int64(1)})


def test_json_safe_config() -> None:
    config = {
        "path": Path("/x"),
        "lr": np.float32(0.5),
        "nested": {"nan": math.nan},
        "layers": (1, 2),
        3: None,
        "flag": True,
        "t": torch.ones(2),
    }
    assert json_safe("config", config) == {
        "path": "/x",
        "lr": 0.5,
        "nested": {"nan": "NaN"},
        "layers": [1, 2],
        "3": None,
        "flag": True,
        "t": "tensor([1., 1.])",
    }


def test_numpy_and_torch_values_through_the_logger(make_logger, tmp_path: Path) -> None:
    logger = make_logger()
    logger.log_metrics(
        np.int64(10),
        firing_rate=np.float32(0.125),
        capacity=torch.tensor(0.75),
        performance=np.float64(0.5),
        loss=torch.tensor(float("nan")),
        neuron_counts={"cortex": np.int32(4096), "thalamus": torch.tensor(512)},
        capacity_by_region={"cortex": np.float16(0.5)},
        grad_norm=torch.tensor([3.0]),
    )
    logger.log_growth(torch.tensor(11), "cortex", np.int64(256), torch.tensor(4352))
    logger.close()
    records = read_records(tmp_path / "training_log.jsonl")
    for record in records:
        validate_record(record)
    metric = records[1]
    assert metric["step"] == 10 and metric["firing_rate"] == 0.125 and metric["loss"] == "NaN"
    assert metric["neuron_counts"] == {"cortex": 4096, "thalamus": 512}
    assert metric["grad_norm"] == 3.0
    assert records[2]["neurons_added"] == 256 and records[2]["new_total"] == 4352
