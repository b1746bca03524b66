"""Caller cost of CurriculumLogger.log_metrics against SummaryWriter and the bare floor.

Each contender logs the seven values of a Thalia metric line (firing_rate, capacity,
performance, loss, neuron_counts for 6 regions, capacity_by_region for 6 regions, + step):

- ``CurriculumLogger.log_metrics``: JSON logging only (console and console.log off, so the
  figure is the JSON path a trainer pays on every step; the console line is throttled anyway),
  and a second row with the defaults (console one-liner every 100 steps, console.log on);
- ``torch.utils.tensorboard.SummaryWriter``: seven ``add_scalar`` calls (the dicts as
  ``add_scalars``-free scalars: one scalar per field, the dicts summed as TensorBoard users
  usually do for a headline number), needs the ``tensorboard`` package (``bench`` extra);
- the floor: ``orjson.dumps`` of a prebuilt record + append to a list, flushed to a file
  every 100 lines (no validation, no clock, no lock).

Each call is timed with ``time.perf_counter_ns`` over ``--calls`` calls after a warm-up, with
the garbage collector disabled while timing. Prints median, p90, p99 and mean per call in
microseconds, and the ratios. Run: ``.venv/bin/python benchmarks/bench_logger.py``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thalia_logging import CurriculumLogger  # noqa: E402

REGIONS = ("cortex", "hippocampus", "thalamus", "striatum", "cerebellum", "prefrontal")
NEURONS = {r: 1024 * (i + 1) for i, r in enumerate(REGIONS)}
CAPACITY = {r: 0.5 + i / 20 for i, r in enumerate(REGIONS)}


def _time_calls(call: Callable[[int], None], calls: int, warmup: int) -> list[int]:
    for i in range(warmup):
        call(i)
    out = [0] * calls
    clock = time.perf_counter_ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(calls):
            t0 = clock()
            call(warmup + i)
            out[i] = clock() - t0
    finally:
        if gc_was_enabled:
            gc.enable()
    return out


def bench_logger(directory: Path, calls: int, warmup: int, *, defaults: bool) -> list[int]:
    if defaults:
        logging.getLogger("thalia.curriculum").setLevel(logging.WARNING)  # quiet stdout
        logger = CurriculumLogger(directory)
    else:
        logger = CurriculumLogger(directory, console_log=False, file_log=False)
    log = logger.log_metrics

    def call(step: int) -> None:
        log(step, firing_rate=0.112, capacity=0.75, performance=0.92, loss=0.2341,
            neuron_counts=NEURONS, capacity_by_region=CAPACITY)

    try:
        return _time_calls(call, calls, warmup)
    finally:
        logger.close()


def bench_summary_writer(directory: Path, calls: int, warmup: int) -> list[int] | None:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        print(f"SummaryWriter unavailable ({exc}); pip install tensorboard (the bench extra)")
        return None
    writer = SummaryWriter(log_dir=str(directory))
    add = writer.add_scalar

    def call(step: int) -> None:
        add("firing_rate", 0.112, step)
        add("capacity", 0.75, step)
        add("performance", 0.92, step)
        add("loss", 0.2341, step)
        add("neurons_total", sum(NEURONS.values()), step)
        add("capacity_mean", sum(CAPACITY.values()) / len(CAPACITY), step)
        add("step", step, step)

    try:
        return _time_calls(call, calls, warmup)
    finally:
        writer.close()


def bench_floor(directory: Path, calls: int, warmup: int) -> list[int]:
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    buffer: list[bytes] = []
    f = open(directory / "floor.jsonl", "ab")  # noqa: SIM115 - closed below

    def call(step: int) -> None:
        buffer.append(dumps({"event_type": "metric", "step": step, "wall_time": 0.0,
                             "firing_rate": 0.112, "capacity": 0.75, "performance": 0.92,
                             "loss": 0.2341, "neuron_counts": NEURONS,
                             "capacity_by_region": CAPACITY}, option=option))
        if len(buffer) >= 100:
            f.write(b"".join(buffer))
            buffer.clear()

    try:
        return _time_calls(call, calls, warmup)
    finally:
        f.write(b"".join(buffer))
        f.close()


def _summary(ns: list[int]) -> dict[str, float]:
    s = sorted(ns)
    return {"median": s[len(s) // 2] / 1000, "p90": s[int(len(s) * 0.90)] / 1000,
            "p99": s[int(len(s) * 0.99)] / 1000, "mean": statistics.fmean(s) / 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--warmup", type=int, default=5_000)
    parser.add_argument("--tb-calls", type=int, default=None,
                        help="calls for SummaryWriter (default: same as --calls)")
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("floor", "logger", "logger-defaults", "tensorboard"):
            (root / name).mkdir()
        rows["floor: orjson.dumps + buffered append"] = _summary(
            bench_floor(root / "floor", args.calls, args.warmup))
        rows["CurriculumLogger.log_metrics (json only)"] = _summary(
            bench_logger(root / "logger", args.calls, args.warmup, defaults=False))
        rows["CurriculumLogger.log_metrics (defaults)"] = _summary(
            bench_logger(root / "logger-defaults", args.calls, args.warmup, defaults=True))
        tb = bench_summary_writer(root / "tensorboard", args.tb_calls or args.calls,
                                  min(args.warmup, 1000))
        if tb is not None:
            rows["SummaryWriter: 7 x add_scalar"] = _summary(tb)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{args.calls} timed calls after {args.warmup} warm-up; microseconds per call")
    width = max(len(k) for k in rows)
    print(f"{'contender':<{width}}  {'median':>9} {'p90':>9} {'p99':>9} {'mean':>9}")
    for name, r in rows.items():
        print(f"{name:<{width}}  {r['median']:>9.2f} {r['p90']:>9.2f} {r['p99']:>9.2f} "
              f"{r['mean']:>9.2f}")
    ours = rows["CurriculumLogger.log_metrics (json only)"]
    floor = rows["floor: orjson.dumps + buffered append"]
    print()
    print(f"log_metrics median: {ours['median']:.2f} us (target <= 3 us: "
          f"{'met' if ours['median'] <= 3.0 else 'NOT met'})")
    print(f"log_metrics / floor (median): {ours['median'] / floor['median']:.2f}x")
    if "SummaryWriter: 7 x add_scalar" in rows:
        tbr = rows["SummaryWriter: 7 x add_scalar"]
        ratio = tbr["median"] / ours["median"]
        print(f"SummaryWriter / log_metrics (median): {ratio:.0f}x "
              f"(target >= 100x: {'met' if ratio >= 100 else 'NOT met'})")
        print(f"SummaryWriter / log_metrics (mean):   {tbr['mean'] / ours['mean']:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
