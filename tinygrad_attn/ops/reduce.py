"""Reductions over `dim` (a tuple of non-negative axes, or None for all). Mean is Sum times 1/n.

Shapes: x: (...) -> x with the reduced axes removed (or kept as size 1 with keepdim).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import constant, saved_input

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


def _expand_back(grad_out: np.ndarray, ndim: int, dim: tuple | None, keepdim: bool) -> np.ndarray:
    """Re-insert the reduced axes (as size 1) so the gradient broadcasts against the input."""
    if keepdim:
        return grad_out
    return np.expand_dims(grad_out, tuple(range(ndim)) if dim is None else dim)


class Sum(Function):
    """`x.sum(dim, keepdim)` (Tensor.mean is this times 1/n)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dim: tuple | None, keepdim: bool) -> np.ndarray:
        """out = np.sum(x, dim, keepdims=keepdim); keeps x's shape, dim and keepdim.
        Shapes: x -> x with the dim axes removed (size 1 with keepdim)."""
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        return np.sum(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g broadcast back over the summed axes (each x moves its sum by 1)."""
        g = _expand_back(grad_out, len(ctx.shape), ctx.dim, ctx.keepdim)
        return np.broadcast_to(g, ctx.shape)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g reshaped to keep the summed axes, expanded back (Tensor ops)."""
        kept = _kept_shape(ctx.shape, ctx.dim, ctx.keepdim)
        g = grad_out.reshape(kept)
        return g if kept == ctx.shape else g.expand(ctx.shape)


class _Extreme(Function):
    """Shared forward/backward of Max and Min: ties share the gradient equally (as torch.amax)."""

    _reduce = staticmethod(np.max)

    @classmethod
    def _forward(cls, ctx: Function, x: np.ndarray, dim: tuple | None, keepdim: bool) -> np.ndarray:
        if x.size == 0 and (dim is None or any(x.shape[d] == 0 for d in dim)):
            # over a non-empty axis of an empty tensor the result is empty, as in PyTorch
            name = cls.__name__.lower()
            raise IndexError(f"{name}: cannot reduce over an empty dim of shape {x.shape}")
        y = cls._reduce(x, axis=dim, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.dim, ctx.keepdim = dim, keepdim
        return y if keepdim else np.squeeze(y, axis=dim)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g * (x == extreme) / (number of ties): tied extremes share g equally."""
        x, y = ctx.saved_tensors
        hits = x == y
        count = np.sum(hits, axis=ctx.dim, keepdims=True)
        return grad_out.reshape(y.shape) * hits / count.astype(x.dtype)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * (x == max) / ties, the tie pattern a constant."""
        x, y = ctx.saved_tensors
        hits = x == y
        share = hits / np.sum(hits, axis=ctx.dim, keepdims=True).astype(x.dtype)
        return grad_out.reshape(y.shape) * constant(share, grad_out)


class Max(_Extreme):
    """`x.max(dim, keepdim)`, values only (PyTorch's `amax`); its backward is `_Extreme`'s."""

    _reduce = staticmethod(np.max)

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dim: tuple | None, keepdim: bool) -> np.ndarray:
        """out = max(x, dim); saves x and the max (with the reduced axes kept).
        Shapes: x -> x with the dim axes removed (size 1 with keepdim)."""
        return Max._forward(ctx, x, dim, keepdim)


class Min(_Extreme):
    """`x.min(dim, keepdim)`, values only (PyTorch's `amin`); its backward is `_Extreme`'s."""

    _reduce = staticmethod(np.min)

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dim: tuple | None, keepdim: bool) -> np.ndarray:
        """out = min(x, dim); saves x and the min (with the reduced axes kept).
        Shapes: x -> x with the dim axes removed (size 1 with keepdim)."""
        return Min._forward(ctx, x, dim, keepdim)


class Var(Function):
    """`x.var(dim, correction)`: the squared deviations from the mean, summed, over n - correction
    (1 = unbiased, PyTorch's default; n - correction <= 0 gives nan, as PyTorch)."""

    @staticmethod
    def forward(
        ctx: Function, x: np.ndarray, *, dim: tuple | None, keepdim: bool, correction: int
    ) -> np.ndarray:
        """out = sum(c^2, dim) / (n - correction), c = x - mean(x, dim); saves c.
        Shapes: x -> x with the dim axes removed (size 1 with keepdim)."""
        n = x.size if dim is None else int(np.prod([x.shape[d] for d in dim]))
        with np.errstate(invalid="ignore"):  # the mean of an empty axis is nan, as in PyTorch
            mean = np.sum(x, axis=dim, keepdims=True) / np.asarray(n, dtype=x.dtype)
        centered = x - mean
        ctx.save_for_backward(centered)
        ctx.dim, ctx.keepdim = dim, keepdim
        # n - correction <= 0 gives nan, as PyTorch does (without numpy's divide warning).
        ctx.inv_denominator = 1.0 / (n - correction) if n > correction else float("nan")
        out = np.sum(centered * centered, axis=dim, keepdims=keepdim)
        return out * np.asarray(ctx.inv_denominator, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g * 2 c / (n - correction), c = x - mean(x, dim); the term through
        the mean vanishes, as c sums to 0."""
        (centered,) = ctx.saved_tensors
        g = _expand_back(grad_out, centered.ndim, ctx.dim, ctx.keepdim)
        return g * centered * np.asarray(2 * ctx.inv_denominator, dtype=centered.dtype)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * 2 c / (n - correction), c = x - mean(x) in Tensor ops. The saved centred
        values stand in for x: var is unchanged by a shift of x, so are its derivatives."""
        (centered,) = ctx.saved_tensors
        x = saved_input(ctx, 0, centered)
        c = x - x.mean(ctx.dim, keepdim=True)
        g = grad_out.reshape(_kept_shape(centered.shape, ctx.dim, ctx.keepdim))
        return g * c * (2 * ctx.inv_denominator)


def _kept_shape(shape: tuple, dim: tuple | None, keepdim: bool) -> tuple:
    """The reduced shape with the reduced axes kept as size 1."""
    axes = range(len(shape)) if dim is None else dim
    return tuple(1 if i in axes else s for i, s in enumerate(shape))
