"""The activation functions: tanh, sigmoid, relu and gelu (with NormalCdf, gelu's Phi as an op).

Each output has its input's shape; in the `backward:` lines g is grad_out and y the output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import constant, saved_input, saved_output
from tinygrad_attn.ops._quiet import quiet
from tinygrad_attn.ops.special import erfc

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor

_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2 / pi), for the tanh form of GELU
_INV_SQRT_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi), the normal density's constant


class Tanh(Function):
    """The hyperbolic tangent."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        """y = tanh(x); saves y (the derivative is written with it).  Shapes: x -> x's shape."""
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g * (1 - y**2), as 1 / cosh² = 1 - tanh²."""
        (y,) = ctx.saved_tensors
        return grad_out * (1 - y * y)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * (1 - y**2), y the output on the graph."""
        y = saved_output(ctx, ctx.saved_tensors[0])
        return grad_out * (1.0 - y * y)


class Sigmoid(Function):
    """The logistic function 1 / (1 + exp(-x))."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        """y = 1 / (1 + exp(-x)) without overflow; saves y.  Shapes: x -> x's shape."""
        # exp(-|x|) never overflows; pick the algebraically equal form for each sign.
        z = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g * y * (1 - y)."""
        (y,) = ctx.saved_tensors
        return grad_out * y * (1 - y)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * y * (1 - y), y the output on the graph."""
        y = saved_output(ctx, ctx.saved_tensors[0])
        return grad_out * y * (1.0 - y)


class Relu(Function):
    """The rectifier max(x, 0)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        """y = max(x, 0); saves y (y > 0 exactly where x > 0).  Shapes: x -> x's shape."""
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g * (x > 0), 0 at x = 0 (as PyTorch)."""
        (y,) = ctx.saved_tensors
        return grad_out * (y > 0)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * (x > 0), the step a constant (its derivative is 0 almost everywhere)."""
        return grad_out * constant(ctx.saved_tensors[0] > 0, grad_out)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = erfc(-x / sqrt 2) / 2: exact to float64 precision, relative too for x << 0."""
    return 0.5 * erfc(-x * _INV_SQRT_2)


class Gelu(Function):
    """GELU, x * Phi(x) with Phi the standard normal CDF, exact (erf to float64 precision,
    ops/special.py) or its tanh approximation, as PyTorch's `approximate`."""

    @staticmethod
    @quiet
    def forward(ctx: Function, x: np.ndarray, *, approximate: str = "none") -> np.ndarray:
        """y = x * Phi(x), or with approximate="tanh" 0.5 x (1 + tanh(c (x + 0.044715 x^3))),
        c = sqrt(2 / pi); saves x.  Shapes: x -> x's shape."""
        ctx.approximate = approximate
        ctx.save_for_backward(x)
        if approximate == "tanh":
            return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
        return (x * _normal_cdf(x)).astype(x.dtype, copy=False)

    @staticmethod
    @quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward (exact): dx = g * (Phi(x) + x * phi(x)), phi the standard normal density.

        backward (tanh): with u = c (x + 0.044715 x^3),
        dx = g * (0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) c (1 + 3 * 0.044715 x^2)).
        """
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            th = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return grad_out * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du)
        cdf = _normal_cdf(x)
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
        return grad_out * (cdf + x * pdf)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """The same derivative in Tensor ops of x (Phi through `NormalCdf`)."""
        x = saved_input(ctx, 0, ctx.saved_tensors[0])
        if ctx.approximate == "tanh":
            th = (x + x * x * x * 0.044715) * _SQRT_2_OVER_PI
            th = th.tanh()
            du = (1.0 + x * x * (3 * 0.044715)) * _SQRT_2_OVER_PI
            return grad_out * ((1.0 + th) * 0.5 + x * 0.5 * (1.0 - th * th) * du)
        pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
        return grad_out * (NormalCdf.apply(x) + x * pdf)


class NormalCdf(Function):
    """Phi, the standard normal CDF, as an op: exact GELU's derivative on the graph uses it."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        """y = Phi(x) = erfc(-x / sqrt 2) / 2; saves x.  Shapes: x -> x's shape."""
        ctx.save_for_backward(x)
        return _normal_cdf(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)."""
        (x,) = ctx.saved_tensors
        return grad_out * _INV_SQRT_2PI * np.exp(-0.5 * x * x)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * phi(x) in Tensor ops of x."""
        x = saved_input(ctx, 0, ctx.saved_tensors[0])
        return grad_out * (x * x * -0.5).exp() * _INV_SQRT_2PI
