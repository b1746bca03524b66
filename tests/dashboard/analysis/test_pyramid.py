"""Pyramids extended over random append sequences equal a fresh build, and keep downsample's
promises; the incremental EMA equals the whole-series EMA; memoised health equals a fresh check."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scenarios import SCENARIOS

from dashboard.analysis import series_pyramid
from dashboard.analysis.change_points import ChangePoints, change_points
from dashboard.analysis.health import check_health
from dashboard.analysis.memo import SnapshotMemo
from dashboard.analysis.pyramid import BASE_LEVEL, MinMaxPyramid, same_prefix
from dashboard.analysis.series_pyramid import SeriesPyramid
from dashboard.analysis.smoothing import EmaState, ema, ema_extend
from dashboard.reading import forget
from dashboard.reading.watcher import RunWatcher, load_training_state

values_strategy = hnp.arrays(
    np.float64,
    st.integers(min_value=0, max_value=2_000),
    elements=st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.sampled_from([math.nan, math.inf, -math.inf]),
    ),
)
cuts_strategy = st.lists(st.integers(min_value=0, max_value=2_000), max_size=6)


def _appended(values: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    """The growing prefixes of ``values`` at the sorted ``cuts``, ending with the whole."""
    ends = sorted({min(c, values.size) for c in cuts} | {values.size})
    return [values[:end] for end in ends]


@settings(max_examples=80, deadline=None)
@given(values=values_strategy, cuts=cuts_strategy, buckets=st.integers(2, 200))
def test_extended_pyramid_equals_a_fresh_one(
    values: np.ndarray, cuts: list[int], buckets: int
) -> None:
    grown = MinMaxPyramid()
    for prefix in _appended(values, cuts):
        grown.extend(prefix)
    fresh = MinMaxPyramid()
    fresh.extend(values)
    assert np.array_equal(grown.picks(buckets), fresh.picks(buckets))
    for a, b in zip(grown.mins + grown.maxs, fresh.mins + fresh.maxs, strict=True):
        for name in ("at", "value"):
            assert np.array_equal(a.parts[name].array, b.parts[name].array, equal_nan=True)
    assert len(fresh.mins) == max(0, values.size.bit_length() - BASE_LEVEL)


@settings(max_examples=80, deadline=None)
@given(values=values_strategy, buckets=st.integers(2, 200))
def test_picks_keep_downsamples_promises(values: np.ndarray, buckets: int) -> None:
    pyramid = MinMaxPyramid()
    pyramid.extend(values)
    picks = pyramid.picks(buckets)
    assert picks.size <= 2 * buckets + 2
    assert np.unique(picks).size == picks.size and np.all(np.diff(picks) > 0)
    assert np.isfinite(values[picks]).all()
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0:
        assert picks.size == 0
        return
    assert finite[0] in picks and finite[-1] in picks
    assert values[picks].max() == values[finite].max()
    assert values[picks].min() == values[finite].min()
    if values.size <= 2 * buckets + 2:
        assert np.array_equal(picks, finite)


def test_a_spike_in_a_million_rows_is_kept() -> None:
    y = np.sin(np.linspace(0, 100, 1_000_000))
    y[654_321] = 1e9
    y[999_000] = math.nan
    series = SeriesPyramid()
    series.update(y[:500_000])
    series.update(y)
    picks = series.picks(5000)
    assert picks.size <= 5000
    assert 654_321 in picks and 0 in picks and 999_999 in picks and 999_000 not in picks


@settings(max_examples=60, deadline=None)
@given(
    values=values_strategy,
    cuts=cuts_strategy,
    weight=st.sampled_from([0.0, 0.3, 0.6, 0.9, 0.999]),
    budget=st.integers(6, 400),
)
def test_series_over_appends_equals_a_fresh_series(
    values: np.ndarray, cuts: list[int], weight: float, budget: int
) -> None:
    grown = SeriesPyramid(weight)
    for prefix in _appended(values, cuts):
        grown.update(prefix.copy())  # copies: the prefix is compared, not the memory
    fresh = SeriesPyramid(weight)
    fresh.update(values)
    assert grown.rebuilds == fresh.rebuilds == 0
    assert np.array_equal(grown.raw.picks(50), fresh.raw.picks(50))
    if weight > 0:
        np.testing.assert_allclose(grown.smoothed, ema(values, weight), rtol=1e-9, atol=1e-9)
        assert grown.picks(budget).size <= max(budget, 12)
    else:
        assert grown.picks(budget).size <= budget


@settings(max_examples=60, deadline=None)
@example(values=np.arange(3.0), cuts=[0], weight=0.0, budget=6, renumber=True)
@given(
    values=values_strategy,
    cuts=cuts_strategy,
    weight=st.sampled_from([0.0, 0.6, 0.99]),
    budget=st.integers(6, 400),
    renumber=st.booleans(),
)
def test_points_carry_the_columns_at_their_rows(
    values: np.ndarray, cuts: list[int], weight: float, budget: int, renumber: bool
) -> None:
    """What a chart draws comes from the pyramids alone (steps, values and the smoothed line at
    each pick, kept when the extreme was found): it equals the columns read at the picked rows,
    over appends, and after earlier rows' steps changed (the series starts over)."""
    series = SeriesPyramid(weight)
    steps = np.arange(values.size, dtype=np.int64) * 7 + 3
    for i, prefix in enumerate(_appended(values, cuts)):
        if renumber and i == 1:
            steps = steps + 1
        series.update(prefix.copy(), steps[: prefix.size].copy())
        points = series.points(budget)
        at = points["at"]
        assert np.array_equal(at, series.picks(budget))
        assert points["step"].tolist() == steps[at].tolist()
        assert np.array_equal(points["value"], prefix[at])
        if weight > 0:
            assert np.array_equal(points["smoothed"], series.smoothed[at])
    prefixes = _appended(values, cuts)
    assert series.rebuilds == int(renumber and len(prefixes) > 1 and prefixes[0].size > 0)


