"""A small real PyTorch curriculum trainer that logs with ``thalia_logging.CurriculumLogger``.

Modules: ``model`` (regions that grow, Net2Net widening), ``data`` (synthetic stages, replay
buffer), ``growth`` (capacity, growth policy), ``consolidation`` (NREM/REM sleep replay),
``measure`` (accuracy, firing rate, capacity), ``checkpoint`` (atomic save, resume),
``config`` (settings, command line) and ``trainer`` (the loop). Entry point:
``examples/curriculum_training.py``.
"""

from .config import TrainConfig, parse_args
from .model import GrowthError, RegionMLP
from .trainer import CurriculumTrainer, RunSummary

__all__ = [
    "CurriculumTrainer",
    "GrowthError",
    "RegionMLP",
    "RunSummary",
    "TrainConfig",
    "parse_args",
]
