"""Threads hammering one logger give only whole, valid lines, each thread's in order."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from logger_helpers import read_records, validate_record

THREADS = 6
PER_THREAD = 700


@pytest.mark.parametrize("flush_every_line", [False, True])
def test_threads_hammering_one_logger(make_logger, tmp_path: Path, flush_every_line: bool) -> None:
    # flush_every=7 and a tiny interval make writers and the flusher thread flush concurrently.
    logger = make_logger(flush_every=7, flush_interval_s=0.001, flush_every_line=flush_every_line)
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def hammer(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(PER_THREAD):
                if i % 100 == 50:
                    logger.log_growth(i, f"region{worker}", 1, i, reason="x" * (i % 50))
                else:
                    logger.log_metrics(
                        i,
                        loss=float(worker),
                        worker=worker,
                        neuron_counts={f"r{worker}": i},
                        capacity_by_region={"pad" * (i % 40): 0.5},
                    )
                if i % 250 == 0:
                    logger.flush()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logger.close()
    assert not errors
    records = read_records(tmp_path / "training_log.jsonl")  # every line parses, none torn
    assert records.pop()["event_type"] == "run_end"
    assert len(records) == 1 + THREADS * PER_THREAD
    seen: dict[int, list[int]] = {w: [] for w in range(THREADS)}
    for record in records[1:]:
        validate_record(record)
        worker = record["worker"] if record["event_type"] == "metric" else int(record["region"][6:])
        seen[worker].append(record["step"])
    for worker, steps in seen.items():
        assert steps == list(range(PER_THREAD)), f"thread {worker} lines lost or reordered"


def test_close_while_flusher_runs_leaves_no_thread(make_logger) -> None:
    logger = make_logger(flush_interval_s=0.001)
    thread = logger._sink.flusher_thread
    assert thread is not None and thread.daemon and thread.is_alive()
    logger.log_metrics(1, loss=0.5)
    logger.close()
    assert not thread.is_alive()
