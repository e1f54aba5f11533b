"""Utilities: `clip_grad_norm_` (rescale too-large gradients) and `functional_call` (run a module
with some parameters swapped for given tensors, e.g. to gradcheck a whole layer)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_attn.nn.module import Module
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


def functional_call(
    module: Module,
    tensors: Mapping[str, Tensor],
    args: tuple | Tensor = (),
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """`module(*args, **kwargs)` with the named parameters / buffers replaced by `tensors`.

    Keys are dotted names as in `named_parameters()` (`"q_proj.weight"`); gradients flow into
    the given tensors, not the module's own. The module is restored afterwards, even on error.
    This is how a whole layer is gradchecked w.r.t. its weights (as torch.func.functional_call):
        tg.gradcheck(lambda x, w: functional_call(lin, {"weight": w}, (x,)), [x, lin.weight])
    """
    owners = dict(module.named_modules())
    swapped: list[tuple[dict, str, Any]] = []
    try:
        for name, tensor in tensors.items():
            owner_name, _, attr = name.rpartition(".")
            owner = owners.get(owner_name)
            store = None
            if owner is not None and attr in owner._parameters:
                store = owner._parameters
            elif owner is not None and attr in owner._buffers:
                store = owner._buffers
            if store is None:
                raise KeyError(
                    f"functional_call: {type(module).__name__} has no parameter or buffer {name!r}"
                )
            old = store[attr]
            if old is not None and tuple(tensor.shape) != old.shape:
                raise ValueError(
                    f"functional_call: {name!r} has shape {old.shape}, got {tuple(tensor.shape)}"
                )
            swapped.append((store, attr, old))
            store[attr] = tensor
        call_args = (args,) if isinstance(args, Tensor) else tuple(args)
        return module(*call_args, **(kwargs or {}))
    finally:
        for store, attr, old in reversed(swapped):
            store[attr] = old
