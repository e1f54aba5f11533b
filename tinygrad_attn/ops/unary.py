"""Elementwise functions of one input: exp, log, sqrt, abs, and the dtype cast.

The activations (tanh, sigmoid, relu, gelu) are in activations.py. Each output has its input's
shape; in the `backward:` lines g is grad_out and y the output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import constant, saved_input, saved_output
from tinygrad_attn.ops._quiet import quiet

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


class Exp(Function):
    """The exponential, e ** x (exp(1000) is inf, as IEEE and PyTorch)."""

    @staticmethod
    @quiet
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        """y = exp(x); saves y, which is also its derivative.  Shapes: x -> x's shape."""
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g * y (d exp(x)/dx = exp(x))."""
        (y,) = ctx.saved_tensors
        return grad_out * y

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * y, y the output on the graph (so d2 = g * y again)."""
        return grad_out * saved_output(ctx, ctx.saved_tensors[0])


class Log(Function):
    """The natural logarithm (log(0) = -inf, log of a negative number nan)."""

    @staticmethod
    @quiet
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        """y = log(x); saves x.  Shapes: x -> x's shape."""
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    @quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g / x."""
        (x,) = ctx.saved_tensors
        return grad_out / x

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g / x, x on the graph."""
        return grad_out / saved_input(ctx, 0, ctx.saved_tensors[0])


class Sqrt(Function):
    """The square root (nan for a negative number, as PyTorch)."""

    @staticmethod
    @quiet
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        """y = sqrt(x); saves y.  Shapes: x -> x's shape."""
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g / (2 y), as d sqrt(x)/dx = 1 / (2 sqrt(x)) (inf at x = 0)."""
        (y,) = ctx.saved_tensors
        return grad_out / (2 * y)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g / (2 y), y the output on the graph."""
        return grad_out / (saved_output(ctx, ctx.saved_tensors[0]) * 2.0)


class Abs(Function):
    """The absolute value |x|."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        """y = |x|; saves x (its sign is the derivative).  Shapes: x -> x's shape."""
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g * sign(x), 0 at x = 0 (as PyTorch)."""
        (x,) = ctx.saved_tensors
        return grad_out * np.sign(x)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * sign(x), the sign a constant."""
        return grad_out * constant(np.sign(ctx.saved_tensors[0]), grad_out)


class Cast(Function):
    """A dtype conversion, `x.astype(dtype)` (an int or bool result ends the graph)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dtype: np.dtype) -> np.ndarray:
        """y = x.astype(dtype); nothing saved.  Shapes: x -> x's shape."""
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g, cast back to x's dtype (by the engine, as for every input)."""
        return grad_out

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g (the engine casts it back to x's dtype, itself a Cast node)."""
        return grad_out
