"""Coercion and validation of the values a trainer logs.

Contract: every function here either returns a value that orjson serialises into exactly what
``schemas/`` allows, or raises :class:`LogTypeError` / :class:`LogValueError` (subclasses of the
built-in ``TypeError`` / ``ValueError``) with a message naming the argument, what was wrong and
how to fix it. Nothing here writes anything, so a caller that validates first and writes after
writes nothing on error.

Numbers may be Python ``int``/``float`` (and other ``numbers.Real`` such as ``Fraction``), numpy
scalars (or 0-d arrays) and single-element torch tensors. torch and numpy are found by looking
them up in ``sys.modules`` only: a value cannot be a tensor unless torch is already imported, so
this module never imports either. ``bool`` is refused as a number (JSON would write ``true``,
which is not a number; pass ``int(flag)`` if you mean 0/1). Non-finite floats become the strings
``"NaN"``, ``"Infinity"``, ``"-Infinity"``: never ``null`` (orjson's default) nor bare tokens.

The hot path is the caller's: plain finite floats and ints are recognised with a ``type()`` check
and ``x - x == 0.0`` (false exactly for NaN and the infinities) before anything slower runs.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Mapping
from typing import Any

from .contract import NON_FINITE, non_finite_text

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "NON_FINITE",
    "UINT64_MAX",
    "LogTypeError",
    "LogValueError",
    "Number",
    "check_count",
    "check_name",
    "check_step",
    "count_dict",
    "explain_unencodable",
    "json_safe",
    "number",
    "number_dict",
    "plain_counts",
    "plain_numbers",
]

Number = int | float | str
"""What a coerced number is: an int, a finite float, or one of the non-finite strings."""


INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1
"""Integers must fit in a signed 64-bit int: the reader keeps steps, ranks and counts as int64."""

_ACCEPTED = "an int, a float, a numpy scalar or a 0-d torch tensor"


class LogTypeError(TypeError):
    """An argument to the logger has the wrong type (the message says which and how to fix it)."""


class LogValueError(ValueError):
    """An argument to the logger has the right type but an invalid value."""


def _describe(x: object) -> str:
    text = repr(x)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(x).__name__} {text}"


_SCALAR_KINDS: dict[type, type] = {}
"""numpy scalar types seen so far -> ``float`` or ``int``: ``float(x)`` / ``int(x)`` is then
exactly ``x.item()``, without the isinstance chain (filled by :func:`_unwrap`)."""


def _unwrap(name: str, x: object) -> object:
    """numpy scalar / 0-d array / one-element tensor -> the Python scalar inside, else ``x``."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise LogValueError(
                f"{name} is a torch tensor of shape {tuple(x.shape)} ({x.numel()} elements); "
                "log one number: reduce it first (e.g. tensor.mean()) or pass tensor.item()"
            )
        if x.is_complex():
            raise LogTypeError(f"{name} is a complex tensor; log a real number (e.g. abs(x))")
        return x.item()
    np = sys.modules.get("numpy")
    if np is not None and isinstance(x, np.generic | np.ndarray):
        if isinstance(x, np.ndarray) and x.ndim != 0:
            raise LogValueError(
                f"{name} is a numpy array of shape {x.shape}; log one number: reduce it first "
                "(e.g. arr.mean()) or pass arr.item()"
            )
        if isinstance(x, np.floating | np.integer):  # not np.bool_: it stays refused
            _SCALAR_KINDS[type(x)] = float if isinstance(x, np.floating) else int
        return x.item()
    return x


def _out_of_int64(name: str, v: int) -> LogValueError:
    return LogValueError(
        f"cannot write {name}={v}: steps, ranks and counts must fit in a signed 64-bit int "
        f"({INT64_MIN} .. {INT64_MAX}), which is what the reader keeps them in; log a smaller "
        "number (a metric value may instead be passed as a float)"
    )


def _float(x: float) -> Number:
    if x - x == 0.0:
        return x
    return non_finite_text(x)


