"""The kept loss segment gives what a fresh computation on each snapshot gives, over any sequence
of appends, cuts, late lines and segment changes; and the page's health checks with it (memo
path) say what the checks without it say; the kept wall-time span is nanmin/nanmax."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from page_helpers import make_metrics, make_state, read_in_parts

from dashboard.analysis.health import check_health
from dashboard.analysis.loss_rules import plateau, plateau_of
from dashboard.analysis.loss_segment import LossSegment
from dashboard.analysis.memo import SnapshotMemo
from dashboard.analysis.status import WallSpan

NOW = 1_700_000_000.0

_VALUE = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
    st.sampled_from([math.nan, math.inf, 1.0, 2.0]),
)


def _fresh_levels_best(losses: np.ndarray, k: int, count: int) -> tuple[float, int] | None:
    if count < 1:
        return None
    sums = np.cumsum(np.r_[0.0, losses])
    levels = (sums[k:] - sums[:-k]) / k
    part = levels[:count]
    at = int(np.argmin(part))
    return float(part[at]), at


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("part", [None, 3])
@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(st.lists(_VALUE, max_size=40), min_size=1, max_size=6),
    edits=st.lists(st.sampled_from(["append", "cut", "late", "restage"]), min_size=6, max_size=6),
    k=st.integers(1, 5),
    window=st.integers(1, 12),
    gain=st.sampled_from([0.0, 0.01, 0.5]),
)
def test_kept_segment_equals_a_fresh_scan(
    chunks: list[list[float]],
    edits: list[str],
    k: int,
    window: int,
    gain: float,
    part: int | None,
) -> None:
    with read_in_parts(part):
        kept = LossSegment()
        column = np.empty(0)
        steps = np.empty(0, dtype=np.int64)
        start = 0
        for chunk, edit in zip(chunks, edits, strict=False):
            new = np.asarray(chunk, dtype=np.float64)
            if edit == "cut" and column.size:  # a truncated file read again
                column, steps = column[: column.size // 2], steps[: steps.size // 2]
            if edit == "late" and column.size and new.size:  # a line lands before the last step
                column = np.insert(column, column.size - 1, new[0])
                steps = np.arange(column.size, dtype=np.int64) * 10
                new = new[1:]
            if edit == "restage":
                start = int(steps[-1]) if steps.size else 0
            column = np.concatenate([column, new])
            steps = np.arange(column.size, dtype=np.int64) * 10
            kept.update(column, steps, start)
            first = int(np.searchsorted(steps, start, side="left"))
            ok = np.isfinite(column[first:])
            want, want_steps = column[first:][ok], steps[first:][ok]
            assert kept.losses.tobytes() == want.tobytes()
            assert kept.steps.tolist() == want_steps.tolist()
            for count in (want.size - 2 * k + 1, want.size - window, want.size - k + 1):
                if count < 1 or count > want.size - k + 1:
                    assert count > 0 or kept.best_level(k, count) is None
                    continue
                got, fresh = kept.best_level(k, count), _fresh_levels_best(want, k, count)
                assert (
                    fresh is not None
                    and got is not None
                    and got[1] == fresh[1]
                    and _same(got[0], fresh[0])
                )
            a = plateau(want, window=window, min_gain=gain, smoothing=k)
            b = plateau_of(kept, window=window, min_gain=gain, smoothing=k)
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert _same(a, b)


def test_appends_only_extend() -> None:
    kept = LossSegment()
    column = np.arange(10, dtype=np.float64)
    for end in (3, 6, 10):
        kept.update(column[:end], np.arange(end, dtype=np.int64), 0)
    assert kept.rebuilds == 0 and kept.losses.tolist() == list(range(10))
    kept.update(column[:5], np.arange(5, dtype=np.int64), 0)  # a cut: starts over
    assert kept.rebuilds == 1 and kept.losses.tolist() == list(range(5))


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(
        st.tuples(st.integers(1, 120), st.sampled_from(["fall", "flat", "climb", "nan"])),
        min_size=1,
        max_size=5,
    ),
    stage_at=st.one_of(st.none(), st.integers(0, 300)),
)
def test_page_health_with_the_kept_segment_says_what_fresh_checks_say(
    shape: list[tuple[int, str]], stage_at: int | None
) -> None:
    """Snapshots of one run growing by appends (the page's memo path) against fresh checks."""
    parts = []
    level = 2.0
    for size, kind in shape:
        step = {"fall": -0.01, "flat": 0.0, "climb": 0.05, "nan": 0.0}[kind]
        part = level + step * np.arange(size)
        if kind == "nan":
            part[::3] = math.nan
        parts.append(part)
        level = float(part[-1]) if np.isfinite(part[-1]) else level
    loss = np.concatenate(parts)
    frames = (
        {}
        if stage_at is None
        else {"stage_events": pd.DataFrame({"step": [stage_at * 100], "stage": [1], "name": ["x"]})}
    )
    memo: SnapshotMemo[Any] = SnapshotMemo(4)
    directory = f"/nonexistent/run-{len(loss)}-{stage_at}"
    end = 0
    for size, _ in shape:
        end += size
        metrics = make_metrics(end, loss=loss[:end])
        state = make_state(metrics, **frames)
        object.__setattr__(state, "checkpoint_dir", Path(directory))
        kept = check_health(state, now=NOW, memo=memo)
        fresh = check_health(state, now=NOW)
        assert kept == fresh


@pytest.mark.parametrize("part", [None, 3])
@settings(max_examples=100, deadline=None)
@given(
    chunks=st.lists(
        st.lists(st.one_of(_VALUE, st.sampled_from([-math.inf, 5e9])), max_size=20),
        min_size=1,
        max_size=6,
    ),
    cuts=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_kept_wall_span_equals_nanmin_nanmax(
    chunks: list[list[float]], cuts: list[bool], part: int | None
) -> None:
    with read_in_parts(part):
        span = WallSpan()
        wall = np.empty(0)
        for chunk, cut in zip(chunks, cuts, strict=False):
            if cut:
                wall = wall[: wall.size // 2]
            wall = np.concatenate([wall, np.asarray(chunk, dtype=np.float64)])
            lo, hi, known = span.update(wall)
            assert known == bool(np.isfinite(wall).any())
            if (~np.isnan(wall)).any():
                assert (lo, hi) == (float(np.nanmin(wall)), float(np.nanmax(wall)))
            else:
                assert math.isnan(lo) and math.isnan(hi)
