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
  every 100 lines (no validation, no clock, no lock);
- ``log_metrics`` with numpy scalars for the four numbers: a line that misses the fast path
  (plain floats and plain dicts) and goes through the full validator, for scale;
- ``log_metrics`` with ``system_metrics=1.0``: the JSON-only logger with the system sampler's
  thread running (a sample every second, 10x the default rate), against the same logger
  without it (target <= 1.1x); needs psutil.

Each call is timed with ``time.perf_counter_ns`` (``--calls`` calls after a warm-up, garbage
collector off while timing). The contenders take turns in ``--rounds`` rounds so that load from
other processes on a shared machine falls on all of them alike. An empty call is timed too:
its median is the timer's own overhead, included in every other row. Prints median, p90, p99
and mean per call in microseconds, and the ratios. Run: ``.venv/bin/python benchmarks/bench_logger.py``.
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

from thalia_logging import CurriculumLogger

REGIONS = ("cortex", "hippocampus", "thalamus", "striatum", "cerebellum", "prefrontal")
NEURONS = {r: 1024 * (i + 1) for i, r in enumerate(REGIONS)}
CAPACITY = {r: 0.5 + i / 20 for i, r in enumerate(REGIONS)}


def _time_calls(call: Callable[[int], None], start: int, calls: int) -> list[int]:
    """Per-call nanoseconds of ``call(step)`` for ``calls`` steps, GC off while timing."""
    out = [0] * calls
    clock = time.perf_counter_ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(calls):
            t0 = clock()
            call(start + i)
            out[i] = clock() - t0
    finally:
        if gc_was_enabled:
            gc.enable()
    return out


class Contender:
    """One way of logging the seven values: ``call(step)`` and ``close()``."""

    def __init__(
        self,
        name: str,
        call: Callable[[int], None],
        close: Callable[[], None] = lambda: None,
        share: float = 1.0,
    ) -> None:
        self.name, self.call, self.close, self.share = name, call, close, share
        self.samples: list[int] = []
        self.step = 0


def make_logger(directory: Path, *, defaults: bool) -> Contender:
    if defaults:
        logging.getLogger("thalia.curriculum").setLevel(logging.WARNING)  # keep stdout quiet
        logger = CurriculumLogger(directory)
        name = "CurriculumLogger.log_metrics (defaults)"
    else:
        logger = CurriculumLogger(directory, console_log=False, file_log=False)
        name = "CurriculumLogger.log_metrics (json only)"
    log = logger.log_metrics

    def call(step: int) -> None:
        log(
            step,
            firing_rate=0.112,
            capacity=0.75,
            performance=0.92,
            loss=0.2341,
            neuron_counts=NEURONS,
            capacity_by_region=CAPACITY,
        )

    return Contender(name, call, logger.close)


def make_logger_fallback(directory: Path) -> Contender | None:
    """The same line with numpy scalars: every call misses the fast path (the full validator)."""
    try:
        import numpy as np
    except ImportError:
        return None
    logger = CurriculumLogger(directory, console_log=False, file_log=False)
    log = logger.log_metrics
    fr, ca, pe, lo = (np.float32(x) for x in (0.112, 0.75, 0.92, 0.2341))

    def call(step: int) -> None:
        log(
            step,
            firing_rate=fr,
            capacity=ca,
            performance=pe,
            loss=lo,
            neuron_counts=NEURONS,
            capacity_by_region=CAPACITY,
        )

    return Contender("log_metrics, numpy scalars (fallback path)", call, logger.close)


def make_logger_system(directory: Path) -> Contender | None:
    """The json-only line with the system-metrics sampler on (one sample a second)."""
    try:
        logger = CurriculumLogger(directory, console_log=False, file_log=False, system_metrics=1.0)
    except ImportError as exc:
        print(f"system sampler unavailable ({exc})")
        return None
    log = logger.log_metrics

    def call(step: int) -> None:
        log(
            step,
            firing_rate=0.112,
            capacity=0.75,
            performance=0.92,
            loss=0.2341,
            neuron_counts=NEURONS,
            capacity_by_region=CAPACITY,
        )

    return Contender(SYSTEM_ROW, call, logger.close)


SYSTEM_ROW = "log_metrics (json only), system_metrics=1s"


def make_summary_writer(directory: Path, share: float) -> Contender | None:
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

    return Contender("SummaryWriter: 7 x add_scalar", call, writer.close, share)