def number(name: str, x: object) -> Number:
    """``x`` as a JSON-ready number (non-finite floats as strings), or a clear error."""
    t = type(x)
    if t is float:
        return _float(x)  # type: ignore[arg-type]
    if t is int:  # a metric value may use orjson's whole 64-bit range (uint64 too); orjson
        return x  # type: ignore[return-value]  # refuses beyond it (explain_unencodable says why)
    kind = _SCALAR_KINDS.get(t)
    if kind is not None:  # a numpy scalar type met before
        return _float(float(x)) if kind is float else int(x)  # type: ignore[arg-type, call-overload]
    v = _unwrap(name, x)
    if type(v) is float:  # what .item() gives for float tensors and numpy floats
        return _float(v)
    if isinstance(v, bool):
        raise LogTypeError(
            f"{name} is a bool ({v}); a metric must be a number. "
            f"Pass int({name}) or float({name}) if you mean 0/1"
        )
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float | numbers.Real):
        return _float(float(v))
    if isinstance(v, complex):
        raise LogTypeError(f"{name} is complex ({v!r}); log a real number such as abs(x)")
    raise LogTypeError(
        f"{name} must be {_ACCEPTED}, got {_describe(x)}; convert it with float(...) "
        "or leave it out (None is skipped)"
    )


def _int(name: str, x: object, what: str) -> int:
    if type(x) is int:
        v: object = x
    elif _SCALAR_KINDS.get(type(x)) is int:  # a numpy integer type met before
        v = int(x)  # type: ignore[call-overload]
    else:
        v = _unwrap(name, x)
        if isinstance(v, bool) or not isinstance(v, int):
            raise LogTypeError(
                f"{name} must be {what} (an int, numpy integer or 0-d integer tensor), "
                f"got {_describe(x)}; pass int(...) if the value is whole"
            )
        v = int(v)
    if v < 0:  # type: ignore[operator]
        raise LogValueError(f"{name} must be >= 0, got {v}; {what} cannot be negative")
    if v > INT64_MAX:  # type: ignore[operator]
        raise _out_of_int64(name, v)  # type: ignore[arg-type]
    return v  # type: ignore[return-value]


def check_step(step: object) -> int:
    """The training step as a non-negative int that fits in int64."""
    if type(step) is int and 0 <= step <= INT64_MAX:
        return step
    return _int("step", step, "the training step")


def check_count(name: str, x: object) -> int:
    """A non-negative integer field (neurons, patterns, durations, stage numbers)."""
    if type(x) is int and 0 <= x <= INT64_MAX:
        return x
    return _int(name, x, "a count")


def check_name(name: str, x: object, *, empty_ok: bool = False) -> str:
    """A string field (region, reason, stage name)."""
    if type(x) is not str and not isinstance(x, str):
        raise LogTypeError(
            f"{name} must be a str, got {_describe(x)}; pass str(...) or the region's name"
        )
    if not empty_ok and not x:
        raise LogValueError(f"{name} must not be empty; give it a name such as 'cortex'")
    text = str(x)
    if not text.isascii():
        _check_utf8(name, text)
    return text


