"""Recall and false alarms of the health checks on the realistic scenario library
(``tests/dashboard/analysis/scenarios.py``: independent writer, healthy and faulty runs).

Prints the table twice: with the core rules only (``dashboard.analysis.health`` before the
training checks of ``dashboard.analysis.diagnosis``) and with every rule (what the page shows).
No timing; run with ``PYTHONPATH=. python benchmarks/bench_diagnosis.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "dashboard" / "analysis"))

from scenarios import evaluate, table

from dashboard.analysis import health
from dashboard.analysis.diagnosis import TRAINING_RULES


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        all_rules = health.RULES
        health.RULES = tuple(r for r in all_rules if r not in TRAINING_RULES)
        try:
            core = evaluate(Path(d) / "core")
        finally:
            health.RULES = all_rules
        full = evaluate(Path(d) / "all")
    print("== core rules only (before the training checks) ==")
    print(table(core))
    print()
    print("== every rule (core + dashboard.analysis.diagnosis) ==")
    print(table(full))


if __name__ == "__main__":
    main()