def test_a_long_smoothed_series_spills_and_stays_exact(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The smoothed copy of a series (8 B a row) lives in a spill file outside the run, with no
    row resident beyond the window, and equals the EMA of a fresh computation (as chunked EMA
    does in memory)."""
    monkeypatch.setenv("THALIA_DASHBOARD_SPILL_DIR", str(tmp_path / "spill"))
    monkeypatch.setenv("THALIA_DASHBOARD_SPILL_MIN_BYTES", "1")
    monkeypatch.setenv("THALIA_DASHBOARD_SPILL_RECENT_ROWS", "0")
    values = np.random.default_rng(5).normal(size=50_000)
    values[::97] = np.nan
    series = SeriesPyramid(weight=0.6)
    for end in (1, 700, 20_000, 20_001, 50_000):
        series.update(values[:end])
    assert series._smoothed.spilled
    np.testing.assert_allclose(series.smoothed, ema(values, 0.6), rtol=1e-9, atol=1e-9)
    assert list((tmp_path / "spill").iterdir()) == []  # unnamed files: nothing left to see


def test_a_changed_prefix_rebuilds() -> None:
    series = SeriesPyramid(0.6)
    series.update(np.arange(100.0))
    changed = np.arange(120.0)
    changed[10] = -5.0  # a late line merged into an old row
    series.update(changed)
    fresh = SeriesPyramid(0.6)
    fresh.update(changed)
    assert series.rebuilds == 1
    assert np.array_equal(series.picks(20), fresh.picks(20))
    assert np.array_equal(series.smoothed, fresh.smoothed)
    series.update(changed[:50])  # a cut: fewer rows
    assert series.rebuilds == 2 and series.raw.values.size == 50


def test_same_prefix_is_bitwise() -> None:
    a = np.array([1.0, math.nan, 3.0])
    assert same_prefix(a, np.array([1.0, math.nan, 3.0, 4.0]))
    assert not same_prefix(a, np.array([1.0, 2.0, 3.0, 4.0]))
    assert not same_prefix(a, a[:2])
    assert same_prefix(a[:2], a)


@settings(max_examples=60, deadline=None)
@given(values=values_strategy, cuts=cuts_strategy, weight=st.floats(0.01, 0.999))
def test_ema_extend_over_chunks_equals_ema(
    values: np.ndarray, cuts: list[int], weight: float
) -> None:
    state, parts, start = EmaState(), [], 0
    for prefix in _appended(values, cuts):
        parts.append(ema_extend(state, values[start : prefix.size], weight))
        start = prefix.size
    got = np.concatenate(parts) if parts else np.empty(0)
    want = ema(values, weight)
    assert np.array_equal(np.isfinite(got), np.isfinite(want))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_snapshot_memo_reuses_only_for_the_same_snapshot() -> None:
    class Snap:
        pass

    memo: SnapshotMemo[int] = SnapshotMemo(2)
    one, two = Snap(), Snap()
    calls: list[int] = []

    def build(v: int) -> int:
        calls.append(v)
        return v

    assert memo.get(one, "a", lambda: build(1)) == 1
    assert memo.get(one, "a", lambda: build(9)) == 1
    assert memo.get(two, "a", lambda: build(2)) == 2
    assert memo.get(one, "b", lambda: build(3)) == 3
    assert calls == [1, 2, 3]
    assert memo.get(one, "a", lambda: build(4)) == 4  # bounded: the oldest went out


@pytest.mark.parametrize("weight", [0.0, 0.6])
def test_all_non_finite_series_draws_nothing(weight: float) -> None:
    series = SeriesPyramid(weight)
    series.update(np.full(1000, math.nan))
    assert series.picks(50).size == 0


@pytest.mark.parametrize("index", range(len(SCENARIOS)), ids=[s.name for s in SCENARIOS])
def test_memoised_health_equals_a_fresh_check(tmp_path: Path, index: int) -> None:
    scenario = SCENARIOS[index]
    now = scenario.write(tmp_path)
    state = load_training_state(tmp_path)
    memo: SnapshotMemo[Any] = SnapshotMemo()
    fresh = check_health(state, now=now)
    assert check_health(state, now=now, memo=memo) == fresh
    assert check_health(state, now=now, memo=memo) == fresh  # from the memo
    later = now + 7200.0  # the stall rule reads now: never from the memo
    assert check_health(state, now=later, memo=memo) == check_health(state, now=later)


@settings(max_examples=15, deadline=None)
@given(chunks=st.lists(st.integers(1, 40), min_size=1, max_size=5), nan_at=st.integers(0, 150))
def test_memoised_health_follows_appended_lines(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[int], nan_at: int
) -> None:
    directory = tmp_path_factory.mktemp("live")
    memo: SnapshotMemo[Any] = SnapshotMemo()
    step = 0
    with RunWatcher(directory, use_watchdog=False, poll_interval_s=0.0) as watcher:
        for count in chunks:
            with open(directory / "training_log.jsonl", "a", encoding="utf-8") as fh:
                for _ in range(count):
                    loss = "NaN" if step == nan_at else 2.0 / (1 + step) + 0.5 * (step > 60)
                    line = {"event_type": "metric", "step": step, "wall_time": 1e9 + step,
                            "loss": loss, "firing_rate": 0.01 if step > 100 else 0.1}  # fmt: skip
                    fh.write(json.dumps(line) + "\n")
                    step += 1
            state = watcher.refresh()
            now = 1e9 + step
            assert check_health(state, now=now, memo=memo) == check_health(state, now=now)


counts_strategy = hnp.arrays(
    np.float64,
    st.integers(min_value=0, max_value=600),
    elements=st.one_of(st.sampled_from([10.0, 11.0, 12.0]), st.just(math.nan)),
)


@settings(max_examples=80, deadline=None)
@given(values=counts_strategy, cuts=cuts_strategy)
def test_change_points_over_appends_equal_a_fresh_scan(values: np.ndarray, cuts: list[int]) -> None:
    kept = ChangePoints()
    for prefix in _appended(values, [c % 601 for c in cuts]):
        got = kept.update(prefix.copy())
        assert np.array_equal(got, change_points(prefix))
    assert kept.rebuilds == 0


@settings(max_examples=80, deadline=None)
@given(values=counts_strategy, cuts=cuts_strategy, renumber=st.booleans())
def test_change_point_series_over_appends_equal_a_fresh_scan(
    values: np.ndarray, cuts: list[int], renumber: bool
) -> None:
    """The kept (steps, values) at the change points equal the columns read at a fresh scan's
    positions, also when the steps of earlier rows change (rows moved) or when the same object
    was updated before without steps."""
    kept = ChangePoints()
    kept.update(values[: len(values) // 3])
    steps = np.arange(len(values), dtype=np.int64) * 10
    for i, prefix in enumerate(_appended(values, [c % 601 for c in cuts])):
        if renumber and i == 1:
            steps = steps + 1
        rows = steps[: prefix.size].copy()
        got_steps, got_values = kept.series(prefix.copy(), rows)
        pos = change_points(prefix)
        assert got_steps.tolist() == rows[pos].tolist()
        np.testing.assert_array_equal(got_values, prefix[pos])


def _assert_thinned(kept: ChangePoints, values: np.ndarray, steps: np.ndarray, budget: int) -> None:
    """``kept.points(budget)`` equals the series thinned from scratch: all points within the
    budget, else the first, a fresh pyramid's picks among the points between, and the last."""
    pos = change_points(values)
    want_steps, want_values = steps[pos], values[pos]
    if pos.size > budget:
        fresh = SeriesPyramid()
        fresh.update(want_values[1:-1], want_steps[1:-1])
        inner = fresh.points(max(budget - 2, 6))
        want_steps = np.concatenate([want_steps[:1], inner["step"], want_steps[-1:]])
        want_values = np.concatenate([want_values[:1], inner["value"], want_values[-1:]])
    got_steps, got_values = kept.points(budget)
    assert got_steps.tolist() == want_steps.tolist()
    np.testing.assert_array_equal(got_values, want_values)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(0, 1_500),
    cuts=cuts_strategy,
    budget=st.integers(6, 60),
    changed_from=st.integers(0, 1_500),
    shorter=st.integers(0, 50),
)
def test_thinned_change_points_kept_equal_a_fresh_thinning(
    seed: int, size: int, cuts: list[int], budget: int, changed_from: int, shorter: int
) -> None:
    """Over appends, then values changed from a row on with fewer rows (a late line, a resume),
    the kept points drawn within a budget equal the same points thinned from scratch. (Random
    counts from a seed: most examples have more change points than the budget.)"""
    values = np.random.default_rng(seed).choice([10.0, 11.0, 12.0, 12.0, math.nan], size)
    steps = np.arange(values.size, dtype=np.int64) * 3
    kept = ChangePoints()
    for prefix in _appended(values, cuts):
        n = kept.advance(prefix.copy(), steps[: prefix.size].copy())
        assert n == change_points(prefix).size
        _assert_thinned(kept, prefix, steps[: prefix.size], budget)
    at = min(changed_from, values.size)
    changed = values.copy()
    changed[at:] = np.where(np.isfinite(changed[at:]), 23.0 - changed[at:], changed[at:])
    end = max(at, values.size - shorter)
    kept.advance(changed[:end].copy(), steps[:end].copy())
    _assert_thinned(kept, changed[:end], steps[:end], budget)


