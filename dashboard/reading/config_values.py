"""A run_start config made safe to show: nesting cut at CONFIG_MAX_DEPTH (the deeper part becomes CONFIG_TOO_DEEP), lone surrogates replaced by ?, non-finite strings read as floats, as metadata values are."""

from __future__ import annotations

from typing import Any

from thalia_logging.contract import NON_FINITE

__all__ = ["CONFIG_MAX_DEPTH", "CONFIG_TOO_DEEP", "safe_config"]


#: ``config`` values nested deeper than this are shown as ``CONFIG_TOO_DEEP``, not refused
CONFIG_MAX_DEPTH = 32


CONFIG_TOO_DEEP = "(nested too deeply)"


def safe_config(value: Any, depth: int = 0) -> Any:
    """A ``run_start`` config value, safe to show: nesting cut at ``CONFIG_MAX_DEPTH`` (the deeper
    part becomes ``CONFIG_TOO_DEEP``), lone surrogates in keys and strings replaced by ``?``, and
    non-finite strings read as floats (as metadata values are). The reader pops it as ``_config``
    before the row is stored (``RunState.config``)."""
    if isinstance(value, dict | list) and depth >= CONFIG_MAX_DEPTH:
        return CONFIG_TOO_DEEP
    if isinstance(value, dict):
        return {_safe_text(str(k)): safe_config(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [safe_config(v, depth + 1) for v in value]
    if isinstance(value, str):
        return NON_FINITE[value] if value in NON_FINITE else _safe_text(value)
    return value


def _safe_text(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \udXXX escape
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
