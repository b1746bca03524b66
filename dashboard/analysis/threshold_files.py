"""Health thresholds from a TOML file, with named presets; validated with clear errors.

A file sets any field of :class:`~dashboard.analysis.thresholds.HealthThresholds`, at the top
level or under a ``[thresholds]`` table, optionally on top of a preset::

    preset = "aggressive"        # conservative | moderate (the defaults) | aggressive
    stall_minutes = 30
    [thresholds]                 # the same keys may live here instead
    divergence_factor = 5.0

*conservative* alarms only on clear problems (wider bands, later verdicts), *aggressive* alarms
early (tighter bands, shorter windows), *moderate* is the built-in default. An unknown key, a
value of the wrong type or a non-positive window raises :class:`ThresholdsError` naming the key
and what it expects. ``thalia-watch --thresholds FILE`` and ``thalia-dashboard --thresholds FILE``
(which hands the path to the page in ``THALIA_THRESHOLDS``) read the same file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dashboard.analysis.thresholds import DEFAULT_THRESHOLDS, HealthThresholds

__all__ = [
    "ENV_VAR",
    "PRESETS",
    "ThresholdsError",
    "load_thresholds",
    "thresholds_from_env",
    "thresholds_from_mapping",
]

ENV_VAR = "THALIA_THRESHOLDS"

PRESETS: dict[str, HealthThresholds] = {
    "conservative": dataclasses.replace(
        DEFAULT_THRESHOLDS,
        divergence_factor=20.0,
        plateau_points=500,
        firing_rate_low=0.005,
        firing_rate_high=0.7,
        capacity_max=0.98,
        stall_minutes=30.0,
        overfit_points=5,
        grad_vanishing=1e-9,
        grad_exploding=1e4,
        gpu_mem_fraction=0.98,
    ),
    "moderate": DEFAULT_THRESHOLDS,
    "aggressive": dataclasses.replace(
        DEFAULT_THRESHOLDS,
        divergence_factor=3.0,
        plateau_points=100,
        firing_rate_low=0.02,
        firing_rate_high=0.4,
        capacity_max=0.9,
        stall_minutes=5.0,
        overfit_points=2,
        grad_vanishing=1e-6,
        grad_exploding=1e2,
        gpu_mem_fraction=0.9,
    ),
}
_FIELDS = {f.name: f for f in dataclasses.fields(HealthThresholds)}


class ThresholdsError(ValueError):
    """A thresholds file or table is invalid; the message names the key and the fix."""


def thresholds_from_mapping(
    data: Mapping[str, Any], *, where: str = "thresholds"
) -> HealthThresholds:
    """Validate ``data`` (a parsed TOML document) and build the thresholds."""
    values = dict(data)
    table = values.pop("thresholds", None)
    if table is not None:
        if not isinstance(table, Mapping):
            raise ThresholdsError(f"{where}: [thresholds] must be a table, got {table!r}")
        overlap = set(table) & set(values) - {"preset"}
        if overlap:
            raise ThresholdsError(
                f"{where}: {', '.join(sorted(overlap))} set twice (top level "
                "and [thresholds]); keep one"
            )
        values.update(table)
    preset = values.pop("preset", "moderate")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ThresholdsError(
            f"{where}: unknown preset {preset!r}; use one of {', '.join(PRESETS)}"
        )
    changes: dict[str, Any] = {}
    for key, value in values.items():
        field = _FIELDS.get(key)
        if field is None:
            raise ThresholdsError(
                f"{where}: unknown key {key!r}; known keys: preset, {', '.join(_FIELDS)}"
            )
        want_int = field.type in ("int", int)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (want_int and not isinstance(value, int))
        ):
            kind = "an integer" if want_int else "a number"
            raise ThresholdsError(
                f"{where}: {key} must be {kind}, got {value!r} ({type(value).__name__})"
            )
        if (not value > 0 and key not in ("firing_rate_low",)) or value < 0:
            raise ThresholdsError(f"{where}: {key} must be > 0, got {value!r}")
        changes[key] = value if want_int else float(value)
    result = dataclasses.replace(PRESETS[preset], **changes)
    if result.firing_rate_low >= result.firing_rate_high:
        raise ThresholdsError(
            f"{where}: firing_rate_low ({result.firing_rate_low}) must be below "
            f"firing_rate_high ({result.firing_rate_high})"
        )
    return result


def load_thresholds(path: str | os.PathLike[str]) -> HealthThresholds:
    """Read and validate a TOML thresholds file (or a preset name given instead of a path)."""
    text = os.fspath(path)
    if text in PRESETS and not Path(text).exists():
        return PRESETS[text]
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ThresholdsError(
                "reading a TOML thresholds file needs Python 3.11+ or `pip install tomli`"
            ) from None
    try:
        data = tomllib.loads(Path(text).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThresholdsError(
            f"cannot read thresholds file {text}: {exc.strerror or exc}"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThresholdsError(f"{text} is not valid TOML: {exc}") from None
    return thresholds_from_mapping(data, where=text)


def thresholds_from_env(environ: Mapping[str, str] | None = None) -> HealthThresholds:
    """The thresholds ``THALIA_THRESHOLDS`` names (a file or a preset), else the defaults."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return load_thresholds(value) if value else DEFAULT_THRESHOLDS
