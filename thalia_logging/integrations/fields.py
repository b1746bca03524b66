"""Framework metric dicts -> ``log_metrics`` keyword fields (shared by the integrations).

A framework logs a flat ``{name: value}`` dict. :func:`metric_fields` keeps the numbers (ints,
floats, numpy scalars, one-element tensors; never bools or strings), renames them to the
dashboard's vocabulary with a per-framework table and prefix rules (``eval_loss`` ->
``val_loss``), and moves names the logger reserves or uses for its structured fields
(``step``, ``neuron_counts``...) out of the way with a framework prefix. It returns the fields
and the names it skipped, so the caller can say once what was left out.

Frameworks log one step in several calls (the training loss, then the evaluation, then the
end-of-training summary, all at one ``global_step``). Each call becomes one line with only its
own fields: the reader merges lines sharing a ``(step, rank)`` field by field.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["PROTECTED_FIELDS", "metric_fields", "plain_number"]

PROTECTED_FIELDS = frozenset(
    {
        "step",
        "event_type",
        "wall_time",
        "rank",
        "neuron_counts",
        "capacity_by_region",
    }
)
"""Names that cannot be passed as extra numeric fields of ``log_metrics``."""


def plain_number(value: object) -> float | int | None:
    """``value`` as an int or float (NaN and infinities kept), or ``None`` if not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex() or value.dtype == torch.bool:
            return None
        return value.item()  # type: ignore[no-any-return, unused-ignore]
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.integer | np.floating):
        return value.item()  # type: ignore[no-any-return, unused-ignore]
    if isinstance(value, numbers.Real):
        return float(value)
    return None


def metric_fields(
    logs: Mapping[str, Any],
    *,
    rename: Mapping[str, str],
    prefixes: Mapping[str, str],
    reserved_prefix: str,
) -> tuple[dict[str, float | int], list[str]]:
    """``(fields, skipped)``: the numeric entries of ``logs`` under their dashboard names.

    ``rename`` maps exact names (``learning_rate`` -> ``lr``); ``prefixes`` rewrites a leading
    prefix (``eval_`` -> ``val_``); a name then in :data:`PROTECTED_FIELDS`, or starting with
    ``_``, gets ``reserved_prefix`` in front. ``/`` and spaces become ``_`` first, so
    ``val/loss`` and ``val_loss`` are one column.
    """
    fields: dict[str, float | int] = {}
    skipped: list[str] = []
    for raw, value in logs.items():
        number = plain_number(value)
        if number is None:
            skipped.append(str(raw))
            continue
        name = str(raw).replace("/", "_").replace(" ", "_")
        if name in rename:
            name = rename[name]
        else:
            for old, new in prefixes.items():
                if name.startswith(old):
                    name = new + name[len(old) :]
                    break
        if name in PROTECTED_FIELDS or name.startswith("_") or not name:
            name = f"{reserved_prefix}{name}"
        if isinstance(number, float) and math.isnan(number) and name in fields:
            continue  # two names for one metric: keep the real value
        fields[name] = number
    return fields, skipped
