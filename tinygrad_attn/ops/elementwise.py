"""Elementwise ops. Shapes: inputs broadcast together (numpy rules) -> the broadcast shape.

Each backward returns gradients in the output's shape; the engine sums them back to each
input's shape (the adjoint of broadcasting).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import constant, saved_input, saved_output
from tinygrad_attn.ops.special import erfc

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor

_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2 / pi), for the tanh form of GELU
_INV_SQRT_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi), the normal density's constant


def _quiet(fn: Callable) -> Callable:
    """Run fn without numpy's RuntimeWarnings: log(0) = -inf, sqrt(-1) = nan, exp(1000) = inf,
    x / 0 = inf, inf * 0 = nan are the right IEEE values, and PyTorch computes them silently
    (`tg.detect_anomaly()` is where a NaN or Inf is reported)."""

    @functools.wraps(fn)
    def quiet(*args: object, **kwargs: object) -> object:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fn(*args, **kwargs)

    return quiet


class Add(Function):
    """a + b.  backward: da = g, db = g."""

    @staticmethod
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        return grad_out, grad_out

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """da = g, db = g (Tensors)."""
        return grad_out, grad_out


class Sub(Function):
    """a - b.  backward: da = g, db = -g."""

    @staticmethod
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        return grad_out, (-grad_out if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """da = g, db = -g (Tensors)."""
        return grad_out, (-grad_out if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """a * b.  backward: da = g * b, db = g * a."""

    @staticmethod
    @_quiet
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    @_quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
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
    """a / b.  backward: da = g / b, db = -g * a / b**2."""

    @staticmethod
    @_quiet
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    @_quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
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
    """a ** b.  backward: da = g * b * a**(b-1) (0 where b = 0), db = g * a**b * log(a).

    As PyTorch: db is NaN for a negative base (log(a) is undefined there, even when a**b is
    real because b is an integer) and 0 at base 0 with b >= 0; da is 0 where b = 0 (x**0 = 1).
    """

    @staticmethod
    @_quiet
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    @_quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
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
    """-x.  backward: dx = -g."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        return -x

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return -grad_out

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = -g."""
        return -grad_out


class Exp(Function):
    """exp(x).  backward: dx = g * y (saves the output)."""

    @staticmethod
    @_quiet
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @_quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        (y,) = ctx.saved_tensors
        return grad_out * y

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * y, y the output on the graph (so d2 = g * y again)."""
        return grad_out * saved_output(ctx, ctx.saved_tensors[0])


class Log(Function):
    """log(x).  backward: dx = g / x."""

    @staticmethod
    @_quiet
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    @_quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_tensors
        return grad_out / x

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g / x, x on the graph."""
        return grad_out / saved_input(ctx, 0, ctx.saved_tensors[0])


class Sqrt(Function):
    """sqrt(x).  backward: dx = g / (2 y)."""

    @staticmethod
    @_quiet
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @_quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        (y,) = ctx.saved_tensors
        return grad_out / (2 * y)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g / (2 y), y the output on the graph."""
        return grad_out / (saved_output(ctx, ctx.saved_tensors[0]) * 2.0)


class Tanh(Function):
    """tanh(x).  backward: dx = g * (1 - y**2)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        (y,) = ctx.saved_tensors
        return grad_out * (1 - y * y)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * (1 - y**2), y the output on the graph."""
        y = saved_output(ctx, ctx.saved_tensors[0])
        return grad_out * (1.0 - y * y)


class Sigmoid(Function):
    """1 / (1 + exp(-x)).  backward: dx = g * y * (1 - y)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        # exp(-|x|) never overflows; pick the algebraically equal form for each sign.
        z = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        (y,) = ctx.saved_tensors
        return grad_out * y * (1 - y)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * y * (1 - y), y the output on the graph."""
        y = saved_output(ctx, ctx.saved_tensors[0])
        return grad_out * y * (1.0 - y)


class Relu(Function):
    """max(x, 0).  backward: dx = g * (x > 0)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
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
    """x * Phi(x) (exact: erf to float64 precision, ops/special.py) or its tanh approximation,
    as PyTorch's `approximate`.

    backward (exact): dx = g * (Phi(x) + x * phi(x)), phi the standard normal density.
    backward (tanh): with u = c (x + 0.044715 x^3), dx = g * (0.5 (1 + tanh u)
    + 0.5 x (1 - tanh^2 u) c (1 + 3 * 0.044715 x^2)).
    """

    @staticmethod
    @_quiet
    def forward(ctx: Function, x: np.ndarray, *, approximate: str = "none") -> np.ndarray:
        ctx.approximate = approximate
        ctx.save_for_backward(x)
        if approximate == "tanh":
            return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
        return (x * _normal_cdf(x)).astype(x.dtype, copy=False)

    @staticmethod
    @_quiet
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
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


class Abs(Function):
    """|x|.  backward: dx = g * sign(x) (0 at x = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_tensors
        return grad_out * np.sign(x)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * sign(x), the sign a constant."""
        return grad_out * constant(np.sign(ctx.saved_tensors[0]), grad_out)


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
    """clip(x, min, max).  backward: dx = g where min <= x <= max, else 0 (as torch.clamp)."""

    @staticmethod
    def forward(
        ctx: Function, x: np.ndarray, *, min: float | None, max: float | None
    ) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.bounds = (min, max)
        return np.clip(x, min, max)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return grad_out * _inside(ctx)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * inside, the indicator a constant."""
        return grad_out * constant(_inside(ctx), grad_out)


class Where(Function):
    """where(cond, a, b), cond a boolean array (no gradient).

    backward: da = g * cond, db = g * ~cond.
    """

    @staticmethod
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray, *, cond: np.ndarray) -> np.ndarray:
        ctx.cond = cond
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
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
    """x with `value` where mask is True (mask broadcasts to x).  backward: dx = g * ~mask."""

    produces_inf = True  # masked_fill(mask, -inf) is how attention masks are made

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, mask: np.ndarray, value: float) -> np.ndarray:
        ctx.mask = mask
        return np.where(mask, np.asarray(value, dtype=x.dtype), x)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return np.where(ctx.mask, np.zeros((), dtype=grad_out.dtype), grad_out)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g with zeros where the mask is True."""
        return MaskedFill.apply(grad_out, mask=ctx.mask, value=0.0)


class Cast(Function):
    """x.astype(dtype).  backward: dx = g cast back to x's dtype (the engine does the cast)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dtype: np.dtype) -> np.ndarray:
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return grad_out

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g (the engine casts it back to x's dtype, itself a Cast node)."""
        return grad_out


class NormalCdf(Function):
    """Phi(x), the standard normal CDF (exact GELU's first derivative uses it).

    backward: dx = g * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
    """

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return _normal_cdf(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_tensors
        return grad_out * _INV_SQRT_2PI * np.exp(-0.5 * x * x)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * phi(x) in Tensor ops of x."""
        x = saved_input(ctx, 0, ctx.saved_tensors[0])
        return grad_out * (x * x * -0.5).exp() * _INV_SQRT_2PI
