"""`SGD`: stochastic gradient descent with optional momentum, dampening, Nesterov, weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_attn.optim.optimizer import Optimizer, _check_nonnegative
from tinygrad_attn.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's update rule (`torch.optim.SGD`).

    Shapes: each parameter p (any shape) with grad g of p's shape; momentum_buffer b likewise.

    Per step, for each parameter with a gradient:
        g = g + weight_decay * p                                   (if weight_decay != 0)
        b = g  on the first step, else  b = momentum * b + (1 - dampening) * g   (if momentum)
        g = g + momentum * b  if nesterov,  else  g = b                           (if momentum)
        p = p - lr * g
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        _check_nonnegative("SGD", "momentum", group["momentum"])
        _check_nonnegative("SGD", "weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum needs momentum > 0 and dampening == 0, got momentum="
                f"{group['momentum']}, dampening={group['dampening']}"
            )

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        # float(): an np.float64 hyperparameter would promote float32 temporaries (NEP 50).
        lr, momentum = float(group["lr"]), float(group["momentum"])
        weight_decay, dampening = float(group["weight_decay"]), float(group["dampening"])
        if weight_decay != 0:
            # a new array (p.grad is never changed); asarray: numpy returns scalars for 0-d
            grad = np.asarray(grad + weight_decay * p.data)
        if momentum != 0:
            state = self.state.setdefault(p, {})
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= momentum
                buf += grad if dampening == 0 else (1 - dampening) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= lr * grad
