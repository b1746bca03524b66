"""Fixtures of the reading tests: ``spill_mode`` runs a module twice, with the table's buffers in
memory and with every buffer spilled to disk and its pages given back at once (the smallest
threshold and window), so the equivalence tests cover the spilled path bit for bit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.reading.spill import MIN_BYTES_ENV, RECENT_ROWS_ENV, SPILL_DIR_ENV


@pytest.fixture(scope="module", params=["memory", "spilled"])
def spill_mode(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        if request.param == "spilled":
            mp.setenv(SPILL_DIR_ENV, str(tmp_path_factory.mktemp("spill")))
            mp.setenv(MIN_BYTES_ENV, "0")
            mp.setenv(RECENT_ROWS_ENV, "0")
        else:
            mp.setenv(SPILL_DIR_ENV, "off")
        yield request.param