def test_change_points_of_a_changed_prefix_go_back_to_it() -> None:
    kept = ChangePoints()
    kept.update(np.array([1.0, 1.0, 2.0, 2.0]))
    changed = np.array([1.0, 3.0, 2.0, 2.0, 2.0, 5.0])
    assert np.array_equal(kept.update(changed), change_points(changed))
    assert kept.rebuilds == 0 and change_points(changed).tolist() == [0, 1, 2, 5]
    first = np.array([7.0, 3.0, 2.0])  # the first finite row changed: nothing to keep
    assert np.array_equal(kept.update(first), change_points(first)) and kept.rebuilds == 1


@settings(max_examples=60, deadline=None)
@given(
    values=values_strategy,
    cut=st.integers(0, 2_000),
    shorter=st.integers(0, 300),
    renumber=st.booleans(),
)
def test_change_points_changed_from_a_row_on_equal_a_fresh_scan(
    values: np.ndarray, cut: int, shorter: int, renumber: bool
) -> None:
    """Values (or, ``renumber``, steps) changed from ``cut`` on and ``shorter`` rows fewer: the
    kept points and their (step, value) series equal a fresh scan of the new column."""
    steps = np.arange(values.size, dtype=np.int64) * 2
    kept = ChangePoints()
    kept.series(values.copy(), steps.copy())
    at = min(cut, values.size)
    changed, new_steps = values.copy(), steps.copy()
    if renumber:
        new_steps[at:] += 1
    else:
        changed[at:] = np.where(np.isfinite(changed[at:]), changed[at:] + 1.0, changed[at:])
    end = max(at, values.size - shorter)
    got_steps, got_values = kept.series(changed[:end].copy(), new_steps[:end].copy())
    pos = change_points(changed[:end])
    assert got_steps.tolist() == new_steps[pos].tolist()
    np.testing.assert_array_equal(got_values, changed[pos])
    assert np.array_equal(kept.update(changed[:end].copy()), pos)


