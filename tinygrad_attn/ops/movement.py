"""Movement ops: they rearrange or select elements; backward puts each gradient back in place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


class Reshape(Function):
    """x.reshape(shape).  backward: dx = g.reshape(x.shape)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, shape: tuple) -> np.ndarray:
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(ctx.in_shape)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g.reshape(x.shape)."""
        return Reshape.apply(grad_out, shape=ctx.in_shape)


class Permute(Function):
    """x.transpose(dims).  backward: dx = g.transpose(inverse permutation of dims)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dims: tuple) -> np.ndarray:
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.transpose(np.argsort(ctx.dims))

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g permuted by the inverse permutation."""
        return Permute.apply(grad_out, dims=tuple(int(d) for d in np.argsort(ctx.dims)))


class Expand(Function):
    """broadcast_to(x, shape) (a read-only view).  backward: dx = sum of g over the new axes,
    which is the engine's unbroadcast, so backward passes g through."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, shape: tuple) -> np.ndarray:
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return grad_out

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g (the engine sums it back over the expanded axes, with a Sum node)."""
        return grad_out


class Squeeze(Function):
    """Drop size-1 axes `dims`.  backward: dx = g.reshape(x.shape)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dims: tuple) -> np.ndarray:
        ctx.in_shape = x.shape
        return np.squeeze(x, axis=dims)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(ctx.in_shape)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g.reshape(x.shape)."""
        return Reshape.apply(grad_out, shape=ctx.in_shape)


class Unsqueeze(Function):
    """Insert a size-1 axis at `dim`.  backward: dx = g with that axis removed."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dim: int) -> np.ndarray:
        ctx.dim = dim
        return np.expand_dims(x, dim)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return np.squeeze(grad_out, axis=ctx.dim)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g with the inserted axis squeezed."""
        return Squeeze.apply(grad_out, dims=(ctx.dim,))


class GetItem(Function):
    """x[index] with ints, slices, None, ... and int/bool index arrays.

    backward: dx = zeros with g scattered to the indexed places; repeated indices accumulate
    (np.add.at), plain slicing assigns (no index can repeat there).
    """

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, index: tuple) -> np.ndarray:
        ctx.index, ctx.in_shape = index, x.shape
        ctx.advanced = any(isinstance(i, np.ndarray) for i in index)
        return x[index]

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        grad_x = np.zeros(ctx.in_shape, dtype=grad_out.dtype)
        if ctx.advanced:
            np.add.at(grad_x, ctx.index, grad_out)
        else:
            grad_x[ctx.index] = grad_out
        return grad_x

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = IndexAdd(g): the scatter-add as a differentiable op."""
        return IndexAdd.apply(grad_out, index=ctx.index, shape=ctx.in_shape)


class Cat(Function):
    """concatenate(xs, dim).  backward: each dx_i is g's slice along dim."""

    @staticmethod
    def forward(ctx: Function, *xs: np.ndarray, dim: int) -> np.ndarray:
        ctx.dim = dim
        ctx.splits = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        return tuple(np.split(grad_out, ctx.splits, axis=ctx.dim))

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """dx_i = g[..., start_i:end_i, ...] along dim (GetItem nodes)."""
        bounds = [0, *(int(s) for s in ctx.splits), grad_out.shape[ctx.dim]]
        lead = (slice(None),) * ctx.dim
        return tuple(
            GetItem.apply(grad_out, index=(*lead, slice(a, b))) for a, b in zip(bounds, bounds[1:])
        )


class Stack(Function):
    """stack(xs, dim) along a new axis.  backward: dx_i = g indexed at i along dim."""

    @staticmethod
    def forward(ctx: Function, *xs: np.ndarray, dim: int) -> np.ndarray:
        ctx.dim = dim
        return np.stack(xs, axis=dim)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        return tuple(np.moveaxis(grad_out, ctx.dim, 0))  # views, one per stacked input

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """dx_i = g[..., i, ...] along dim (GetItem nodes)."""
        lead = (slice(None),) * ctx.dim
        count = grad_out.shape[ctx.dim]
        return tuple(GetItem.apply(grad_out, index=(*lead, i)) for i in range(count))


class IndexAdd(Function):
    """zeros(shape) with x added at `index` (repeated indices accumulate): GetItem's adjoint,
    the op its backward_graph records.  Shapes: x = zeros(shape)[index].shape -> shape.

    backward: dx = g[index].
    """

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, index: tuple, shape: tuple) -> np.ndarray:
        ctx.index = index
        out = np.zeros(shape, dtype=x.dtype)
        if any(isinstance(i, np.ndarray) for i in index):
            np.add.at(out, index, x)
        else:
            out[index] = x
        return out

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return grad_out[ctx.index]

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g[index] (a GetItem node)."""
        return GetItem.apply(grad_out, index=ctx.index)
