"""The page layer: facts → Streamlit. The only layer (with ``dashboard/app.py``) that imports
streamlit or altair.

It reads :mod:`dashboard.analysis` and :mod:`dashboard.run_state` and draws; it computes nothing
a headless surface would need.

- :mod:`.text` — the one safe path for run text (no HTML, markdown, links or images)
- :mod:`.views` — view models: metric cards with deltas, header facts, milestone summary (no Streamlit)
- :mod:`.chart_base` — Altair plumbing (validation off while building, point statistics, colours)
- :mod:`.charts` — the metric, consolidation and GPU memory charts; :mod:`.region_charts` —
  neurons and capacity per region
- :mod:`.sections` — the Streamlit sections, one module per part of the page
- :mod:`.guard` — the same-origin guard (DNS rebinding) installed before the server answers
"""

__all__: list[str] = []
