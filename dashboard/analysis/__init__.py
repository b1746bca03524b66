"""The analysis layer: frames → facts, pure and without a page.

Everything a surface says about a run is computed here, from a
:class:`~dashboard.run_state.RunState` (and the frames it holds), so a number or a check means
the same on the run page, in the export, a report or a terminal. No I/O, no Streamlit, no Altair:
this layer imports only :mod:`dashboard.run_state`, the types of :mod:`dashboard.reading`,
:mod:`dashboard.errors` and itself.

- :mod:`.series` — core metric names, ranks, one rank's rows, extra columns, the latest step
- :mod:`.units` — numbers, sizes, ages and durations as plain text
- :mod:`.status` — run status (waiting / running / stalled / finished), duration, speed, ETA
- :mod:`.thresholds` — every health threshold, and the metric columns the rules share
- :mod:`.loss_rules` — curriculum-aware loss rules (segments, divergence, plateau, overfitting)
- :mod:`.health` — the health checks, one rule each (critical first)
- :mod:`.rule_helpers` — the helpers every health rule shares (warning, number, segment rows)
- :mod:`.diagnosis` / :mod:`.validation_rules` — the training checks the core rules do not cover
- :mod:`.run_facts` — one refresh's facts (latest step, status, speed, alerts), computed once
- :mod:`.downsample` — min/max-per-bucket down-sampling that keeps spikes and NaNs visible
- :mod:`.smoothing` — TensorBoard-style debiased EMA (whole series, or extended chunk by chunk)
- :mod:`.pyramid` — min/max bucket pyramids of growing columns (a chart costs O(points shown))
- :mod:`.change_points` — where a growing step series changes value (the neuron-count chart)
- :mod:`.memo` — work kept per snapshot (the health verdicts of an unchanged run)
"""

__all__: list[str] = []
