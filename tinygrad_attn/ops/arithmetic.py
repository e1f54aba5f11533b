"""The arithmetic operators: + - * / ** and unary minus (Tensor's dunders call these).

Inputs broadcast together (numpy rules). Each backward returns gradients in the output's shape
and the engine sums each back to its input's shape (the adjoint of broadcasting); in the
`backward:` lines g is grad_out, the gradient of the output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import constant, saved_input, saved_output
from tinygrad_attn.ops._quiet import quiet
from tinygrad_attn.ops.selection import Where

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


class Add(Function):
    """Addition, `a + b`."""

    @staticmethod
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """out = a + b; nothing saved.  Shapes: a, b broadcast together -> out."""
        return a + b

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: da = g, db = g."""
        return grad_out, grad_out

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """g for both inputs, on Tensors: linear in g, with nothing saved to differentiate."""
        return grad_out, grad_out


class Sub(Function):
    """Subtraction, `a - b`."""

    @staticmethod
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """out = a - b; nothing saved.  Shapes: a, b broadcast together -> out."""
        return a - b

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: da = g, db = -g."""
        return grad_out, (-grad_out if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """g and -g on Tensors (linear in g, nothing saved)."""
        return grad_out, (-grad_out if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """Multiplication, `a * b`: the product rule."""

    @staticmethod
    @quiet
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """out = a * b; saves a and b.  Shapes: a, b broadcast together -> out."""
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    @quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: da = g * b, db = g * a (each factor's gradient is the other factor)."""
        a, b = ctx.saved_tensors
        grad_a = grad_out * b if ctx.needs_input_grad[0] else None
        grad_b = grad_out * a if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """da = g * b, db = g * a, with a and b the saved inputs on the graph."""
        a, b = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_a = grad_out * saved_input(ctx, 1, b) if needs[0] else None
        grad_b = grad_out * saved_input(ctx, 0, a) if needs[1] else None
        return grad_a, grad_b


class Div(Function):
    """Division, `a / b` (x / 0 is inf or nan, as IEEE and PyTorch)."""

    @staticmethod
    @quiet
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """out = a / b; saves a and b.  Shapes: a, b broadcast together -> out."""
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    @quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: da = g / b, db = -g * a / b**2, computed as -da * a / b."""
        a, b = ctx.saved_tensors
        grad_a = grad_out / b
        grad_b = -grad_a * a / b if ctx.needs_input_grad[1] else None
        return (grad_a if ctx.needs_input_grad[0] else None), grad_b

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """da = g / b, db = -(g / b) * a / b, with a and b on the graph."""
        a, b = ctx.saved_tensors
        b_t = saved_input(ctx, 1, b)
        grad_a = grad_out / b_t
        grad_b = -grad_a * saved_input(ctx, 0, a) / b_t if ctx.needs_input_grad[1] else None
        return (grad_a if ctx.needs_input_grad[0] else None), grad_b


class Pow(Function):
    """Power, `a ** b`, with a tensor base and exponent (a Python number becomes a tensor)."""

    @staticmethod
    @quiet
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """out = a ** b; saves a, b and out (db reuses out).  Shapes: a, b broadcast -> out."""
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    @quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: da = g * b * a**(b-1), db = g * a**b * log(a).

        At the edges as PyTorch: da is 0 where b = 0 (x**0 = 1, even at x = 0); db is NaN for
        a negative base (log(a) is undefined there, even when a**b is real because b is an
        integer) and 0 at base 0 with b >= 0.
        """
        a, b, out = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = np.where(b == 0, 0, grad_out * b * a ** (b - 1)).astype(out.dtype, copy=False)
        if ctx.needs_input_grad[1]:
            grad_b = grad_out * out * np.log(a)  # nan for a < 0: log of a negative number
            grad_b = np.where((a == 0) & (b >= 0), 0, grad_b).astype(out.dtype, copy=False)
        return grad_a, grad_b

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """The same rule in Tensor ops (a, b and the output a**b on the graph)."""
        a, b, out = ctx.saved_tensors
        a_t, b_t = saved_input(ctx, 0, a), saved_input(ctx, 1, b)
        zero = constant(0.0, grad_out)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            # b a^(b-1) is 0 at b = 0 by itself unless a = 0 too (0 * inf): masking only there
            # keeps d/db of it right at b = 0 (it is a^-1, not 0).
            grad_a = Where.apply(zero, grad_out * b_t * a_t ** (b_t - 1), cond=(b == 0) & (a == 0))
        if ctx.needs_input_grad[1]:
            grad_b = grad_out * saved_output(ctx, out) * a_t.log()
            grad_b = Where.apply(zero, grad_b, cond=(a == 0) & (b >= 0))
        return grad_a, grad_b


class Neg(Function):
    """Negation, `-x`."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        """out = -x; nothing saved.  Shapes: x -> x's shape."""
        return -x

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = -g."""
        return -grad_out

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """-g on Tensors (linear in g)."""
        return -grad_out
