"""The log_metrics fast path and its fallback write exactly what the full validator writes.

``log_metrics`` takes the common line (four plain floats, two dicts of plain ints / floats) in a
few type checks and hands anything else to ``events.metric_event``. These tests pin the
boundary: every value that fails a fast check still gets the full validator's answer, either
the same line or the same error with nothing written.
"""

from __future__ import annotations

import collections
import math
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logger_helpers import read_records, validate_record

from thalia_logging import CurriculumLogger, LogTypeError, LogValueError, events
from thalia_logging.values import number

PLAIN: dict[str, Any] = {
    "firing_rate": 0.112,
    "capacity": 0.75,
    "performance": 0.92,
    "loss": 0.2341,
    "neuron_counts": {"cortex": 1024, "hippocampus": 2048},
    "capacity_by_region": {"cortex": 0.5, "hippocampus": 0.55},
}


def _metric_lines(path: Path) -> list[dict[str, Any]]:
    return [r for r in read_records(path / "training_log.jsonl") if r["event_type"] == "metric"]


def _log_one(make_logger: Any, tmp_path: Path, **changes: Any) -> dict[str, Any]:
    logger = make_logger(file_log=False, capture_gpu_memory=False)
    logger.log_metrics(7, **{**PLAIN, **changes})
    logger.close()
    (line,) = _metric_lines(tmp_path)
    validate_record(line)
    return line


ACCEPTED: list[tuple[str, dict[str, Any], str, Any]] = [
    ("plain line", {}, "loss", 0.2341),
    (
        "NaN in capacity_by_region",
        {"capacity_by_region": {"a": math.nan, "b": 0.5}},
        "capacity_by_region",
        {"a": "NaN", "b": 0.5},
    ),
    (
        "inf in capacity_by_region",
        {"capacity_by_region": {"a": math.inf, "b": -math.inf}},
        "capacity_by_region",
        {"a": "Infinity", "b": "-Infinity"},
    ),
    (
        "int in capacity_by_region",
        {"capacity_by_region": {"a": 1, "b": 0.25}},
        "capacity_by_region",
        {"a": 1, "b": 0.25},
    ),
    (
        "numpy in capacity_by_region",
        {"capacity_by_region": {"a": np.float32(0.5)}},
        "capacity_by_region",
        {"a": 0.5},
    ),
    (
        "0-d tensor count",
        {"neuron_counts": {"a": torch.tensor(64), "b": np.int64(3)}},
        "neuron_counts",
        {"a": 64, "b": 3},
    ),
    ("NaN loss", {"loss": math.nan}, "loss", "NaN"),
    ("inf firing rate", {"firing_rate": -math.inf}, "firing_rate", "-Infinity"),
    ("finite floats whose sum overflows", {"loss": 1e308, "capacity": 1e308}, "loss", 1e308),
    ("int loss", {"loss": 3}, "loss", 3),
    ("0-d tensor loss", {"loss": torch.tensor(0.5)}, "loss", 0.5),
    ("numpy loss", {"loss": np.float64(0.25)}, "loss", 0.25),
    ("dict subclass", {"neuron_counts": collections.OrderedDict(a=5)}, "neuron_counts", {"a": 5}),
    (
        "read-only mapping",
        {"capacity_by_region": types.MappingProxyType({"a": 0.5})},
        "capacity_by_region",
        {"a": 0.5},
    ),
    ("no dicts", {"neuron_counts": None, "capacity_by_region": None}, "capacity", 0.75),
    ("empty dicts", {"neuron_counts": {}, "capacity_by_region": {}}, "neuron_counts", {}),
]


@pytest.mark.parametrize(
    ("case", "changes", "field", "written"), ACCEPTED, ids=[c[0] for c in ACCEPTED]
)
def test_values_off_the_fast_path_are_still_written(
    make_logger: Any,
    tmp_path: Path,
    case: str,
    changes: dict[str, Any],
    field: str,
    written: Any,
) -> None:
    line = _log_one(make_logger, tmp_path, **changes)
    assert line[field] == written
    assert line["step"] == 7
    if field != "loss" or "loss" not in changes:  # the other fields are untouched
        assert line["performance"] == 0.92


T, V = LogTypeError, LogValueError
REFUSED: list[tuple[str, dict[str, Any], type, str]] = [
    ("bool inside neuron_counts", {"neuron_counts": {"a": 1, "b": True}}, T, "['b']"),
    ("float inside neuron_counts", {"neuron_counts": {"a": 2.0}}, T, "['a']"),
    ("negative count", {"neuron_counts": {"a": 1, "b": -4}}, V, "must be >= 0"),
    ("non-str key in neuron_counts", {"neuron_counts": {"a": 1, 2: 3}}, T, "keys must be"),
    ("non-str key in capacity_by_region", {"capacity_by_region": {None: 0.5}}, T, "keys"),
    ("bool inside capacity_by_region", {"capacity_by_region": {"a": 0.5, "b": False}}, T, "a bool"),
    ("str inside capacity_by_region", {"capacity_by_region": {"a": "0.5"}}, T, "['a']"),
    ("tensor of many in capacity", {"capacity_by_region": {"a": torch.ones(2)}}, V, "shape"),
    ("count beyond 64 bits", {"neuron_counts": {"a": 2**70}}, V, "cannot write"),
    ("bool scalar", {"performance": True}, T, "performance is a bool"),
    ("str scalar", {"loss": "low"}, T, "loss must be"),
    ("tensor of many scalar", {"loss": torch.ones(3)}, V, "shape (3,)"),
    ("counts not a dict", {"neuron_counts": [1, 2]}, T, "dict of region"),
]


