"""Softmax and log-softmax along one axis, each one node with a fused backward.

A row whose scores are all -inf (fully masked attention) gets zero weights and zero gradient,
never NaN: the max shift is taken as 0 there and the empty sum as 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import saved_output

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor
from tinygrad_attn.ops.rowwise import row_max, row_sum


def _shifted_exp(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x - max, exp(x - max), sum of exp) along dim; the max shift keeps exp from overflowing."""
    # asarray: for a 0-d x numpy returns scalars, which the masked assignments below can't take.
    m = row_max(x, dim)
    m[~np.isfinite(m)] = 0  # an all -inf row: exp(-inf - 0) = 0 instead of exp(nan)
    shifted = x - m
    e = np.exp(shifted)
    s = row_sum(e, dim)
    s[s == 0] = 1  # the empty sum of a fully masked row: 0 / 1 = 0 weights
    return shifted, e, s


class Softmax(Function):
    """Softmax along `dim` (F.softmax): exp(x) / sum(exp(x))."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dim: int) -> np.ndarray:
        """y = exp(x - m) / sum(exp(x - m)) along dim, m the row max (so exp cannot overflow);
        saves y and dim.  Shapes: x -> x's shape, each row along dim summing to 1."""
        _, e, s = _shifted_exp(x, dim)
        y = e / s
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = y * (g - sum(g * y, dim)): each row's Jacobian diag(y) - y yᵀ applied to g
        without building it."""
        (y,) = ctx.saved_tensors
        gy = grad_out * y
        return gy - y * row_sum(gy, ctx.dim)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = y * (g - sum(g * y, dim)), y the output on the graph: its second derivative
        comes from differentiating y again (this node)."""
        y = saved_output(ctx, ctx.saved_tensors[0])
        gy = grad_out * y
        return gy - y * gy.sum(ctx.dim, keepdim=True)


class LogSoftmax(Function):
    """Log-softmax along `dim` (F.log_softmax): x - logsumexp(x)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dim: int) -> np.ndarray:
        """y = (x - m) - log(sum(exp(x - m))) along dim, m the row max; saves y and dim.
        Shapes: x -> x's shape."""
        shifted, _, s = _shifted_exp(x, dim)
        y = shifted - np.log(s)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g - exp(y) * sum(g, dim), exp(y) being the softmax."""
        (y,) = ctx.saved_tensors
        return grad_out - np.exp(y) * row_sum(grad_out, ctx.dim)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g - exp(y) * sum(g, dim), y the output on the graph."""
        y = saved_output(ctx, ctx.saved_tensors[0])
        return grad_out - y.exp() * grad_out.sum(ctx.dim, keepdim=True)
