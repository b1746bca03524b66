"""Fixtures of the CurriculumLogger tests (thread leaks are checked suite-wide in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from thalia_logging import CurriculumLogger


@pytest.fixture
def make_logger(tmp_path: Path) -> Iterator[Callable[..., CurriculumLogger]]:
    """A factory of quiet loggers in ``tmp_path`` (console off), all closed after the test."""
    made: list[CurriculumLogger] = []

    def make(log_dir: Path | None = None, **kwargs: Any) -> CurriculumLogger:
        kwargs.setdefault("console_log", False)
        logger = CurriculumLogger(log_dir or tmp_path, **kwargs)
        made.append(logger)
        return logger

    yield make
    for logger in made:
        logger.close()
