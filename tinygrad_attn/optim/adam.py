"""`Adam` and `AdamW` (Kingma & Ba 2015; Loshchilov & Hutter 2019), PyTorch's update rules."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_attn.optim.optimizer import Optimizer, _check_nonnegative
from tinygrad_attn.tensor import Tensor


class Adam(Optimizer):
    """Adam with bias correction, PyTorch's update rule (`torch.optim.Adam`).

    Shapes: each parameter p (any shape); exp_avg m, exp_avg_sq v (and max_exp_avg_sq) likewise.

    Per step t = 1, 2, ... for each parameter with a gradient g:
        p = p * (1 - lr * weight_decay)        if decoupled_weight_decay (AdamW), else
        g = g + weight_decay * p               (L2 penalty folded into the gradient)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_hat, v) if amsgrad else v
        p = p - lr / (1 - beta1**t) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        name = type(self).__name__
        _check_nonnegative(name, "eps", group["eps"])
        _check_nonnegative(name, "weight_decay", group["weight_decay"])
        betas = tuple(group["betas"])
        if len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {group['betas']}")
        for i, beta in enumerate(betas):
            _check_nonnegative(name, f"beta{i + 1}", beta)
            if not beta < 1:
                raise ValueError(f"{name}: invalid beta{i + 1} {beta}, must be in [0, 1)")
        group["betas"] = betas

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        # float(): an np.float64 hyperparameter would promote float32 temporaries (NEP 50).
        lr, eps = float(group["lr"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        state = self.state.setdefault(p, {})
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        step = state["step"]
        if weight_decay != 0 and group["decoupled_weight_decay"]:
            p.data *= 1 - lr * weight_decay
        elif weight_decay != 0:
            grad = grad + weight_decay * p.data  # a new array: p.grad itself is never changed
        # The state buffers are updated in place; `scratch` is the one temporary the update
        # needs (out= also keeps 0-d results arrays, where numpy would return scalars).
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        scratch = np.multiply(grad, 1 - beta1, out=np.empty_like(exp_avg))
        exp_avg *= beta1
        exp_avg += scratch
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - beta2
        exp_avg_sq *= beta2
        exp_avg_sq += scratch
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            exp_avg_sq = state["max_exp_avg_sq"]
        step_size = lr / (1 - beta1**step)
        denom = np.sqrt(exp_avg_sq, out=scratch)
        denom /= math.sqrt(1 - beta2**step)
        denom += eps
        update = np.divide(exp_avg, denom, out=denom)
        update *= step_size
        p.data -= update


class AdamW(Adam):
    """Adam with decoupled weight decay, `p *= 1 - lr * weight_decay` (`torch.optim.AdamW`).

    Shapes: as `Adam`. The update is Adam's with `decoupled_weight_decay=True`; note the default
    weight_decay is 1e-2 here (0 for Adam), as in PyTorch.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True)
