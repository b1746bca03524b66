"""Rank detection and what each rank writes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from thalia_logging.ranks import detect_rank, plan_for_rank, rank_log_name


@pytest.mark.parametrize(
    ("env", "rank"),
    [
        ({}, 0),
        ({"RANK": "3"}, 3),
        ({"LOCAL_RANK": "2"}, 2),
        ({"RANK": "1", "LOCAL_RANK": "0"}, 1),
        ({"RANK": "x"}, 0),
        ({"RANK": "-1", "LOCAL_RANK": "4"}, 4),
        ({"RANK": " "}, 0),
    ],
)
def test_rank_from_env(env: dict[str, str], rank: int) -> None:
    assert detect_rank(env=env, distributed=None) == rank


def _dist(initialized: bool, rank: int) -> SimpleNamespace:
    return SimpleNamespace(
        is_available=lambda: True, is_initialized=lambda: initialized, get_rank=lambda: rank
    )


def test_torch_distributed_wins_when_initialised() -> None:
    assert detect_rank(env={"RANK": "1"}, distributed=_dist(True, 5)) == 5
    assert detect_rank(env={"RANK": "1"}, distributed=_dist(False, 5)) == 1


def test_broken_process_group_falls_back_to_env() -> None:
    def boom() -> int:
        raise RuntimeError("destroyed")

    dist = SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True, get_rank=boom)
    assert detect_rank(env={"RANK": "2"}, distributed=dist) == 2


def test_real_torch_distributed_uninitialised_is_rank_zero() -> None:
    import torch.distributed

    assert detect_rank(env={}) == 0
    assert not torch.distributed.is_initialized()


def test_plans() -> None:
    assert plan_for_rank(0).log_name == "training_log.jsonl" and plan_for_rank(0).writes_metadata
    quiet = plan_for_rank(2)
    assert quiet.log_name is None and not quiet.writes_metadata and not quiet.console
    own = plan_for_rank(2, per_rank=True)
    assert own.log_name == rank_log_name(2) == "training_log.rank2.jsonl"
    assert own.rank_field == 2 and not own.writes_metadata and not own.writes_console_file
    with pytest.raises(ValueError):
        plan_for_rank(-1)


def test_non_zero_rank_writes_nothing_by_default(make_logger, tmp_path: Path) -> None:
    directory = tmp_path / "run"
    logger = make_logger(directory, rank=1, file_log=True)
    logger.log_metrics(1, loss=0.5)
    with pytest.raises(ValueError):
        logger.log_metrics(-1)  # still validated on every rank
    assert logger.write_metadata(1, current_stage=0) is None
    logger.close()
    assert not directory.exists()


def test_rank_from_environment_reaches_the_logger(make_logger, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RANK", "4")
    logger = make_logger(per_rank=True)
    assert logger.rank == 4
    logger.close()
    assert (tmp_path / "training_log.rank4.jsonl").exists()
