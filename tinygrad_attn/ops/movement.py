"""Movement ops: they rearrange or select elements; backward puts each gradient back in place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


class Reshape(Function):
    """`x.reshape(shape)` (also `view` and `flatten`)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, shape: tuple) -> np.ndarray:
        """out = x.reshape(shape), a view where numpy can; keeps x's shape.
        Shapes: x -> shape, the same number of elements."""
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g.reshape(x.shape)."""
        return grad_out.reshape(ctx.in_shape)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g.reshape(x.shape)."""
        return Reshape.apply(grad_out, shape=ctx.in_shape)


class Permute(Function):
    """`x.permute(dims)` (also `transpose` and `.T`): output axis i is axis dims[i] of x."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dims: tuple) -> np.ndarray:
        """out = x.transpose(dims), a view; keeps dims.  Shapes: x -> (x.shape[d] for d in dims)."""
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g.transpose(argsort(dims)), the inverse permutation."""
        return grad_out.transpose(np.argsort(ctx.dims))

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g permuted by the inverse permutation."""
        return Permute.apply(grad_out, dims=tuple(int(d) for d in np.argsort(ctx.dims)))


class Expand(Function):
    """`x.expand(shape)`: size-1 and missing leading axes repeated, as a read-only view."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, shape: tuple) -> np.ndarray:
        """out = broadcast_to(x, shape), no copy.  Shapes: x (broadcastable to shape) -> shape."""
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g summed over the expanded axes. That sum is the engine's
        un-broadcast, which it does for every input, so g passes through as it is."""
        return grad_out

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g (the engine sums it back over the expanded axes, with a Sum node)."""
        return grad_out


class Squeeze(Function):
    """`x.squeeze(dims)`: size-1 axes dropped."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dims: tuple) -> np.ndarray:
        """out = np.squeeze(x, dims); keeps x's shape.
        Shapes: x -> x without its size-1 axes dims."""
        ctx.in_shape = x.shape
        return np.squeeze(x, axis=dims)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g.reshape(x.shape), the dropped axes back as size 1."""
        return grad_out.reshape(ctx.in_shape)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g.reshape(x.shape)."""
        return Reshape.apply(grad_out, shape=ctx.in_shape)


class Unsqueeze(Function):
    """`x.unsqueeze(dim)`: a size-1 axis inserted."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, dim: int) -> np.ndarray:
        """out = np.expand_dims(x, dim); keeps dim.  Shapes: x -> x with a size-1 axis at dim."""
        ctx.dim = dim
        return np.expand_dims(x, dim)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g with that axis squeezed out."""
        return np.squeeze(grad_out, axis=ctx.dim)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g with the inserted axis squeezed."""
        return Squeeze.apply(grad_out, dims=(ctx.dim,))


class GetItem(Function):
    """`x[index]` with ints, slices, None, ... and int/bool index arrays."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, index: tuple) -> np.ndarray:
        """out = x[index]; keeps the index and x's shape.  Shapes: x -> numpy's result for index."""
        ctx.index, ctx.in_shape = index, x.shape
        ctx.advanced = any(isinstance(i, np.ndarray) for i in index)
        return x[index]

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = zeros(x.shape) with g scattered to the indexed places; repeated indices
        accumulate (np.add.at), plain slicing assigns (no index can repeat there)."""
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
    """`cat(xs, dim)`: the inputs joined along an existing axis."""

    @staticmethod
    def forward(ctx: Function, *xs: np.ndarray, dim: int) -> np.ndarray:
        """out = np.concatenate(xs, dim); keeps where each input ends along dim.
        Shapes: x_i equal but along dim -> dim as long as theirs together."""
        ctx.dim = dim
        ctx.splits = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: dx_i = the slice of g along dim where x_i was put."""
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
    """`stack(xs, dim)`: equal-shaped inputs along a new axis."""

    @staticmethod
    def forward(ctx: Function, *xs: np.ndarray, dim: int) -> np.ndarray:
        """out = np.stack(xs, dim); keeps dim.
        Shapes: n inputs of shape S -> S with an axis of size n inserted at dim."""
        ctx.dim = dim
        return np.stack(xs, axis=dim)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: dx_i = g indexed at i along dim (a view per input)."""
        return tuple(np.moveaxis(grad_out, ctx.dim, 0))  # views, one per stacked input

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """dx_i = g[..., i, ...] along dim (GetItem nodes)."""
        lead = (slice(None),) * ctx.dim
        count = grad_out.shape[ctx.dim]
        return tuple(GetItem.apply(grad_out, index=(*lead, i)) for i in range(count))


class IndexAdd(Function):
    """zeros(shape) with x added at `index` (repeated indices accumulate): GetItem's adjoint,
    the op its backward_graph records."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, index: tuple, shape: tuple) -> np.ndarray:
        """out = zeros(shape), then out[index] += x (np.add.at for index arrays); keeps the index.
        Shapes: x, of zeros(shape)[index]'s shape -> shape."""
        ctx.index = index
        out = np.zeros(shape, dtype=x.dtype)
        if any(isinstance(i, np.ndarray) for i in index):
            np.add.at(out, index, x)
        else:
            out[index] = x
        return out

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g[index]."""
        return grad_out[ctx.index]

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g[index] (a GetItem node)."""
        return GetItem.apply(grad_out, index=ctx.index)
