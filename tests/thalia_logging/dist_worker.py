"""One rank of a two-process torch.distributed (gloo, CPU) run logging through CurriculumLogger.

Run by test_torch_distributed.py as ``python dist_worker.py SHARED_DIR PER_RANK_DIR`` with RANK,
WORLD_SIZE, MASTER_ADDR and MASTER_PORT in the environment: it logs the same run twice, into
SHARED_DIR with the default logger and into PER_RANK_DIR with ``per_rank=True`` (one process
group for both, since starting torch dominates the cost). Each rank all-reduces its loss (a
real collective, so both ranks must be up) and logs the averaged value as a 0-d tensor, plus its
own per-rank loss; rank detection is left to the logger (it asks torch.distributed).
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist

from thalia_logging import CurriculumLogger


def log_run(log_dir: str, per_rank: bool) -> None:
    rank = dist.get_rank()
    with CurriculumLogger(
        log_dir, console_log=False, file_log=False, per_rank=per_rank,
        config={"world_size": dist.get_world_size()},
    ) as logger:  # fmt: skip
        for step in range(1, 4):
            local = torch.tensor(float(rank + step), requires_grad=True) * 1.0
            mean = local.detach().clone()
            dist.all_reduce(mean)
            mean /= dist.get_world_size()
            logger.log_metrics(
                step,
                loss=mean,
                local_loss=local,
                performance=0.1 * step,
                neuron_counts={"cortex": 10 + rank},
                capacity_by_region={"cortex": 0.5},
            )
        logger.log_growth(3, "cortex", 1, 11 + rank, reason=f"rank {rank}")
        logger.write_metadata(3, current_stage=0, current_week=1, total_weeks=1)
    dist.barrier()


if __name__ == "__main__":
    dist.init_process_group("gloo")
    try:
        log_run(sys.argv[1], per_rank=False)
        log_run(sys.argv[2], per_rank=True)
    finally:
        dist.destroy_process_group()
