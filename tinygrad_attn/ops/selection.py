"""Selection ops: each output element is one input element or a constant, picked by a condition
(`where`, `masked_fill`) or by bounds (`clip`). So each backward routes g (grad_out) to the
element that was picked and gives 0 to the rest; the conditions themselves get no gradient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import constant

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


def _inside(ctx: Function) -> np.ndarray:
    """Where Clip's saved x lies within its bounds (min <= x <= max; a None bound is open)."""
    (x,) = ctx.saved_tensors
    low, high = ctx.bounds
    inside = np.ones(x.shape, dtype=bool)
    if low is not None:
        inside &= x >= low
    if high is not None:
        inside &= x <= high
    return inside


class Clip(Function):
    """Clamping into [min, max], as `torch.clamp` (either bound may be None)."""

    @staticmethod
    def forward(
        ctx: Function, x: np.ndarray, *, min: float | None, max: float | None
    ) -> np.ndarray:
        """out = clip(x, min, max); saves x and the bounds.  Shapes: x -> x's shape."""
        ctx.save_for_backward(x)
        ctx.bounds = (min, max)
        return np.clip(x, min, max)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g where min <= x <= max, else 0 (a bound itself passes g, as torch)."""
        return grad_out * _inside(ctx)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * inside, the indicator a constant."""
        return grad_out * constant(_inside(ctx), grad_out)


class Where(Function):
    """`where(cond, a, b)`: a where the boolean array cond holds, else b."""

    @staticmethod
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray, *, cond: np.ndarray) -> np.ndarray:
        """out = np.where(cond, a, b); keeps cond.  Shapes: cond, a, b broadcast -> out."""
        ctx.cond = cond
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: da = g where cond, else 0; db = g where ~cond, else 0."""
        zero = np.zeros((), dtype=grad_out.dtype)
        grad_a = np.where(ctx.cond, grad_out, zero) if ctx.needs_input_grad[0] else None
        grad_b = np.where(ctx.cond, zero, grad_out) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """da = g masked to cond, db = g masked to ~cond (MaskedFill, linear in g)."""
        needs = ctx.needs_input_grad
        grad_a = MaskedFill.apply(grad_out, mask=~ctx.cond, value=0.0) if needs[0] else None
        grad_b = MaskedFill.apply(grad_out, mask=ctx.cond, value=0.0) if needs[1] else None
        return grad_a, grad_b


class MaskedFill(Function):
    """`x.masked_fill(mask, value)`: x with `value` where the boolean mask is True."""

    produces_inf = True  # masked_fill(mask, -inf) is how attention masks are made

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, mask: np.ndarray, value: float) -> np.ndarray:
        """out = value where mask, else x; keeps mask.  Shapes: x, mask broadcasting to x ->
        x's shape."""
        ctx.mask = mask
        return np.where(mask, np.asarray(value, dtype=x.dtype), x)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g where ~mask, else 0 (the filled places are constants)."""
        return np.where(ctx.mask, np.zeros((), dtype=grad_out.dtype), grad_out)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g with zeros where the mask is True: a MaskedFill of g (linear in g)."""
        return MaskedFill.apply(grad_out, mask=ctx.mask, value=0.0)
