"""The commands layer: the console scripts, thin shells over :mod:`dashboard.reading` and
:mod:`dashboard.analysis`. The launcher starts the page's servers, so it (and the child's entry
point) also uses :mod:`dashboard.page.guard` and Streamlit's command line; nothing below imports
this layer.

- :mod:`.launcher` — ``thalia-dashboard``: one Streamlit server per directory, with
  :mod:`.launch_args` (its command line), :mod:`.ports` (free ports, URLs) and
  :mod:`.supervise` (the running children)
- :mod:`.serve` — a child's entry point: Streamlit's command line with the guard installed first
- :mod:`.export` — ``thalia-export``: a run's frames as CSV
- :mod:`.watch` — ``thalia-watch``: alerts off the page, with :mod:`.notify` (channels, retry,
  message texts) and :mod:`.watch_state` (run search, state file)
"""

__all__: list[str] = []