def make_floor(directory: Path) -> Contender:
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    buffer: list[bytes] = []
    f = open(directory / "floor.jsonl", "ab")  # noqa: SIM115 - closed by close()

    def call(step: int) -> None:
        buffer.append(
            dumps(
                {
                    "event_type": "metric",
                    "step": step,
                    "wall_time": 0.0,
                    "firing_rate": 0.112,
                    "capacity": 0.75,
                    "performance": 0.92,
                    "loss": 0.2341,
                    "neuron_counts": NEURONS,
                    "capacity_by_region": CAPACITY,
                },
                option=option,
            )
        )
        if len(buffer) >= 100:
            f.write(b"".join(buffer))
            buffer.clear()

    def close() -> None:
        f.write(b"".join(buffer))
        f.close()

    return Contender("floor: orjson.dumps + buffered append", call, close)


def make_timer_overhead() -> Contender:
    def call(step: int) -> None:
        pass

    return Contender("(timer overhead: empty call)", call)


def _summary(ns: list[int]) -> dict[str, float]:
    s = sorted(ns)
    return {
        "median": s[len(s) // 2] / 1000,
        "p90": s[int(len(s) * 0.90)] / 1000,
        "p99": s[int(len(s) * 0.99)] / 1000,
        "mean": statistics.fmean(s) / 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000, help="timed calls per contender")
    parser.add_argument("--warmup", type=int, default=5_000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="contenders take turns in this many rounds, so load is shared fairly",
    )
    parser.add_argument(
        "--tb-share",
        type=float,
        default=0.2,
        help="fraction of --calls for SummaryWriter (it is slow)",
    )
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in (
            "floor",
            "logger",
            "logger-defaults",
            "logger-fallback",
            "tensorboard",
            "logger-system",
        ):
            (root / name).mkdir()
        contenders = [
            make_timer_overhead(),
            make_floor(root / "floor"),
            make_logger(root / "logger", defaults=False),
            make_logger(root / "logger-defaults", defaults=True),
        ]
        fallback = make_logger_fallback(root / "logger-fallback")
        if fallback is not None:
            contenders.append(fallback)
        system = make_logger_system(root / "logger-system")
        if system is not None:
            contenders.append(system)
        tb = make_summary_writer(root / "tensorboard", args.tb_share)
        if tb is not None:
            contenders.append(tb)
        try:
            for c in contenders:
                warm = max(1, int(args.warmup * c.share))
                _time_calls(c.call, 0, warm)
                c.step = warm
            per_round = max(1, args.calls // args.rounds)
            for _ in range(args.rounds):
                for c in contenders:
                    n = max(1, int(per_round * c.share))
                    c.samples += _time_calls(c.call, c.step, n)
                    c.step += n
        finally:
            for c in contenders:
                c.close()
        rows = {c.name: _summary(c.samples) for c in contenders}
        counts = {c.name: len(c.samples) for c in contenders}

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; {args.rounds} interleaved rounds; microseconds per call"
    )
    width = max(len(k) for k in rows)
    print(f"{'contender':<{width}}  {'calls':>7} {'median':>9} {'p90':>9} {'p99':>9} {'mean':>9}")
    for name, r in rows.items():
        print(
            f"{name:<{width}}  {counts[name]:>7} {r['median']:>9.2f} {r['p90']:>9.2f} "
            f"{r['p99']:>9.2f} {r['mean']:>9.2f}"
        )
    ours = rows["CurriculumLogger.log_metrics (json only)"]
    floor = rows["floor: orjson.dumps + buffered append"]
    timer = rows["(timer overhead: empty call)"]["median"]
    net = ours["median"] - timer
    print()
    print(
        f"log_metrics median: {ours['median']:.2f} us as timed, {net:.2f} us net of the "
        f"{timer:.2f} us timer overhead (target <= 3 us: "
        f"{'met' if ours['median'] <= 3.0 else ('met net of timer' if net <= 3.0 else 'NOT met')})"
    )
    print(
        f"log_metrics / floor (median): {ours['median'] / floor['median']:.2f}x as timed, "
        f"{net / (floor['median'] - timer):.2f}x net (aim <= 1.8x); p99: "
        f"{ours['p99'] / floor['p99']:.2f}x"
    )
    if system is not None:
        on = rows[SYSTEM_ROW]
        ratio = on["median"] / ours["median"]
        net_ratio = (on["median"] - timer) / net
        print(
            f"system sampler on / off (median): {ratio:.2f}x as timed, {net_ratio:.2f}x net "
            f"(target <= 1.1x: {'met' if min(ratio, net_ratio) <= 1.1 else 'NOT met'}); "
            f"mean: {on['mean'] / ours['mean']:.2f}x"
        )
    if tb is not None:
        tbr = rows[tb.name]
        ratio = tbr["median"] / ours["median"]
        print(
            f"SummaryWriter / log_metrics (median): {ratio:.0f}x "
            f"(target >= 100x: {'met' if ratio >= 100 else 'NOT met'}); "
            f"mean: {tbr['mean'] / ours['mean']:.0f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
