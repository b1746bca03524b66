"""Benchmark the runs overview of a root of runs against opening every run with a full load.

Run: ``.venv/bin/python benchmarks/bench_runs.py [--runs 20] [--lines 50000] [--full-sample N]
[--keep DIR]``; the issue's target case is ``--runs 100 --lines 1000000`` (about 20 GB of logs
as hard links to one file: a few hundred MB of disk).

Prints, each measured in a fresh subprocess (peak RSS = the child's ``ru_maxrss``):

- overview: time to the first rows of every run (``OverviewReader.refresh`` and
  ``RowCache.rows``, as the Runs page: discovery, metadata, the tail of each log, the event-count budget), peak
  RSS, an idle refresh (nothing changed), a refresh after one line was appended to every run, and
  how many refreshes the growth/consolidation counts need to cover every log;
- full load: ``load_training_state`` of ``--full-sample`` runs (all of them by default), every
  frame built and kept, as the run page's ``RunWatcher`` holds them; time and peak RSS, and
  both extrapolated to all runs when only a sample is loaded;
- the ratios full / overview.

Targets (issue 11): 100 runs x 1M lines, first paint <= 5 s and server RSS <= 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REGIONS = ("cortex", "hippocampus", "thalamus", "striatum")


def write_log(path: Path, lines: int, seed: int = 7) -> None:
    """One run's log: run_start, 4 stages, metrics, ~1% growth, ~1% consolidation."""
    rnd = random.Random(seed)
    t0 = time.time() - lines * 0.01
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"event_type": "run_start", "step": 0, "wall_time": t0,
                             "schema_version": 1, "run_id": "bench", "resumed_from_step": None,
                             "config": {"lr": 0.001, "model": {"layers": 4}}}) + "\n")  # fmt: skip
        for i in range(lines):
            wall = t0 + i * 0.01
            if i % (lines // 4 or 1) == 0:
                fh.write(json.dumps({"event_type": "stage", "step": i, "wall_time": wall,
                                     "stage": i // (lines // 4 or 1), "name": "s"}) + "\n")  # fmt: skip
            r = rnd.random()
            if r < 0.01:
                rec = {"event_type": "growth", "step": i, "wall_time": wall,
                       "region": rnd.choice(REGIONS), "neurons_added": 8, "new_total": 100 + i,
                       "reason": "capacity"}  # fmt: skip
            elif r < 0.02:
                rec = {"event_type": "consolidation", "step": i, "wall_time": wall,
                       "sleep_stage": "NREM", "patterns_replayed": 5, "duration_steps": 3}  # fmt: skip
            else:
                rec = {"event_type": "metric", "step": i, "wall_time": wall,
                       "firing_rate": 0.1, "capacity": 0.5, "performance": i / lines,
                       "loss": 2.0 - i / lines,
                       "neuron_counts": {r_: 1000 + i // 100 for r_ in REGIONS}}  # fmt: skip
            fh.write(json.dumps(rec) + "\n")


def make_root(root: Path, runs: int, lines: int) -> None:
    root.mkdir(parents=True)
    template = root / ".template.jsonl"
    write_log(template, lines)
    for k in range(runs):
        run = root / f"sweep{k % 5}" / f"run{k:03d}"
        run.mkdir(parents=True)
        target = run / "training_log.jsonl"
        try:
            os.link(template, target)  # one file on disk; each run reads it as its own
        except OSError:
            shutil.copyfile(template, target)
        meta = {"current_stage": 3, "step": lines - 1, "current_week": 4, "total_weeks": 4,
                "metrics": {"performance": 0.9}, "milestones": {"m": True}, "warnings": []}  # fmt: skip
        (run / f"metadata_{lines - 1}.json").write_text(json.dumps(meta))


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_overview(root: str) -> dict[str, float]:
    from dashboard.analysis.run_table import RowCache
    from dashboard.reading.overview import OverviewReader

    reader, cache = OverviewReader(root), RowCache()  # what the Runs page holds per root
    t = time.perf_counter()
    rows = cache.rows(reader.refresh(), now=time.time())
    first = time.perf_counter() - t
    passes = 1
    while any(r.growth is None for r in cache.rows(reader.refresh(), now=time.time())):
        passes += 1
    t = time.perf_counter()
    cache.rows(reader.refresh(), now=time.time())
    idle = time.perf_counter() - t
    inodes = set()
    for run in reader.discovery.runs:  # one more line in every run (hard links: the file once)
        path = os.path.join(run.path, "training_log.jsonl")
        if os.stat(path).st_ino in inodes:
            continue
        inodes.add(os.stat(path).st_ino)
        with open(path, "a") as fh:
            fh.write(json.dumps({"event_type": "metric", "step": 10**9, "loss": 1.0}) + "\n")
    t = time.perf_counter()
    cache.rows(reader.refresh(), now=time.time())
    changed = time.perf_counter() - t
    return {"runs": len(rows), "first_s": first, "idle_s": idle, "changed_s": changed,
            "count_passes": passes, "rss_mib": _rss_mib()}  # fmt: skip


def child_full(root: str, sample: int) -> dict[str, float]:
    from dashboard.reading.runs import discover_runs
    from dashboard.reading.watcher import load_training_state

    runs = discover_runs(root).runs[:sample]
    base = _rss_mib()  # the interpreter and the imports, before any run is read
    t = time.perf_counter()
    kept = []
    for run in runs:
        state = load_training_state(run.path)
        for frame in ("metrics_history", "growth_events", "consolidation_events", "stage_events"):
            getattr(state, frame)
        kept.append(state)
    return {"runs": len(kept), "time_s": time.perf_counter() - t, "rss_mib": _rss_mib(),
            "base_mib": base}  # fmt: skip


def _child(*args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, __file__, "--child", *args], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--full-sample", type=int, default=None,
                        help="full-load only this many runs and extrapolate (default: all)")  # fmt: skip
    parser.add_argument("--keep", type=Path, help="build the root here and keep it")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.child:
        kind, root, *rest = ns.child
        result = child_overview(root) if kind == "overview" else child_full(root, int(rest[0]))
        print(json.dumps(result))
        return
    base = ns.keep or Path(tempfile.mkdtemp(prefix="bench_runs_"))
    root = base / "root"
    try:
        if not root.exists():
            t = time.perf_counter()
            make_root(root, ns.runs, ns.lines)
            print(f"wrote {ns.runs} runs x {ns.lines:,} lines in {time.perf_counter() - t:.1f} s")
        size = sum(p.stat().st_size for p in root.rglob("training_log.jsonl"))
        print(f"root: {ns.runs} runs, {size / 2**30:.2f} GiB of logs (as the server sees them)")
        over = _child("overview", str(root))
        print(f"overview: first summaries of {over['runs']:.0f} runs in {over['first_s']:.2f} s, "
              f"peak RSS {over['rss_mib']:.0f} MiB; idle refresh {over['idle_s'] * 1e3:.1f} ms; "
              f"refresh after one new line per run {over['changed_s'] * 1e3:.0f} ms; event counts "
              f"complete after {over['count_passes']:.0f} refreshes")  # fmt: skip
        sample = min(ns.full_sample or ns.runs, ns.runs)
        full = _child("full", str(root), str(sample))
        scale = ns.runs / sample
        time_all = full["time_s"] * scale
        rss_all = full["base_mib"] + (full["rss_mib"] - full["base_mib"]) * scale
        note = "" if sample == ns.runs else f" (measured on {sample} runs, x{scale:.1f})"
        print(f"full load of every run: {time_all:.1f} s, peak RSS {rss_all:.0f} MiB{note}")
        print(f"ratio full / overview: time {time_all / over['first_s']:.1f}x, "
              f"RSS {rss_all / over['rss_mib']:.1f}x")  # fmt: skip
        ok = over["first_s"] <= 5 and over["rss_mib"] <= 1024
        print(f"target (first paint <= 5 s, RSS <= 1 GiB): {'met' if ok else 'NOT met'}")
    finally:
        if ns.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
