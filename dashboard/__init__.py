"""Reader side: watch a checkpoint directory and turn it into pandas frames for the page.

Nothing here needs torch; only ``dashboard.app`` imports streamlit.
"""

from dashboard.reading.watcher import RunWatcher, load_training_state
from dashboard.run_state import BadLine, HealthWarning, Restart, RunState

__all__ = [
    "BadLine",
    "HealthWarning",
    "Restart",
    "RunState",
    "RunWatcher",
    "load_training_state",
]
