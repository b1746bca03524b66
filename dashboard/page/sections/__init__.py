"""The page's sections: thin Streamlit renderers, one module per part of the page.

Each function draws one section from a :class:`~dashboard.run_state.RunState` and what
:mod:`dashboard.analysis` computed from it; ``app.live`` calls them top to bottom:

- :mod:`.header` — ``empty_state``, ``header`` (run, status badge, stage, week, step), ``health_warnings``
- :mod:`.metrics` — ``metrics_now`` (the four cards), ``metric_history`` (charts, picker, caches)
- :mod:`.growth` — ``growth`` (neuron counts, capacity by region, events), ``consolidation``
- :mod:`.info` — ``milestones``, ``training_info`` (speed, counts, bad lines, console tail)
- :mod:`.widgets` — the shared look (a card, an empty section's caption, table helpers);
  :mod:`.options` — what the sidebar decided; :mod:`.frame_keys` — a chart's cache key from the
  content of its own frame (not the whole run's version).

Text that comes from the run (paths, region names, reasons, warnings, milestone names, metadata
values, log lines) goes through :mod:`dashboard.page.text` only: ``plain`` for
``st.text``/``st.code``/``st.dataframe`` cells, ``md_text`` wherever a Streamlit call renders
markdown (metric cards, alerts, tab and expander labels, captions, tooltips). An empty section
says what it waits for. A new section goes into a new module here, re-exported below.
"""

from __future__ import annotations

from dashboard.page.sections.growth import consolidation, growth
from dashboard.page.sections.header import empty_state, header, health_warnings
from dashboard.page.sections.info import milestones, training_info
from dashboard.page.sections.metrics import metric_history, metrics_now
from dashboard.page.sections.options import Options

__all__ = [
    "Options",
    "consolidation",
    "empty_state",
    "growth",
    "header",
    "health_warnings",
    "metric_history",
    "metrics_now",
    "milestones",
    "training_info",
]
