"""fsspec storage options from the command line (``--storage-option KEY=VALUE``) and from the
environment of a dashboard child (``THALIA_STORAGE_OPTIONS``, a JSON object).

Options are handed to the backend as keyword arguments (``s3fs.S3FileSystem(**options)``). A
value is read as JSON when it is one (``true``, ``3``, ``{"region_name": "eu"}``), else kept as
text; a dotted key nests (``client_kwargs.region_name=eu-west-1`` gives
``{"client_kwargs": {"region_name": "eu-west-1"}}``). Options travel to a Streamlit child in the
environment, never in its command line or the URL the page shows, since they may hold secrets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["STORAGE_OPTIONS_ENV", "parse_storage_options", "storage_options_from_env"]

STORAGE_OPTIONS_ENV = "THALIA_STORAGE_OPTIONS"
"""The environment variable a dashboard child reads its storage options from (JSON object)."""


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_storage_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``["key=value", "a.b=1"]`` -> ``{"key": "value", "a": {"b": 1}}``; ValueError says which
    item is wrong and how to write it."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise ValueError(
                f"--storage-option wants KEY=VALUE (e.g. anon=true or "
                f"client_kwargs.region_name=eu-west-1), got {pair!r}"
            )
        node = options
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"--storage-option {pair!r}: {part} is already set to a value")
            node = child
        node[parts[-1]] = _value(text)
    return options


def storage_options_from_env(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The options in ``THALIA_STORAGE_OPTIONS`` (empty when unset); ValueError when it is not a
    JSON object."""
    raw = env.get(STORAGE_OPTIONS_ENV, "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{STORAGE_OPTIONS_ENV} is not valid JSON: {exc}") from None
    if not isinstance(options, dict):
        raise ValueError(
            f"{STORAGE_OPTIONS_ENV} must be a JSON object, got {type(options).__name__}"
        )
    return options