@pytest.mark.parametrize(
    ("case", "changes", "error", "match"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_bad_values_still_raise_and_write_nothing(
    make_logger: Any,
    tmp_path: Path,
    case: str,
    changes: dict[str, Any],
    error: type,
    match: str,
) -> None:
    logger = make_logger(file_log=False, capture_gpu_memory=False)
    logger.log_metrics(1, **PLAIN)
    with pytest.raises(
        error,
        match=match.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]"),
    ):
        logger.log_metrics(2, **{**PLAIN, **changes})
    logger.log_metrics(3, **PLAIN)
    logger.close()
    assert [r["step"] for r in _metric_lines(tmp_path)] == [1, 3]


def test_bad_step_on_an_otherwise_plain_line_raises(make_logger: Any, tmp_path: Path) -> None:
    logger = make_logger(file_log=False)
    for step, error in ((-1, LogValueError), (True, LogTypeError), (2.0, LogTypeError)):
        with pytest.raises(error, match="step"):
            logger.log_metrics(step, **PLAIN)
    logger.close()
    assert _metric_lines(tmp_path) == []


# -- the fast path agrees with the full validator on any input -----------------------------

odd_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 2**65),
    st.booleans(),
    st.none(),
    st.just("0.5"),
    st.builds(np.float32, st.floats(-1e6, 1e6, width=32)),
)
scalars = st.one_of(st.floats(0, 1), st.floats(0, 1), odd_numbers)
regions = st.one_of(st.text(max_size=6), st.integers(0, 3))
counts = st.dictionaries(regions, st.one_of(st.integers(0, 10**6), odd_numbers), max_size=4)
capacities = st.dictionaries(regions, st.one_of(st.floats(0, 1), odd_numbers), max_size=4)


def _expected(step: int, kwargs: dict[str, Any]) -> dict[str, Any] | type:
    """What the full validator alone makes of these arguments: the record, or the error."""
    nc, cr = kwargs["neuron_counts"], kwargs["capacity_by_region"]
    try:
        rec = events.metric_event(
            0.0,
            step,
            kwargs["firing_rate"],
            kwargs["capacity"],
            kwargs["performance"],
            kwargs["loss"],
            nc,
            cr,
        )
        try:
            return orjson.loads(orjson.dumps(rec))
        except orjson.JSONEncodeError:  # a non-str key (TypeError) or a huge int (ValueError)
            raise events.explain_unwritable(rec, nc, cr) from None
    except (TypeError, ValueError) as exc:
        return TypeError if isinstance(exc, TypeError) else ValueError


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    firing_rate=scalars,
    capacity=scalars,
    performance=scalars,
    loss=scalars,
    neuron_counts=st.one_of(st.none(), counts),
    capacity_by_region=st.one_of(st.none(), capacities),
)
def test_fast_path_writes_what_the_full_validator_writes(**kwargs: Any) -> None:
    expected = _expected(5, kwargs)
    with (
        tempfile.TemporaryDirectory() as tmp,
        CurriculumLogger(
            tmp,
            console_log=False,
            file_log=False,
            background_flush=False,
            clock=lambda: 0.0,
            capture_gpu_memory=False,
        ) as logger,
    ):
        if isinstance(expected, type):
            with pytest.raises(expected):
                logger.log_metrics(5, **kwargs)
        else:
            logger.log_metrics(5, **kwargs)
        logger.close()
        lines = _metric_lines(Path(tmp))
    if isinstance(expected, type):
        assert lines == []
    else:
        (line,) = lines
        assert line == expected
        validate_record(line)


# -- numpy scalars: the type cache of values.number gives what .item() gives ---------------

NUMPY_VALUES: list[np.generic] = [
    np.float16(0.25),
    np.float32(0.1),
    np.float64(1e300),
    np.float32("nan"),
    np.float64("-inf"),
    np.int8(-3),
    np.uint64(2**63 + 5),
    np.int64(7),
]


def test_numpy_scalars_read_the_same_on_first_and_later_calls(
    make_logger: Any, tmp_path: Path
) -> None:
    logger = make_logger(file_log=False, capture_gpu_memory=False)
    for step in (1, 2):  # the second call takes the cached path for every type
        logger.log_metrics(step, **{f"m{i}": x for i, x in enumerate(NUMPY_VALUES)})
    logger.close()
    first, second = _metric_lines(tmp_path)
    expected = {f"m{i}": number("x", x.item()) for i, x in enumerate(NUMPY_VALUES)}
    for line in (first, second):
        assert {k: line[k] for k in expected} == expected
        validate_record(line)
    assert first["m3"] == "NaN" and first["m4"] == "-Infinity" and first["m6"] == 2**63 + 5


def test_numpy_bools_stay_refused_after_numpy_numbers(make_logger: Any, tmp_path: Path) -> None:
    logger = make_logger(file_log=False, capture_gpu_memory=False)
    logger.log_metrics(1, loss=np.float32(0.5), neuron_counts={"a": np.int64(3)})
    for bad in (
        {"loss": np.bool_(True)},
        {"neuron_counts": {"a": np.bool_(False)}},
        {"neuron_counts": {"a": np.float32(2.0)}},
    ):
        with pytest.raises(LogTypeError):
            logger.log_metrics(2, **bad)
    logger.close()
    assert [r["step"] for r in _metric_lines(tmp_path)] == [1]
