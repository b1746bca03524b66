"""Human-readable one-liners for the console and for ``console.log``.

The ``format_*`` functions are pure: values in, one line of text out, e.g.
``step 5000 | loss 0.2341 | firing 0.112 | capacity 0.750 | perf 0.920``.

:class:`ConsoleLog` sends those lines to two places, independently:

- the console (``console=True``): through the standard ``logging`` logger named
  ``"thalia.curriculum"`` at INFO, so a trainer's own logging configuration (handlers, levels,
  formats) applies. Only when no handler is configured anywhere (``logger.hasHandlers()`` is
  false, checked per line, so configuring logging later takes over) does it fall back to its
  own stderr handler, so ``console_log=True`` prints something out of the box (still honouring
  a level set on the ``"thalia.curriculum"`` logger itself).
- ``console.log`` in the checkpoint directory (``file_log=True``): a ``logging.FileHandler``
  (append, UTF-8, a timestamp on each line) fed directly by this instance. It is not attached
  to the shared logger, so it records every line whatever the trainer's levels are, and two
  loggers in two directories never write into each other's file.

Metric lines are throttled (``every`` steps apart, plus the first and any step that goes back
after a resume): the console is for people, the JSON log has every step.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from .contract import CONSOLE_LOG_NAME, NON_FINITE

__all__ = [
    "CONSOLE_FILE",
    "FILE_FORMAT",
    "LOGGER_NAME",
    "STREAM_FORMAT",
    "ConsoleLog",
    "format_consolidation",
    "format_growth",
    "format_metrics",
    "format_stage",
]

LOGGER_NAME = "thalia.curriculum"
CONSOLE_FILE = CONSOLE_LOG_NAME
FILE_FORMAT = "%(asctime)s %(levelname)s %(message)s"
STREAM_FORMAT = "%(asctime)s thalia: %(message)s"

# (field, label, decimals) in the order of the one-liner.
_METRIC_FIELDS = (
    ("loss", "loss", 4),
    ("firing_rate", "firing", 3),
    ("capacity", "capacity", 3),
    ("performance", "perf", 3),
)
_NON_FINITE_TEXT = {text: repr(value) for text, value in NON_FINITE.items()}  # "NaN" -> "nan"


def _num(value: Any, decimals: int) -> str:
    if isinstance(value, str):
        return _NON_FINITE_TEXT.get(value, value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.{decimals}f}"


def format_metrics(step: int, fields: Mapping[str, Any]) -> str:
    """``step 5000 | loss 0.2341 | firing 0.112 | capacity 0.750 | perf 0.920`` (fields present)."""
    parts = [f"step {step}"]
    for key, label, decimals in _METRIC_FIELDS:
        if key in fields:
            parts.append(f"{label} {_num(fields[key], decimals)}")
    counts = fields.get("neuron_counts")
    if counts:
        parts.append(f"neurons {sum(counts.values())}")
    return " | ".join(parts)


def format_growth(step: int, region: str, neurons_added: int, new_total: int, reason: str) -> str:
    """``step 12000 | growth | cortex grew by 256 neurons to 4352 (reason: capacity 0.91)``."""
    line = f"step {step} | growth | {region} grew by {neurons_added} neurons to {new_total}"
    return f"{line} (reason: {reason})" if reason else line


def format_consolidation(step: int, sleep_stage: str, patterns: int, duration: int) -> str:
    """``step 15000 | consolidation | NREM sleep replayed 150 patterns over 500 steps``."""
    return (
        f"step {step} | consolidation | {sleep_stage} sleep replayed {patterns} patterns "
        f"over {duration} steps"
    )


def format_stage(step: int, stage: int, name: str) -> str:
    """``step 40000 | stage 2 entered: phonology``."""
    line = f"step {step} | stage {stage} entered"
    return f"{line}: {name}" if name else line


class ConsoleLog:
    """Emit one-liners to the console (via ``logging``) and/or ``console.log``; see module doc.

    ``stream`` is the fallback console stream (default ``sys.stderr``); ``prefix`` is put
    before every line (e.g. ``"[rank 3] "``). :meth:`close` closes ``console.log``; it is
    idempotent.
    """

    def __init__(
        self,
        log_dir: str | Path,
        *,
        console: bool = True,
        file_log: bool = True,
        every: int = 100,
        prefix: str = "",
        stream: IO[str] | None = None,
        logger_name: str = LOGGER_NAME,
    ) -> None:
        self.logger = logging.getLogger(logger_name)
        self.console = console
        self.every = max(1, int(every))
        self.prefix = prefix
        self._last_metric_step: int | None = None
        self._fallback: logging.Handler | None = None
        if console:
            self._fallback = logging.StreamHandler(stream if stream is not None else sys.stderr)
            self._fallback.setFormatter(logging.Formatter(STREAM_FORMAT))
        self.file_handler: logging.FileHandler | None = None
        if file_log:
            path = Path(log_dir) / CONSOLE_FILE
            self.file_handler = logging.FileHandler(path, mode="a", encoding="utf-8")
            self.file_handler.setFormatter(logging.Formatter(FILE_FORMAT))

    @property
    def active(self) -> bool:
        """Whether any line would go anywhere."""
        return self.console or self.file_handler is not None

    def wants_metrics(self, step: int) -> bool:
        """Whether the metric line of ``step`` is printed (first, ``every`` apart, or a resume)."""
        last = self._last_metric_step
        if last is None or step >= last + self.every or step < last:
            self._last_metric_step = step
            return True
        return False

    def emit(self, message: str, level: int = logging.INFO) -> None:
        """Send one line to the console and/or ``console.log``."""
        message = self.prefix + message
        record: logging.LogRecord | None = None
        if self.console:
            logger = self.logger
            if logger.hasHandlers():
                logger.log(level, message)
            elif self._fallback is not None and not (logger.level and level < logger.level):
                record = logger.makeRecord(logger.name, level, "(thalia)", 0, message, (), None)
                self._fallback.handle(record)
        if self.file_handler is not None:
            if record is None:
                record = self.logger.makeRecord(
                    self.logger.name, level, "(thalia)", 0, message, (), None
                )
            self.file_handler.handle(record)

    def close(self) -> None:
        if self.file_handler is not None:
            self.file_handler.close()
            self.file_handler = None
        self._fallback = None
        self.console = False
