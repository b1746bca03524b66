"""A run's config (the ``run_start`` line's ``config``) as ``key / value`` rows (pure).

Nested objects flatten to dotted keys (``{"model": {"layers": 2}}`` -> ``model.layers``); lists
and scalars stay values (the page shows them with :func:`dashboard.page.text.plain`); an empty
object stays a value (``{}``) so its key is not lost. At most ``max_rows`` rows come out, in the
config's order; ``ConfigRows.more`` counts the ones left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_ROWS", "ConfigRows", "config_rows"]

MAX_ROWS = 1_000


@dataclass(frozen=True)
class ConfigRows:
    """``rows`` of ``(dotted key, value)``; ``more`` rows were left out (beyond ``max_rows``)."""

    rows: tuple[tuple[str, Any], ...]
    more: int


def _items(mapping: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in mapping.items():
        yield f"{prefix}{key}", value


def _walk(config: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    # An explicit stack, not recursion: the reader caps nesting, but this never relies on it.
    stack = [_items(config, "")]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        key, value = item
        if isinstance(value, Mapping) and value:
            stack.append(_items(value, f"{key}."))
        else:
            yield key, value


def config_rows(config: Mapping[str, Any] | None, *, max_rows: int = MAX_ROWS) -> ConfigRows:
    """The flattened rows of ``config`` (none for ``None`` or ``{}``)."""
    if not config:
        return ConfigRows((), 0)
    rows: list[tuple[str, Any]] = []
    more = 0
    for key, value in _walk(config):
        if len(rows) < max_rows:
            rows.append((key, value))
        else:
            more += 1
    return ConfigRows(tuple(rows), more)
