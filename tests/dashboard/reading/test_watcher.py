"""RunWatcher: polling path (fake clock, no events), watchdog path, missing dir, threads, errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import IO

import pytest
from reader_helpers import line, metric
from watchdog.events import FileModifiedEvent, FileOpenedEvent

import dashboard
from dashboard import RunWatcher
from dashboard.reading.fs import FileStat, LocalFileSystem
from dashboard.reading.watcher import _DirtyHandler


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_public_names_are_pinned() -> None:
    # The product's API (DESIGN.md): adding or removing a name is a deliberate change.
    assert sorted(dashboard.__all__) == [
        "BadLine",
        "HealthWarning",
        "Restart",
        "RunState",
        "RunWatcher",
        "load_training_state",
    ]
    for name in dashboard.__all__:
        assert getattr(dashboard, name) is not None


def test_polling_path_without_any_event(tmp_path: Path) -> None:
    clock = Clock()
    log = tmp_path / "training_log.jsonl"
    log.write_bytes(metric(1))
    with RunWatcher(tmp_path, use_watchdog=False, poll_interval_s=2.0, clock=clock) as w:
        first = w.refresh()
        assert first.metrics_history["step"].tolist() == [1] and first.version == 1
        with open(log, "ab") as fh:
            fh.write(metric(2))
        clock.now += 1.0
        assert w.refresh() is first  # interval not elapsed, nothing dirty: cached
        clock.now += 1.5
        second = w.refresh()
        assert second.metrics_history["step"].tolist() == [1, 2] and second.version == 2
        clock.now += 5.0
        assert w.refresh() is second  # polled, nothing changed: same snapshot


def test_idle_refresh_reads_nothing(tmp_path: Path) -> None:
    calls = []

    class CountingFS(LocalFileSystem):
        def stat(self, path: str) -> FileStat:
            calls.append(path)
            return super().stat(path)

    (tmp_path / "training_log.jsonl").write_bytes(metric(1))
    (tmp_path / "metadata_1.json").write_text('{"step": 1, "current_stage": 0}')
    clock = Clock()
    with RunWatcher(tmp_path, use_watchdog=False, clock=clock, fs=CountingFS()) as w:
        w.refresh()
        calls.clear()
        for _ in range(100):
            w.refresh()
        assert calls == []


def test_handler_marks_dirty_but_ignores_our_own_reads() -> None:
    marks = []
    handler = _DirtyHandler(lambda: marks.append(1))
    handler.dispatch(FileOpenedEvent("/x/training_log.jsonl"))
    assert marks == []
    handler.dispatch(FileModifiedEvent("/x/training_log.jsonl"))
    assert marks == [1]


@pytest.mark.parametrize("polling_observer", [False, True])
def test_watchdog_event_marks_dirty(tmp_path: Path, polling_observer: bool) -> None:
    clock = Clock()  # never advances: only an event can make the watcher look again
    log = tmp_path / "training_log.jsonl"
    log.write_bytes(metric(1))
    with RunWatcher(
        tmp_path,
        poll_interval_s=0.05 if polling_observer else 3600,
        polling_observer=polling_observer,
        clock=clock,
    ) as w:
        assert w.observer is not None and w.observer.is_alive()
        assert len(w.refresh().metrics_history) == 1
        with open(log, "ab") as fh:
            fh.write(metric(2))
        deadline = time.monotonic() + 10
        while len(w.refresh().metrics_history) < 2:
            assert time.monotonic() < deadline, "no filesystem event arrived"
            threading.Event().wait(0.01)
    assert w.observer is None


def test_missing_directory_appears_later(tmp_path: Path) -> None:
    clock = Clock()
    directory = tmp_path / "run"
    with RunWatcher(directory, poll_interval_s=1.0, clock=clock) as w:
        state = w.refresh()
        assert not state.exists and state.metrics_history.empty
        directory.mkdir()
        (directory / "training_log.jsonl").write_bytes(metric(3))
        clock.now += 1.0
        state = w.refresh()
        assert state.exists and state.metrics_history["step"].tolist() == [3]


def test_refresh_never_raises_and_keeps_previous_data(tmp_path: Path) -> None:
    clock = Clock()
    boom = {"on": False}

    class FlakyFS(LocalFileSystem):
        def listdir(self, path: str) -> list[str]:
            if boom["on"]:
                raise RuntimeError("disk on fire")
            return super().listdir(path)

    (tmp_path / "training_log.jsonl").write_bytes(metric(1))
    with RunWatcher(tmp_path, use_watchdog=False, clock=clock, fs=FlakyFS()) as w:
        good = w.refresh()
        boom["on"] = True
        clock.now += 10
        bad = w.refresh()
        assert bad.error == "RuntimeError: disk on fire"
        assert bad.metrics_history["step"].tolist() == [1] and bad.version == good.version + 1
        boom["on"] = False
        clock.now += 10
        assert w.refresh().error is None


def test_unreadable_file_is_reported_not_raised(tmp_path: Path) -> None:
    class DeniedFS(LocalFileSystem):
        def open(self, path: str) -> IO[bytes]:
            raise PermissionError(13, "Permission denied")

    (tmp_path / "training_log.jsonl").write_bytes(metric(1))
    with RunWatcher(tmp_path, use_watchdog=False, fs=DeniedFS()) as w:
        state = w.refresh()
    assert state.error is not None and "cannot read training_log.jsonl" in state.error


def test_shared_between_threads(tmp_path: Path) -> None:
    log = tmp_path / "training_log.jsonl"
    log.write_bytes(b"")
    errors: list[BaseException] = []
    with RunWatcher(tmp_path, use_watchdog=False, poll_interval_s=0.0) as w:
        stop = threading.Event()

        def reader() -> None:
            try:
                while not stop.is_set():
                    state = w.refresh()
                    steps = state.metrics_history["step"].tolist()
                    assert steps == list(range(len(steps)))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        for step in range(300):
            with open(log, "ab") as fh:
                fh.write(metric(step))
        stop.set()
        for t in threads:
            t.join()
        assert w.refresh().metrics_history["step"].tolist() == list(range(300))
    assert not errors, errors


def test_load_training_state_starts_no_thread(tmp_path: Path) -> None:
    (tmp_path / "training_log.jsonl").write_bytes(metric(1) + line({"step": 2}))
    before = threading.active_count()
    state = dashboard.load_training_state(tmp_path)
    assert threading.active_count() == before
    assert state.metrics_history["step"].tolist() == [1, 2]
