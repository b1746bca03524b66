"""Torch-side helpers for trainers: GPU memory fields and activity / gradient statistics.

torch is optional for ``thalia_logging``: this module never imports torch at import time, and
``gpu_memory_fields`` never imports it at all. CUDA can only be initialised in a process that
has already imported torch, so looking torch up in ``sys.modules`` is both exact and free; that
is what lets the logger call it on every metric line.

numpy is imported only when a statistics helper gets a non-tensor, so importing this module
(which the logger does) costs next to nothing. The statistics helpers take a ``torch.Tensor`` or anything ``numpy.asarray`` accepts, and return
plain Python floats (never tensors), so their results go straight into ``log_metrics``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

__all__ = [
    "TorchNotAvailableError",
    "dead_unit_fraction",
    "firing_rate",
    "global_grad_norm",
    "gpu_memory_fields",
]

# Total device memory per device index: it does not change while the process lives, so the
# cudaMemGetInfo call is paid once per device rather than once per metric line.
_TOTAL_BYTES: dict[int, int] = {}


class TorchNotAvailableError(ImportError):
    """A helper that needs torch was given torch objects without torch being importable."""


def _loaded_torch() -> ModuleType | None:
    return sys.modules.get("torch")


def gpu_memory_fields(
    *, device: int | None = None, torch_module: Any | None = None
) -> dict[str, int]:
    """GPU memory for a metric line, or ``{}`` when CUDA is not in use.

    Returns ``{"gpu_mem_bytes": torch.cuda.memory_allocated(device), "gpu_mem_total_bytes":
    total}`` (``total`` from ``torch.cuda.mem_get_info``) when torch is loaded, CUDA is
    available and this process has initialised it; ``{}`` otherwise (no torch, a CUDA-less
    machine, or a CPU-only run that never touched CUDA, so logging never initialises CUDA
    behind the trainer's back). Never raises: a CUDA error returns ``{}``.

    ``device`` is a CUDA device index (default: the current device). ``torch_module`` is a
    seam for tests (default: the ``torch`` already in ``sys.modules``; never imported here).
    """
    torch = torch_module if torch_module is not None else _loaded_torch()
    if torch is None:
        return {}
    try:
        cuda = torch.cuda
        # is_initialized() is a flag check; it is only true where CUDA is available.
        if not cuda.is_initialized():
            return {}
        index = int(cuda.current_device() if device is None else device)
        total = _TOTAL_BYTES.get(index) if torch_module is None else None
        if total is None:
            _free, total = cuda.mem_get_info(index)
            total = int(total)
            if torch_module is None:
                _TOTAL_BYTES[index] = total
        return {"gpu_mem_bytes": int(cuda.memory_allocated(index)), "gpu_mem_total_bytes": total}
    except Exception:  # a broken driver must not take logging down with it
        return {}


def _import_torch(what: str) -> ModuleType:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - only without torch installed
        raise TorchNotAvailableError(
            f"{what} needs torch: pip install 'thalia-monitor[torch]'"
        ) from exc
    return torch


def _is_tensor(value: Any) -> bool:
    torch = _loaded_torch()
    return torch is not None and isinstance(value, torch.Tensor)


def firing_rate(activations: Any, threshold: float = 0.0) -> float:
    """Fraction of activation entries above ``threshold`` (the share of active units).

    ``activations`` is any shape (typically ``(batch, units)``); the result is in ``[0, 1]``.
    An empty input has no defined rate: NaN.
    """
    if _is_tensor(activations):
        acts = activations.detach()
        if acts.numel() == 0:
            return math.nan
        return float((acts > threshold).float().mean().item())
    import numpy as np

    arr = np.asarray(activations)
    if arr.size == 0:
        return math.nan
    return float(np.mean(arr > threshold))


def dead_unit_fraction(activations: Any, threshold: float = 0.0) -> float:
    """Fraction of units that never exceed ``threshold`` on any sample of the batch.

    ``activations`` has shape ``(batch, units, ...)``: axis 0 is the batch, every other
    position is a unit. A unit is dead when it is at or below ``threshold`` for every sample.
    Raises ValueError for a 0-d input (it has no batch axis). An empty batch: NaN.
    """
    if _is_tensor(activations):
        acts = activations.detach()
        if acts.dim() == 0:
            raise ValueError("dead_unit_fraction needs activations shaped (batch, units, ...)")
        if acts.shape[0] == 0 or acts.numel() == 0:
            return math.nan
        alive = (acts > threshold).any(dim=0)
        return float(1.0 - alive.float().mean().item())
    import numpy as np

    arr = np.asarray(activations)
    if arr.ndim == 0:
        raise ValueError("dead_unit_fraction needs activations shaped (batch, units, ...)")
    if arr.shape[0] == 0 or arr.size == 0:
        return math.nan
    return float(1.0 - np.mean(np.any(arr > threshold, axis=0)))


def global_grad_norm(parameters: Any) -> float:
    """The L2 norm of all gradients together, as ``clip_grad_norm_`` computes it, as a float.

    ``parameters`` is a tensor or an iterable of tensors (``model.parameters()``); those
    without a gradient are skipped, and none at all gives 0.0. A NaN or infinite gradient is
    kept (NaN or inf), since that is the first sign of divergence. Nothing is modified.
    """
    torch = _loaded_torch() or _import_torch("global_grad_norm")
    params: Iterable[Any] = [parameters] if isinstance(parameters, torch.Tensor) else parameters
    norms = [
        torch.linalg.vector_norm(p.grad.detach().double(), 2)
        for p in params
        if getattr(p, "grad", None) is not None
    ]
    if not norms:
        return 0.0
    if len(norms) == 1:
        return float(norms[0].item())
    devices = {n.device for n in norms}
    if len(devices) > 1:
        norms = [n.cpu() for n in norms]
    return float(torch.linalg.vector_norm(torch.stack(norms), 2).item())
