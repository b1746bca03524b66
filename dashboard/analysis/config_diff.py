"""Which config keys differ between runs (the TensorBoard HParams / W&B config diff idea); pure.

Each run's ``run_start`` config is flattened to dotted keys (:func:`~dashboard.analysis.config
.config_rows`). A key differs when two runs hold different values or one run lacks it (shown as
``MISSING``, not as an empty value). Values compare by their JSON text, so ``1`` and ``1.0``
differ (a config logged as a float is another config). :func:`config_values` lists every value a
key takes, for filtering runs by config.

Every key counts, however many a config holds (the run page's config table shows the first
:data:`~dashboard.analysis.config.MAX_ROWS`; a diff that stopped there would call two runs the
same when they differ further down). ``limit`` cuts each value text (with ``…``), the same way
for listing values and for matching them, so a megabyte-long value is not a filter option.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import pandas as pd

from dashboard.analysis.config import config_rows

__all__ = ["MISSING", "config_diff", "config_values", "flat_config", "value_text"]

MISSING = "—"


def value_text(value: Any, limit: int | None = None) -> str:
    """One config value as compact text (strings as they are, the rest as JSON), cut to
    ``limit`` characters (``…`` last) when given."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, sort_keys=True, allow_nan=True, default=str)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def flat_config(config: Mapping[str, Any] | None, limit: int | None = None) -> dict[str, str]:
    """``config`` as ``{dotted key: value text}`` (every key; values cut to ``limit``). Two keys
    that flatten alike (a literal ``"a.b"`` and ``{"a": {"b": ...}}``) both stay: the later one
    as ``a.b (2)``, so neither value is dropped from a diff."""
    out: dict[str, str] = {}
    for key, value in config_rows(config, max_rows=sys.maxsize).rows:
        name, n = key, 1
        while name in out:
            n += 1
            name = f"{key} ({n})"
        out[name] = value_text(value, limit)
    return out


def config_diff(configs: Mapping[str, Mapping[str, Any] | None]) -> pd.DataFrame:
    """Runs (rows, in the given order) × the config keys whose values differ between them
    (columns, in first-seen order); a run without the key shows :data:`MISSING`. With fewer than
    two runs nothing differs (an empty frame with the runs as index)."""
    flat = {name: flat_config(config) for name, config in configs.items()}
    keys: dict[str, None] = {}
    for values in flat.values():
        keys.update(dict.fromkeys(values))
    differing = [
        key for key in keys if len({values.get(key, MISSING) for values in flat.values()}) > 1
    ]
    data = {key: [flat[name].get(key, MISSING) for name in flat] for key in differing}
    return pd.DataFrame(data, index=pd.Index(list(flat), name="run"))


def config_values(
    configs: Mapping[str, Mapping[str, Any] | None], limit: int | None = None
) -> dict[str, list[str]]:
    """Every dotted key and the sorted distinct values it takes across ``configs`` (cut to
    ``limit``: match them with ``flat_config(config, limit)``)."""
    out: dict[str, set[str]] = {}
    for config in configs.values():
        for key, value in flat_config(config, limit).items():
            out.setdefault(key, set()).add(value)
    return {key: sorted(values) for key, values in sorted(out.items())}
