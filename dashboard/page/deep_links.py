"""The view in the URL: widget values kept in ``st.query_params`` so a pasted link reproduces it.

Each bound widget has a session key and a query parameter. :func:`seed` runs before the widget:
the first time a session draws it, the widget starts from the URL's value (when valid) or the
default. :func:`publish` runs after it and writes the widget's value back into the URL. Values
from the URL are only hints: a value that is not among the choices is dropped (with a visible
note naming it), never shown as something the run wrote. A list may be given as repeated
parameters (``?runs=a&runs=b``, what :func:`publish_list` writes) or comma-separated
(``?runs=a,b``, what people type).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import streamlit as st

from dashboard.page.text import md_text

__all__ = ["publish", "publish_list", "seed", "seed_float", "seed_list", "seed_text"]


def seed(key: str, param: str, choices: Sequence[str | None], default: str | None) -> None:
    """Start widget ``key`` from ``?param=`` when it is one of ``choices``, else ``default``."""
    if key in st.session_state and st.session_state[key] in choices:
        return
    value = st.query_params.get(param)
    if value is not None and value not in choices:
        _dropped(param, [value])
    st.session_state[key] = value if value in choices else default


def _dropped(param: str, values: Sequence[str]) -> None:
    shown = ", ".join(repr(v[:80]) for v in values[:5])
    st.caption(md_text(f"The link's {param}= names {shown}: not offered here, left out."))


def seed_text(key: str, param: str, default: str = "") -> None:
    """Start a text input from ``?param=`` (any text: it is only ever shown in the input)."""
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get(param, default)


def seed_list(
    key: str,
    param: str,
    choices: Sequence[str],
    default: Sequence[str],
    max_items: int | None = None,
) -> None:
    """Start a multiselect from ``?param=a&param=b`` (the values among ``choices``, the first
    ``max_items`` of them: the widget's ``max_selections``)."""
    if key in st.session_state:
        current = list(st.session_state[key])
        kept = [v for v in current if v in choices][:max_items]
        if kept != current:  # written back only when needed: a write races the user's next edit
            st.session_state[key] = kept
        return
    given = [part for v in st.query_params.get_all(param) for part in _split(v, choices)]
    values = list(dict.fromkeys(v for v in given if v in choices))
    if len(values) < len(given):
        _dropped(param, [v for v in given if v not in choices])
    if max_items is not None and len(values) > max_items:
        st.caption(
            md_text(f"The link's {param}= names {len(values)}: the first {max_items} are shown.")
        )
        values = values[:max_items]
    st.session_state[key] = values if values else [v for v in default if v in choices]


def _split(value: str, choices: Sequence[str]) -> list[str]:
    """One URL value as list items: itself when it is a choice, else its comma-separated parts."""
    if value in choices or "," not in value:
        return [value]
    return [part.strip() for part in value.split(",") if part.strip()]


def seed_float(key: str, param: str, low: float, high: float, default: float) -> None:
    """Start a slider from ``?param=x`` when it is a number within ``[low, high]``."""
    if key in st.session_state:
        return
    given = st.query_params.get(param)
    try:
        value = float(given) if given is not None else default
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # NaN too
        note = f"not a number from {low:g} to {high:g}, {default:g} is used"
        st.caption(md_text(f"The link's {param}= is {str(given)[:80]!r}: {note}."))
        value = default
    st.session_state[key] = value


def publish(param: str, value: Any) -> None:
    """Write ``value`` into the URL (removing ``param`` for None)."""
    if value is None:
        if param in st.query_params:
            del st.query_params[param]
        return
    text = str(value)
    if st.query_params.get(param) != text:
        st.query_params[param] = text


def publish_list(param: str, values: Sequence[str]) -> None:
    """Write ``values`` into the URL as repeated ``param`` (none: ``param`` removed)."""
    if not values:
        if param in st.query_params:
            del st.query_params[param]
        return
    if list(st.query_params.get_all(param)) != list(values):
        st.query_params[param] = list(values)
