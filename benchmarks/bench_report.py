"""Size and time of ``thalia-report`` on a generated 1M-line run (plain-json writer).

Run: ``.venv/bin/python benchmarks/bench_report.py [--lines 1000000] [--keep DIR]``

Prints the log size, the time to read and report, the HTML size (target: under 5 MB), the
embedded chart data's share of it, the number of charts and the PNG sizes. The run logs the
four core metrics, per-region counts and capacities, ``lr``/``grad_norm`` on every line and a
``val_loss``/``val_performance`` every 100 steps, with ~1% growth and ~1% consolidation lines.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import tempfile
import time
from pathlib import Path

from dashboard import load_training_state
from dashboard.commands.report_facts import run_facts
from dashboard.commands.report_html import javascript_bundle, render_html, report_charts, write_pngs

REGIONS = ("cortex", "hippocampus", "thalamus", "striatum", "cerebellum", "amygdala")


def write_run(directory: Path, lines: int, seed: int = 0) -> None:
    rnd = random.Random(seed)
    step = 0
    with open(directory / "training_log.jsonl", "w", encoding="utf-8") as f:
        f.write(
            json.dumps(
                {
                    "event_type": "run_start",
                    "step": 0,
                    "wall_time": 1e9,
                    "schema_version": 1,
                    "run_id": "bench",
                    "resumed_from_step": None,
                    "config": {"lr": 1e-3, "batch": 64},
                }
            )
            + "\n"
        )
        for i in range(lines - 1):
            r = rnd.random()
            if r < 0.01:
                f.write(
                    json.dumps(
                        {
                            "event_type": "growth",
                            "step": step,
                            "wall_time": 1e9 + i,
                            "region": rnd.choice(REGIONS),
                            "neurons_added": 8,
                            "new_total": 100 + i // 1000,
                            "reason": "capacity",
                        }
                    )
                    + "\n"
                )
                continue
            if r < 0.02:
                f.write(
                    json.dumps(
                        {
                            "event_type": "consolidation",
                            "step": step,
                            "wall_time": 1e9 + i,
                            "sleep_stage": rnd.choice(["NREM", "REM"]),
                            "patterns_replayed": rnd.randint(1, 50),
                            "duration_steps": 10,
                        }
                    )
                    + "\n"
                )
                continue
            loss = 2 * math.exp(-step / 2e5) + 0.1 + rnd.random() * 0.05
            rec = {
                "event_type": "metric",
                "step": step,
                "wall_time": 1e9 + i,
                "firing_rate": 0.1 + rnd.random() * 0.01,
                "capacity": 0.5 + step / 4e6,
                "performance": 1 - loss / 2.2,
                "loss": loss,
                "lr": 1e-3,
                "grad_norm": rnd.random(),
                "neuron_counts": {g: 100 + step // 10_000 for g in REGIONS},
                "capacity_by_region": {g: 0.5 for g in REGIONS},
            }
            if step % 100 == 0:
                rec["val_loss"] = loss * 1.1
                rec["val_performance"] = 1 - loss * 1.1 / 2.2
            f.write(json.dumps(rec) + "\n")
            step += 1
    meta = {
        "current_stage": 2,
        "step": step - 1,
        "current_week": 3,
        "total_weeks": 4,
        "total_steps": step,
        "metrics": {},
        "milestones": {"a": True, "b": False},
    }
    (directory / f"metadata_{step - 1}.json").write_text(json.dumps(meta))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--keep", help="write the run and outputs here and keep them")
    args = ap.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_report_"))
    run = base / "run"
    run.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        write_run(run, args.lines)
        log = (run / "training_log.jsonl").stat().st_size
        print(
            f"generated {args.lines:,} lines ({log / 1e6:,.1f} MB) in {time.perf_counter() - t0:.1f} s"
        )
        t0 = time.perf_counter()
        state = load_training_state(run)
        facts = run_facts(state)
        t_read = time.perf_counter() - t0
        bundle = javascript_bundle()
        t0 = time.perf_counter()
        page = render_html(facts, bundle=bundle)
        t_html = time.perf_counter() - t0
        charts, left_out = report_charts(facts)
        spec_bytes = sum(len(json.dumps(c.spec, default=str)) for c in charts)
        size = len(page.encode())
        (base / "report.html").write_text(page, encoding="utf-8")
        print(f"read + facts: {t_read:.1f} s; HTML: {t_html:.1f} s")
        print(
            f"HTML size: {size / 1e6:.2f} MB (target < 5 MB): JS bundle {len(bundle) / 1e6:.2f} MB, "
            f"chart specs {spec_bytes / 1e6:.2f} MB in {len(charts)} charts ({left_out} left out)"
        )
        t0 = time.perf_counter()
        pngs = write_pngs(facts, base / "png")
        print(
            f"{len(pngs)} PNGs in {time.perf_counter() - t0:.1f} s: "
            + ", ".join(f"{p.name} {p.stat().st_size / 1e3:.0f} kB" for p in pngs)
        )
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
