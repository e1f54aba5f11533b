"""Movement ops: they rearrange or select elements; backward puts each gradient back in place."""

from __future__ import annotations

import numpy as np

from tinygrad_attn.autograd import Function


class Reshape(Function):
    """x.reshape(shape).  backward: dx = g.reshape(x.shape)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, shape: tuple) -> np.ndarray:
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(ctx.in_shape)


class Permute(Function):
    """x.transpose(dims).  backward: dx = g.transpose(inverse permutation of dims)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dims: tuple) -> np.ndarray:
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.transpose(np.argsort(ctx.dims))


class Expand(Function):
    """broadcast_to(x, shape) (a read-only view).  backward: dx = sum of g over the new axes,
    which is the engine's unbroadcast, so backward passes g through."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, shape: tuple) -> np.ndarray:
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
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


class Unsqueeze(Function):
    """Insert a size-1 axis at `dim`.  backward: dx = g with that axis removed."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dim: int) -> np.ndarray:
        ctx.dim = dim
        return np.expand_dims(x, dim)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return np.squeeze(grad_out, axis=ctx.dim)


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


class Stack(Function):
    """stack(xs, dim) along a new axis.  backward: dx_i = g indexed at i along dim."""

    @staticmethod
    def forward(ctx: Function, *xs: np.ndarray, dim: int) -> np.ndarray:
        ctx.dim = dim
        return np.stack(xs, axis=dim)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        return tuple(np.moveaxis(grad_out, ctx.dim, 0))  # views, one per stacked input
