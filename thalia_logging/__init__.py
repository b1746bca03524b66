"""Trainer side: CurriculumLogger writes the on-disk contract (no streamlit, altair or watchdog).

```python
from thalia_logging import CurriculumLogger

with CurriculumLogger("checkpoints/curriculum") as logger:
    logger.log_metrics(step, firing_rate=0.11, capacity=0.75, performance=0.92, loss=0.23,
                       neuron_counts={"cortex": 4096}, capacity_by_region={"cortex": 0.8})
    logger.write_metadata(step, current_stage=0, current_week=1, total_weeks=4)
```
"""

from .console import LOGGER_NAME
from .logger import CurriculumLogger, LoggerClosedError
from .records import SCHEMA_VERSION
from .sink import LogWriteError
from .values import LogTypeError, LogValueError

__all__ = [
    "LOGGER_NAME",
    "SCHEMA_VERSION",
    "CurriculumLogger",
    "LogTypeError",
    "LogValueError",
    "LogWriteError",
    "LoggerClosedError",
]
