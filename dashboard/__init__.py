"""Reader side: watch a checkpoint directory and turn it into pandas frames for the page.

Nothing here needs torch; only ``dashboard.app`` imports streamlit.
"""

from dashboard.state import BadLine, HealthWarning, Restart, RunState
from dashboard.watcher import RunWatcher, load_training_state

__all__ = [
    "BadLine",
    "HealthWarning",
    "Restart",
    "RunState",
    "RunWatcher",
    "load_training_state",
]
