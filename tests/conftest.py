"""Suite-wide guards: every test must leave no thread of its own running."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

# Threads that libraries start once per process and keep by design (not a leak of the test's).
_PROCESS_LIFETIME_THREADS = ("asyncio_", "ThreadPoolExecutor-", "Dummy-", "fsspecIO")


def _own_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.name.startswith(_PROCESS_LIFETIME_THREADS)
    ]


@pytest.fixture(autouse=True)
def _fail_on_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running (watchdog observers, flushers, servers...).

    A thread gets a short grace period to finish after the test's own clean-up ran."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    leaked = _own_threads(before)
    while leaked and time.monotonic() < deadline:
        for thread in leaked:
            thread.join(timeout=0.05)
        leaked = _own_threads(before)
    assert not leaked, f"the test left threads running: {[t.name for t in leaked]}"
