"""The debiased EMA matches TensorBoard's smoothing formula and is NaN-aware."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.analysis.smoothing import InvalidSmoothingWeight, ema


def tensorboard_smooth(values: list[float], weight: float) -> list[float]:
    """A line-by-line port of TensorBoard's vz_line_chart2 ``resmoothDataset``."""
    last = 0.0 if len(values) > 0 else math.nan
    num_accum = 0
    out = []
    for next_val in values:
        if not math.isfinite(next_val):
            out.append(next_val)
        else:
            last = last * weight + (1 - weight) * next_val
            num_accum += 1
            debias_weight = 1.0
            if weight != 1:
                debias_weight = 1.0 - math.pow(weight, num_accum)
            out.append(last / debias_weight)
    return out


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99, 0.999])
def test_matches_tensorboard(weight: float) -> None:
    rng = np.random.default_rng(1)
    values = (rng.normal(size=300) + np.linspace(5, 0, 300)).tolist()
    np.testing.assert_allclose(ema(values, weight), tensorboard_smooth(values, weight), rtol=1e-12)


def test_nan_and_inf_do_not_poison_the_rest() -> None:
    values = [1.0, 2.0, math.nan, 3.0, math.inf, 4.0]
    out = ema(values, 0.6)
    expected = tensorboard_smooth(values, 0.6)
    assert math.isnan(out[2]) and out[4] == math.inf
    finite = [0, 1, 3, 5]
    np.testing.assert_allclose(out[finite], np.array(expected)[finite])
    assert np.isfinite(out[finite]).all()


def test_debiased_start_is_the_first_value() -> None:
    assert ema([5.0, 5.0, 5.0], 0.9).tolist() == pytest.approx([5.0, 5.0, 5.0])


def test_empty_and_all_nan() -> None:
    assert ema([], 0.5).size == 0
    assert np.isnan(ema([math.nan, math.nan], 0.5)).all()


@pytest.mark.parametrize("weight", [-0.1, 1.0, math.nan])
def test_invalid_weight_says_what_to_pass(weight: float) -> None:
    with pytest.raises(InvalidSmoothingWeight, match=r"0\.6"):
        ema([1.0], weight)


finite_floats = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
weights = st.sampled_from([0.001, 0.3, 0.6, 0.9, 0.99, 0.999]) | st.floats(0.0, 0.999)


@given(
    values=st.lists(finite_floats | st.just(math.nan) | st.just(math.inf), max_size=300),
    weight=weights,
)
def test_output_stays_within_the_running_min_and_max(values: list[float], weight: float) -> None:
    out = ema(values, weight)
    seen: list[float] = []
    for x, y in zip(values, out, strict=True):
        if not math.isfinite(x):
            assert y == x or (math.isnan(x) and math.isnan(y))
            continue
        seen.append(x)
        assert min(seen) <= y <= max(seen)


@given(value=finite_floats, n=st.integers(1, 5000), weight=weights)
def test_a_constant_comes_back_bit_for_bit(value: float, n: int, weight: float) -> None:
    assert (ema(np.full(n, value), weight) == value).all()


def test_the_example_trainers_constant_lr_is_flat() -> None:
    assert ema([0.05] * 10_000, 0.6).tolist() == [0.05] * 10_000
    assert ema([0.1] * 3 + [math.nan] + [0.1] * 3, 0.999)[[0, 1, 2, 4, 5, 6]].tolist() == [0.1] * 6


@pytest.mark.parametrize("weight", [0.001, 0.6, 0.999])
def test_long_series_match_the_recurrence(weight: float) -> None:
    """The blocked evaluation (blocks joined by carries) equals the point-by-point recurrence."""
    rng = np.random.default_rng(7)
    values = (rng.normal(size=700_000) * 3 + np.linspace(100, 0, 700_000)).tolist()
    np.testing.assert_allclose(
        ema(values, weight),
        tensorboard_smooth(values, weight),
        rtol=1e-11,
        atol=1e-12 * max(map(abs, values)),
    )
