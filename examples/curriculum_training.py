"""Train a growing network through a synthetic curriculum, logging for the Thalia dashboard.

    python examples/curriculum_training.py --log-dir checkpoints/curriculum   # about a minute
    python examples/curriculum_training.py --quick --log-dir /tmp/run          # a few seconds
    thalia-dashboard checkpoints/curriculum                                    # watch it

Run it again on the same directory and it resumes from the newest checkpoint. The code lives
in the ``curriculum`` package next to this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from curriculum import CurriculumTrainer, parse_args
from curriculum.checkpoint import CheckpointError


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        summary = CurriculumTrainer(config).run()
    except CheckpointError as exc:
        print(f"curriculum_training: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"curriculum_training: cannot use {config.log_dir}: {exc}", file=sys.stderr)
        return 1
    reached = sum(summary.milestones.values())
    print(
        f"finished at step {summary.final_step}"
        + (f" (resumed from {summary.resumed_from_step})" if summary.resumed_from_step else "")
        + f"; milestones {reached}/{config.stages}; widths {summary.widths}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
