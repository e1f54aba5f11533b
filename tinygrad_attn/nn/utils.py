"""Training utilities: `clip_grad_norm_` (rescale gradients whose global norm is too large)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinygrad_attn.tensor import Tensor


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0
) -> Tensor:
    """Scale all gradients in place so that their joint norm is at most `max_norm`.

    The total norm is taken over every gradient together, as if concatenated into one vector
    (norm_type=inf: the largest |g|). When it exceeds max_norm, each gradient is multiplied by
    max_norm / (total + 1e-6). Parameters without a gradient are skipped.
    Returns the total norm BEFORE clipping, as a 0-d Tensor (as PyTorch), e.g. for logging.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    if not grads:
        return Tensor(np.zeros((), dtype=np.float32))
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g.data), initial=0.0)) for g in grads)
    elif norm_type > 0:
        total = sum(float(np.sum(np.abs(g.data.astype(np.float64)) ** norm_type)) for g in grads)
        total = total ** (1.0 / norm_type)
    else:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g.data *= scale  # in place on the grad's own array (the setter bumps its version)
    return Tensor(np.asarray(total, dtype=grads[0].dtype))
