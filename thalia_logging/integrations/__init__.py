"""Trainer integrations: one module per framework, imported only when asked for.

- :mod:`thalia_logging.integrations.hf`: ``ThaliaCallback``, a Hugging Face ``TrainerCallback``
  (``pip install 'thalia-monitor[hf]'``);
- :mod:`thalia_logging.integrations.lightning`: ``ThaliaLogger``, a PyTorch Lightning ``Logger``
  (``pip install 'thalia-monitor[lightning]'``).

This package imports neither framework: ``import thalia_logging`` (or this package) stays light,
and each module imports its framework when it is imported itself.
"""

__all__: list[str] = []
