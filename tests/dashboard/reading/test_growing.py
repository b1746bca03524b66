"""GrowingArray: any sequence of cuts and appends gives what a plain list gives, in memory and
spilled (with no row resident beyond the window)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.reading.growing import GrowingArray

_STEPS = st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 3_000)),  # (fraction kept, rows appended)
    min_size=1,
    max_size=12,
)


@contextlib.contextmanager
def _spilling(spill: bool, factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    """Spill every array at once (or never), no recent rows kept in memory; yields the dir."""
    with pytest.MonkeyPatch.context() as mp:
        spill_dir = factory.mktemp("spill") if spill else None
        mp.setenv("THALIA_DASHBOARD_SPILL_DIR", str(spill_dir) if spill_dir else "off")
        mp.setenv("THALIA_DASHBOARD_SPILL_MIN_BYTES", "1")
        mp.setenv("THALIA_DASHBOARD_SPILL_RECENT_ROWS", "0")
        yield spill_dir


def _grow(
    steps: list[tuple[float, int]], shorten: Callable[[GrowingArray, int, np.ndarray], None]
) -> tuple[GrowingArray, list[tuple[np.ndarray, np.ndarray]]]:
    """Replay ``steps`` (keep a fraction, then rows) through ``shorten`` and against a plain
    array, checking each step; return the array and (view, expected) per step."""
    grown, want = GrowingArray(np.int64), np.empty(0, dtype=np.int64)
    views = []
    for i, (kept, rows) in enumerate(steps):
        size = int(kept * want.size)
        new = np.arange(rows, dtype=np.int64) + 10_000 * i
        shorten(grown, size, new)
        want = np.concatenate([want[:size], new])
        np.testing.assert_array_equal(grown.array, want)
        views.append((grown.array, want))
    return grown, views


@pytest.mark.parametrize("spill", [False, True])
@settings(max_examples=40, deadline=None)
@given(steps=_STEPS)
def test_cuts_and_appends_equal_a_plain_array(
    spill: bool, steps: list[tuple[float, int]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    with _spilling(spill, tmp_path_factory) as spill_dir:
        grown, views = _grow(steps, lambda g, size, new: g.keep(size, new))
        assert grown.spilled == spill
        if spill_dir is not None:
            assert list(spill_dir.iterdir()) == []  # unnamed files
        for view, expected in views[-1:]:  # the last view is still the data
            np.testing.assert_array_equal(view, expected)


def test_append_and_an_empty_array() -> None:
    grown = GrowingArray(np.float64)
    assert grown.array.dtype == np.float64 and grown.array.size == 0
    grown.append(np.array([1.5]))
    grown.append(np.array([2.5, 3.5]))
    np.testing.assert_array_equal(grown.array, [1.5, 2.5, 3.5])


@pytest.mark.parametrize("spill", [False, True])
@settings(max_examples=40, deadline=None)
@given(steps=_STEPS)
def test_cut_keeps_every_view_handed_out(
    spill: bool, steps: list[tuple[float, int]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``cut`` then appends give what a plain array gives, and unlike ``keep`` every view taken
    before still shows its items (the buffer forks)."""

    def cut(grown: GrowingArray, size: int, new: np.ndarray) -> None:
        grown.cut(size)
        grown.append(new)

    with _spilling(spill, tmp_path_factory):
        _grown, views = _grow(steps, cut)
        for view, expected in views:
            np.testing.assert_array_equal(view, expected)
