"""cProfile of the run page's idle and live refreshes (AppTest), to find what a refresh spends.

Run: ``.venv/bin/python benchmarks/profile_refresh.py --keep DIR [--events 1000000] [--top 25]``

The page runs inside AppTest's script thread, so the profiler is switched on inside the script
(a wrapper around ``dashboard/app.py``). Prints the top functions by cumulative time over
``--runs`` idle refreshes (nothing new) and ``--runs`` live ones (1,000 lines appended before
each), and their mean CPU seconds per refresh. ``--late`` adds refreshes whose new lines include an evaluator's late ``val_loss`` (a step 300
back); ``--resume`` adds refreshes whose lines go 2,000 steps back (a trainer resumed from its
checkpoint: the reader cuts the rows after it). ``--plain`` measures the CPU seconds without the
profiler (its overhead is a good part of a refresh) and prints no table.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_page import append_lines, make_directory  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402


class _NoProfiler:
    """What ``--plain`` puts in place of the profiler: the same calls, no profiling."""

    def enable(self) -> None: ...

    def disable(self) -> None: ...

    def clear(self) -> None: ...


PROFILER: cProfile.Profile | _NoProfiler = cProfile.Profile()
SCRIPT = f"""
import runpy, sys
p = sys.modules["thalia_profile_refresh"]
p.PROFILER.enable()
try:
    runpy.run_path({str(ROOT / "dashboard" / "app.py")!r}, run_name="__main__")
finally:
    p.PROFILER.disable()
"""


def _runs(at: AppTest, count: int, before: object = None) -> float:
    PROFILER.clear()
    cpu = 0.0
    for i in range(count):
        if callable(before):
            before(i)
        c0 = time.process_time()
        at.run(timeout=900)
        cpu += time.process_time() - c0
        if at.exception:
            raise SystemExit(f"the page raised: {[e.value for e in at.exception]}")
    return cpu / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", help="directory holding the generated run (reused if present)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--plain", action="store_true", help="CPU seconds only, no profiler")
    parser.add_argument(
        "--late", action="store_true", help="also refreshes that bring a late val_loss line"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="also refreshes whose new lines go 2,000 steps back (a resume: the rows after are cut)",
    )
    parser.add_argument("--callers", nargs="*", default=[], help="functions to list callers of")
    parser.add_argument("--callees", nargs="*", default=[], help="functions to list callees of")
    args = parser.parse_args()
    global PROFILER
    if args.plain:
        PROFILER = _NoProfiler()
    tmp = Path(tempfile.mkdtemp(prefix="thalia-profile-"))
    source = Path(args.keep).resolve() if args.keep else tmp / "source"
    run = tmp / "run"
    try:
        make_directory(source, args.events)
        shutil.copytree(source, run)
        os.environ["THALIA_CHECKPOINT_DIR"] = str(run)
        sys.modules["thalia_profile_refresh"] = sys.modules[__name__]
        at = AppTest.from_string(SCRIPT, default_timeout=900)
        at.run(timeout=900)  # cold load
        at.run(timeout=900)
        step = args.events

        def append(i: int) -> None:
            nonlocal step
            step = append_lines(run, step, 1000, 70_000 + i)

        def append_late(i: int) -> None:  # an evaluator's val_loss for a step 300 back
            append(i)
            line = {"event_type": "metric", "step": step - 300, "val_loss": 0.5 + i}
            with open(run / "training_log.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")

        def append_resume(i: int) -> None:  # a crashed trainer resumed 2,000 steps back
            nonlocal step
            step = append_lines(run, step - 2000, 1000, 90_000 + i)

        kinds = [("idle", None), ("live", append)] + ([("late", append_late)] if args.late else [])
        kinds += [("resume", append_resume)] if args.resume else []
        for name, before in kinds:
            cpu = _runs(at, args.runs, before)
            print(f"\n=== {name} refresh at {args.events:,} events: {cpu:.3f} s CPU per refresh")
            if args.plain:
                continue
            assert isinstance(PROFILER, cProfile.Profile)
            stats = pstats.Stats(PROFILER).sort_stats("cumulative")
            stats.print_stats(args.top)
            for name in args.callers:
                stats.print_callers(name)
            for name in args.callees:
                stats.print_callees(name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
