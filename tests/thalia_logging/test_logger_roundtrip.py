"""Hypothesis: any metrics, NaN and infinities included, read back equal."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logger_helpers import as_float, read_records, same_number, validate_record

from thalia_logging import CurriculumLogger

NAMED = {
    "step",
    "firing_rate",
    "capacity",
    "performance",
    "loss",
    "neuron_counts",
    "capacity_by_region",
    "event_type",
    "wall_time",
    "rank",
    "self",
}

floats = st.floats(allow_nan=True, allow_infinity=True)
numbers = st.one_of(floats, st.integers(min_value=-(2**63), max_value=2**64 - 1))
# A leading "_" is reserved for the reader's columns (the logger refuses it, test_logger_values).
names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(lambda k: k not in NAMED)
regions = st.text(min_size=0, max_size=12)

metric_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "firing_rate": floats,
        "capacity": floats,
        "performance": floats,
        "loss": numbers,
        "neuron_counts": st.dictionaries(regions, st.integers(0, 2**63 - 1), max_size=6),
        "capacity_by_region": st.dictionaries(regions, numbers, max_size=6),
    },
)


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(_equal(expected[k], actual[k]) for k in expected)
        )
    return same_number(expected, actual)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    step=st.integers(0, 2**63 - 1),
    kwargs=metric_kwargs,
    extra=st.dictionaries(names, numbers, max_size=5),
)
def test_metrics_round_trip(step: int, kwargs: dict[str, Any], extra: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as d:
        with CurriculumLogger(
            d, console_log=False, file_log=False, background_flush=False
        ) as logger:
            logger.log_metrics(step, **kwargs, **extra)
        records = read_records(Path(d) / "training_log.jsonl")
    assert len(records) == 3 and records[2]["event_type"] == "run_end"
    line = records[1]
    validate_record(line)
    assert line["step"] == step and line["event_type"] == "metric"
    expected = {**kwargs, **extra}
    got = {k: as_float(v) for k, v in line.items() if k not in ("event_type", "step", "wall_time")}
    assert _equal(expected, got), (expected, got)


def test_nan_and_infinities_are_distinct_on_read_back(tmp_path: Path) -> None:
    with CurriculumLogger(tmp_path, console_log=False, file_log=False) as logger:
        logger.log_metrics(
            7, loss=math.nan, capacity=math.inf, performance=-math.inf, firing_rate=-0.0
        )
    line = as_float(read_records(tmp_path / "training_log.jsonl")[1])
    assert math.isnan(line["loss"])
    assert line["capacity"] == math.inf and line["performance"] == -math.inf
    assert line["firing_rate"] == 0.0 and math.copysign(1, line["firing_rate"]) == -1
