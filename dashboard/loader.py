"""One-shot loading: :func:`load_training_state` (defined with the watcher it wraps)."""

from dashboard.watcher import load_training_state

__all__ = ["load_training_state"]