@settings(max_examples=30, deadline=None)
@given(values=values_strategy, weight=st.sampled_from([0.0, 0.6]), part=st.integers(16, 300))
def test_a_long_first_build_read_in_parts_equals_one_read(
    values: np.ndarray, weight: float, part: int
) -> None:
    """The first build of a long column reads it in parts (giving each part's pages back): the
    raw pyramid and the change points equal those of a read in one go, and the smoothed line
    the whole-series EMA (up to rounding, as for live appends)."""
    steps = np.arange(values.size, dtype=np.int64) * 3
    whole, whole_points = SeriesPyramid(), ChangePoints()
    whole.update(values, steps)
    whole_points.update(values, steps)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(forget, "PART_ROWS", part)
        split, split_points, smoothed = SeriesPyramid(), ChangePoints(), SeriesPyramid(weight)
        split.update(values, steps)
        split_points.update(values, steps)
        smoothed.update(values, steps)
    for budget in (6, 40, 400):
        got, want = split.points(budget), whole.points(budget)
        assert got.keys() == want.keys()
        for name in want:
            assert np.array_equal(got[name], want[name])
    assert [a.tolist() for a in split_points.series(values, steps)] == [
        a.tolist() for a in whole_points.series(values, steps)
    ]
    if weight > 0:
        np.testing.assert_allclose(smoothed.smoothed, ema(values, weight), rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(values=values_strategy, cut=st.integers(0, 2_000), buckets=st.integers(2, 200))
def test_a_pyramid_cut_back_and_extended_equals_a_fresh_one(
    values: np.ndarray, cut: int, buckets: int
) -> None:
    """A series cut back to its first ``cut`` rows (rows after changed) and extended with other
    rows draws what a fresh series of the new rows draws."""
    steps = np.arange(values.size, dtype=np.int64)
    series = SeriesPyramid()
    series.update(values, steps)
    changed = values.copy()
    changed[min(cut, values.size) :] = -changed[min(cut, values.size) :] - 1.0
    series.truncate(min(cut, values.size))
    series.update(changed, steps)
    fresh = SeriesPyramid()
    fresh.update(changed, steps)
    assert series.rebuilds == 0
    got, want = series.points(2 * buckets + 2), fresh.points(2 * buckets + 2)
    for name in want:
        assert np.array_equal(got[name], want[name])


@settings(max_examples=80, deadline=None)
@given(
    values=values_strategy,
    cut=st.integers(0, 2_000),
    shorter=st.integers(0, 300),
    weight=st.sampled_from([0.0, 0.6, 0.99]),
    check=st.sampled_from([1, 16, 256]),
    budget=st.integers(6, 400),
)
def test_a_series_changed_from_a_row_on_cuts_back_and_equals_a_fresh_one(
    values: np.ndarray, cut: int, shorter: int, weight: float, check: int, budget: int
) -> None:
    """Rows changed from ``cut`` on and ``shorter`` rows fewer (a resume cut them; a late line
    moved them): the series goes back to the last EMA state kept at or before ``cut`` (every
    ``check`` rows) and is extended again, drawing what a fresh series draws; it starts over
    only when no state is kept before the change."""
    steps = np.arange(values.size, dtype=np.int64) * 3
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(series_pyramid, "CHECK_ROWS", check)
        series = SeriesPyramid(weight)
        for end in sorted({values.size // 3, values.size}):
            series.update(values[:end].copy(), steps[:end].copy())
        at = min(cut, values.size)
        changed = values.copy()
        changed[at:] = -changed[at:] - 1.0
        end = max(at, values.size - shorter)
        series.update(changed[:end].copy(), steps[:end].copy())
        fresh = SeriesPyramid(weight)
        fresh.update(changed[:end], steps[:end])
    kept_before = check if weight > 0 else 1  # an unsmoothed series cuts back to any row
    differs = (at < values.size and end > at) or end < values.size
    assert series.rebuilds == int(differs and at < kept_before and values.size > 0)
    buckets = max(budget // 4, 2)  # the raw line exactly; the EMA up to rounding, as appends
    got, want = series.raw.points(buckets), fresh.raw.points(buckets)
    for name in ("at", "step", "value"):
        assert np.array_equal(got[name], want[name])
    points = series.points(budget)
    assert np.array_equal(points["value"], changed[points["at"]])
    assert np.array_equal(points["step"], steps[points["at"]])
    if weight > 0:
        np.testing.assert_allclose(
            series.smoothed, ema(changed[:end], weight), rtol=1e-9, atol=1e-9
        )
        assert np.array_equal(points["smoothed"], series.smoothed[points["at"]])


def test_updates_without_new_rows_keep_no_more_states() -> None:
    """An idle refresh at a multiple of ``CHECK_ROWS`` rows keeps no second EMA state."""
    series = SeriesPyramid(0.6)
    values = np.arange(2.0 * series_pyramid.CHECK_ROWS)
    for _ in range(3):
        series.update(values)
    assert [rows for rows, _ in series._kept] == [0, CHECK, 2 * CHECK]


CHECK = series_pyramid.CHECK_ROWS
