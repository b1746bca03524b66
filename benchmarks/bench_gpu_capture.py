"""Cost of GPU-memory capture on CurriculumLogger.log_metrics (the trainer's hot path).

Prints microseconds per metric line with ``capture_gpu_memory`` on (the default) and off, in the
same run, with torch imported (the worst case for the check on a CPU run) and the ratio.
"""

from __future__ import annotations

import tempfile
import time

import torch  # noqa: F401  (imported on purpose: the capture check only looks when it is)

from thalia_logging import CurriculumLogger

N = 50_000


def per_line_us(capture: bool) -> float:
    with (
        tempfile.TemporaryDirectory() as d,
        CurriculumLogger(
            d, console_log=False, file_log=False, capture_gpu_memory=capture
        ) as logger,
    ):
        t0 = time.perf_counter()
        for step in range(N):
            logger.log_metrics(step, firing_rate=0.1, capacity=0.5, performance=0.9, loss=0.2)
        return (time.perf_counter() - t0) / N * 1e6


def main() -> None:
    off = min(per_line_us(False) for _ in range(3))
    on = min(per_line_us(True) for _ in range(3))
    print(f"log_metrics, capture off: {off:.2f} us/line")
    print(f"log_metrics, capture on:  {on:.2f} us/line (CUDA not in use)")
    print(f"ratio on/off: {on / off:.3f}")


if __name__ == "__main__":
    main()