def _check_utf8(name: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LogValueError(_surrogate_message(name, text, exc.start)) from None


def _surrogate_message(name: str, text: str, pos: int) -> str:
    return (
        f"{name} holds a lone surrogate {text[pos]!r} at index {pos} ({_describe(text)}), which "
        "is not valid UTF-8 and cannot be written as JSON; clean the text first, e.g. "
        "text.encode('utf-8', 'replace').decode('utf-8')"
    )


def explain_unencodable(name: str, x: object) -> LogValueError | None:
    """Why orjson refused ``x`` (a record or config), naming the field; ``None`` if not found.

    Finds the first string (key or value) with a lone surrogate or int beyond 64 bits.
    """
    if isinstance(x, str):
        try:
            x.encode("utf-8")
        except UnicodeEncodeError as exc:
            return LogValueError(_surrogate_message(name, x, exc.start))
        return None
    if type(x) is int:
        if INT64_MIN <= x <= UINT64_MAX:
            return None
        return LogValueError(
            f"cannot write {name}={x}: JSON integers must fit in 64 bits; log a smaller "
            "number, or a float(...) if it is a measurement"
        )
    if isinstance(x, Mapping):
        for k, v in x.items():
            err = explain_unencodable(f"a key of {name}", k) if isinstance(k, str) else None
            err = err or explain_unencodable(f"{name}[{k!r}]", v)
            if err is not None:
                return err
    elif isinstance(x, list | tuple):
        for i, v in enumerate(x):
            err = explain_unencodable(f"{name}[{i}]", v)
            if err is not None:
                return err
    return None


def _key(name: str, k: object) -> str:
    if isinstance(k, str):
        return str(k)
    raise LogTypeError(
        f"{name} keys must be region names (str), got key {_describe(k)}; use str(key)"
    )


def number_dict(name: str, d: object) -> Any:
    """A ``{str: number}`` mapping, returned as is when already plain (the common case)."""
    if type(d) is dict:
        for k, v in d.items():
            if type(k) is not str or not (
                (type(v) is float and v - v == 0.0)
                or (type(v) is int and INT64_MIN <= v <= INT64_MAX)
            ):
                break
        else:
            return d
    if not isinstance(d, Mapping):
        raise LogTypeError(f"{name} must be a dict of region name -> number, got {_describe(d)}")
    return {_key(name, k): number(f"{name}[{k!r}]", v) for k, v in d.items()}


def count_dict(name: str, d: object) -> Any:
    """A ``{str: int >= 0}`` mapping (neuron counts), returned as is when already plain."""
    if type(d) is dict:
        for k, v in d.items():
            if type(k) is not str or type(v) is not int or not 0 <= v <= INT64_MAX:
                break
        else:
            return d
    if not isinstance(d, Mapping):
        raise LogTypeError(f"{name} must be a dict of region name -> int, got {_describe(d)}")
    return {_key(name, k): check_count(f"{name}[{k!r}]", v) for k, v in d.items()}


def plain_numbers(d: object) -> bool:
    """Hot-path check: ``d`` is a dict whose values are all ints or finite floats (no bools).

    Keys are not looked at: orjson refuses a non-``str`` key, and the caller then validates
    strictly with :func:`number_dict` to say which key is wrong.
    """
    if type(d) is not dict:
        return False
    for v in d.values():
        t = type(v)
        if not (t is float and v - v == 0.0) and not (t is int and INT64_MIN <= v <= INT64_MAX):
            return False
    return True


def plain_counts(d: object) -> bool:
    """Hot-path check like :func:`plain_numbers` for ``{region: int >= 0}``."""
    if type(d) is not dict:
        return False
    for v in d.values():  # noqa: SIM110 - a plain loop is faster than all(<genexpr>)
        if type(v) is not int or not 0 <= v <= INT64_MAX:
            return False
    return True


def json_safe(name: str, x: object) -> Any:
    """Free-form data (a run's config, extra metadata fields) made JSON-ready.

    Numbers go through :func:`number`; strings, bools and None stay; mappings and sequences
    are converted recursively (keys become ``str``); anything else (a ``Path``, a dtype, an
    enum) is written as ``str(x)``, since a config is descriptive, not data.
    """
    if x is None or isinstance(x, bool):
        return x
    if isinstance(x, str):
        if not x.isascii():
            _check_utf8(name, x)
        return x
    if isinstance(x, Mapping):
        return {
            json_safe(f"a key of {name}", str(k)): json_safe(f"{name}[{k!r}]", v)
            for k, v in x.items()
        }
    if isinstance(x, list | tuple | set | frozenset):
        return [json_safe(f"{name}[{i}]", v) for i, v in enumerate(x)]
    try:
        return number(name, x)
    except (TypeError, ValueError):
        return str(x)
