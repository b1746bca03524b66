"""Charts authored once per shape: Altair builds a chart's spec once, new data only fills it in.

A live page redraws the same few charts every second with new rows. What Altair does per chart
(building the objects, combining the layers' parameters, converting to a dict) depends only on
the chart's *shape*: its options, columns, layers, titles and scales, never on the rows. A
builder therefore names its data sets and hands them over with the shape::

    templated(author, shape, {"line": frame, "markers": marks})

``author(shape, refs)`` builds the Altair chart with ``refs[name]`` as each data set. It runs once
per (author, shape, names) with :class:`altair.NamedData` placeholders: that is the *template*,
kept here (bounded, thread-safe, page-wide). The returned chart is a shallow copy of the template
that carries the real frames:

- ``to_dict()`` is the template's spec (converted once per theme and arguments) with a top-level
  ``datasets`` entry holding each frame's values (Altair's own sanitising), each layer reading its
  set by name; ``to_dict(validate=True)`` also checks the whole spec against the Vega-Lite schema;
- ``.data`` is the frame of the top-level data set, as on a chart built with the frame;
- ``copy()`` (and so every Altair method that derives a chart: ``properties``, ``interactive``,
  ...) returns the chart built afresh by ``author`` with the real frames: an independent chart.
  Setting an attribute on the returned chart itself is not supported (derive with ``properties``);
  pickled, the chart is that fresh chart (plain Altair: ``to_dict`` validates by default);
- :func:`template_parts` gives the template and the frames, so the page can convert the template
  once (:mod:`dashboard.page.chart_specs`) and send each refresh's frames as Arrow data sets.

Data set names are fixed by the builder (not a hash of the rows), so a chart whose shape did not
change keeps the same spec text from one refresh to the next; only its data sets differ.
:func:`authored` builds the same chart the old way (the frames inline), for tests to compare.
"""

from __future__ import annotations

import copy as copy_module
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

import altair as alt
import pandas as pd
from altair.utils.data import to_values
from altair.utils.schemapi import debug_mode

__all__ = ["MAX_TEMPLATES", "Author", "authored", "clear", "template_parts", "templated"]

MAX_TEMPLATES = 256  # shapes: charts × options × titles, for a few runs
_C = TypeVar("_C", bound=alt.TopLevelMixin)
Author = Callable[[Any, Mapping[str, Any]], _C]  #: ``author(shape, data sets)`` → chart

_LOCK = threading.Lock()
_TEMPLATES: OrderedDict[Hashable, _Template] = OrderedDict()
_PARTS = "_thalia_template_parts"


class _Template:
    """One authored chart with placeholder data, and its specs per conversion (theme, options)."""

    def __init__(self, chart: Any) -> None:
        self.chart = chart
        self.specs: dict[Hashable, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def spec(self, key: Hashable, convert: Callable[[Any], dict[str, Any]]) -> Any:
        """``convert(self.chart)``, once per ``key`` (the caller must not modify it)."""
        with self.lock:
            if key not in self.specs:
                self.specs[key] = convert(self.chart)
            return self.specs[key]


def _template(author: Author[_C], shape: Hashable, names: tuple[str, ...]) -> _Template:
    key = (author, shape, names)
    with _LOCK:
        found = _TEMPLATES.get(key)
        if found is not None:
            _TEMPLATES.move_to_end(key)
            return found
    with debug_mode(False):
        chart = author(shape, {name: alt.NamedData(name=name) for name in names})
    made = _Template(chart)
    with _LOCK:
        found = _TEMPLATES.setdefault(key, made)
        while len(_TEMPLATES) > MAX_TEMPLATES:
            _TEMPLATES.popitem(last=False)
    return found


def authored(author: Author[_C], shape: Hashable, data: Mapping[str, pd.DataFrame]) -> _C:
    """The chart as ``author`` builds it with the frames themselves (no template)."""
    with debug_mode(False):
        return author(shape, data)


def templated(author: Author[_C], shape: Hashable, data: Mapping[str, pd.DataFrame]) -> _C:
    """The chart of ``shape`` drawing ``data`` (see the module docstring)."""
    template = _template(author, shape, tuple(data))
    chart: _C = copy_module.copy(template.chart)  # shares nothing mutable with the template:
    kwds = dict(template.chart._kwds)
    top = kwds.get("data")
    if isinstance(top, alt.NamedData) and top.name in data:
        kwds["data"] = data[top.name]
    object.__setattr__(chart, "_kwds", kwds)
    object.__setattr__(chart, _PARTS, (template, dict(data)))

    def to_dict(validate: bool = False, **kwargs: Any) -> dict[str, Any]:
        options = tuple(sorted((k, repr(v)) for k, v in kwargs.items()))
        key = ("dict", alt.theme.active, options)
        spec = dict(template.spec(key, lambda c: c.to_dict(validate=False, **kwargs)))
        spec["datasets"] = {
            **spec.get("datasets", {}),
            **{name: to_values(frame)["values"] for name, frame in data.items()},
        }
        if validate:
            type(template.chart).validate(spec)
        return spec

    def fresh(deep: bool | list[str] = True, ignore: list[str] | None = None) -> _C:
        return authored(author, shape, data)

    def reduce(protocol: Any) -> Any:  # pickled as the chart built afresh, plain Altair
        built = fresh()
        vars(built).pop("to_dict", None)  # page_chart's (a local function)
        return built.__reduce_ex__(protocol)

    object.__setattr__(chart, "to_dict", to_dict)  # SchemaBase.__setattr__ would store a property
    object.__setattr__(chart, "copy", fresh)
    object.__setattr__(chart, "__reduce_ex__", reduce)
    return chart


def template_parts(
    chart: object,
) -> tuple[_Template, dict[str, pd.DataFrame]] | None:
    """(template, frames by data set name) of a chart from :func:`templated`, else None."""
    parts = getattr(chart, "__dict__", {}).get(_PARTS)
    return parts if isinstance(parts, tuple) else None


def clear() -> None:
    """Forget every template (tests)."""
    with _LOCK:
        _TEMPLATES.clear()
