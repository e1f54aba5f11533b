"""Hypothesis strategies of op calls (`Case`: the tensors plus keyword params), for the op tables.

Built on `tinygrad_attn.testing`. Gradient checks cost two forward passes per input element, so
shapes stay small: rank 0-4 with sides <= 3 (at most 81 elements), rank <= 2 with sides <= 5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from tinygrad_attn import Tensor
from tinygrad_attn.testing import broadcastable_pair, matmul_shapes, shapes, tensors

SMALL = shapes(max_dims=4, max_side=3)  # every rank 0-4, size-1 axes included


@dataclass(frozen=True)
class Case:
    """One op call: `fn(*tensors, **params)`; the numpy reference gets copies of the arrays."""

    tensors: tuple[Tensor, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def arrays(self) -> list[np.ndarray]:
        return [np.array(t.data) for t in self.tensors]


def _case(tensors_: Any, **params: Any) -> Case:
    return Case(tuple(tensors_), params)


def unary(shape: Any = SMALL, **values: Any) -> SearchStrategy[Case]:
    """One tensor of `shape` (a tuple or a strategy) with values from `arrays(**values)`."""
    return tensors(shape, **values).map(lambda t: _case([t]))


@st.composite
def binary(draw: Any, a: dict | None = None, b: dict | None = None, **pair: Any) -> Case:
    """Two tensors of broadcast-compatible shapes; `a`/`b` are each operand's value kwargs."""
    shape_a, shape_b = draw(broadcastable_pair(max_side=3, **pair))
    return _case([draw(tensors(shape_a, **(a or {}))), draw(tensors(shape_b, **(b or {})))])


@st.composite
def with_param(draw: Any, case: SearchStrategy[Case], **params: SearchStrategy) -> Case:
    """`case` with extra params drawn independently of it."""
    drawn = draw(case)
    return Case(drawn.tensors, {**drawn.params, **{k: draw(s) for k, s in params.items()}})


@st.composite
def dims(draw: Any, ndim: int) -> Any:
    """A `dim` argument for a rank-`ndim` tensor: None, an int or a tuple, negatives included."""
    size = max(ndim, 1)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-size, size - 1))
    axes = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=size, unique=True))
    return tuple(a - size if draw(st.booleans()) else a for a in axes)


def reduced_count(shape: tuple, dim: Any) -> int:
    """How many elements each output of a reduction over `dim` combines."""
    if dim is None or not shape:
        return int(np.prod(shape))
    axes = dim if isinstance(dim, tuple) else (dim,)
    return int(np.prod([shape[a] for a in axes]))


@st.composite
def reduction(draw: Any, **values: Any) -> Case:
    """x with a drawn `dim` and `keepdim`."""
    x = draw(tensors(SMALL, **values))
    return _case([x], dim=draw(dims(x.ndim)), keepdim=draw(st.booleans()))


@st.composite
def variance(draw: Any) -> Case:
    """x, dim, keepdim and `unbiased` (only when each output combines >= 2 elements)."""
    case = draw(reduction())
    count = reduced_count(case.tensors[0].shape, case.params["dim"])
    unbiased = draw(st.booleans()) and count > 1
    return Case(case.tensors, {**case.params, "unbiased": unbiased})


@st.composite
def one_dim(draw: Any, shape: Any = SMALL, extra: int = 0, **values: Any) -> Case:
    """x with one `dim` param in range for rank + `extra` (extra=1 for unsqueeze/stack)."""
    x = draw(tensors(shape, **values))
    size = max(x.ndim + extra, 1)
    return _case([x], dim=draw(st.integers(-size, size - 1)))


@st.composite
def three_way(draw: Any) -> Case:
    """where(cond, a, b): a boolean cond and two tensors, all three broadcasting together."""
    drawn = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=3))
    cond_shape, a_shape, b_shape = drawn.input_shapes
    cond = draw(hnp.arrays(np.bool_, cond_shape))
    return _case([draw(tensors(a_shape)), draw(tensors(b_shape))], cond=cond)


@st.composite
def sub_shape(draw: Any, shape: tuple) -> tuple:
    """A shape that broadcasts TO `shape`: some leading axes dropped, some axes set to 1."""
    kept = shape[draw(st.integers(0, len(shape))) :]
    return tuple(1 if draw(st.booleans()) else s for s in kept)


@st.composite
def masked(draw: Any) -> Case:
    """x and a boolean mask that broadcasts to x's shape, plus a fill value."""
    x = draw(tensors(SMALL))
    mask = draw(hnp.arrays(np.bool_, draw(sub_shape(x.shape))))
    return _case([x], mask=mask, value=draw(st.sampled_from([0.0, -1.5, 2.0])))


@st.composite
def clip_bounds(draw: Any) -> Case:
    """x kept away from the bounds, with min and/or max given."""
    low, high = draw(st.sampled_from([(-1.0, 1.0), (-1.0, None), (None, 0.5)]))
    points = [b for b in (low, high) if b is not None]
    return _case([draw(tensors(SMALL, away_from=points))], min=low, max=high)


def matmul_pair(max_batch_dims: int = 2) -> SearchStrategy[Case]:
    """a, b for a @ b: 1-D, 2-D and batched with broadcast batch dims."""
    return matmul_shapes(max_batch_dims=max_batch_dims).flatmap(
        lambda pair: st.tuples(tensors(pair[0]), tensors(pair[1])).map(_case)
    )


@st.composite
def reshape_target(draw: Any) -> Case:
    """x and a target shape holding the same sizes reordered, with 1s and maybe one -1."""
    x = draw(tensors(SMALL))
    sizes = list(draw(st.permutations(x.shape))) + [1] * draw(st.integers(0, 2))
    sizes = draw(st.permutations(sizes))
    if sizes and draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return _case([x], shape=tuple(sizes))


@st.composite
def permutation(draw: Any) -> Case:
    """x and a permutation of its axes (entries may be negative)."""
    x = draw(tensors(SMALL))
    order = draw(st.permutations(range(x.ndim)))
    return _case([x], dims=tuple(d - x.ndim if draw(st.booleans()) else d for d in order))


@st.composite
def two_dims(draw: Any) -> Case:
    """x (rank >= 1) and dim0, dim1 (equal or not, negatives included) for transpose."""
    x = draw(tensors(shapes(min_dims=1, max_dims=4, max_side=3)))
    axis = st.integers(-x.ndim, x.ndim - 1)
    return _case([x], dim0=draw(axis), dim1=draw(axis))


@st.composite
def expand_target(draw: Any) -> Case:
    """x and a shape it expands to: new leading axes, size-1 axes grown, -1 kept axes."""
    result = draw(st.tuples(*[st.integers(1, 3)] * draw(st.integers(0, 2))))
    x = draw(tensors(draw(sub_shape(draw(shapes(max_dims=3, max_side=3))))))
    grown = tuple(draw(st.integers(1, 3)) if s == 1 else s for s in x.shape)
    kept = tuple(-1 if draw(st.booleans()) else s for s in grown)
    return _case([x], shape=result + kept)


@st.composite
def squeezable(draw: Any) -> Case:
    """x with some size-1 axes, and dim None or an int (which may name a size > 1 axis)."""
    shape = draw(st.lists(st.sampled_from([1, 1, 2, 3]), max_size=4))
    x = draw(tensors(tuple(shape)))
    size = max(x.ndim, 1)
    return _case([x], dim=draw(st.none() | st.integers(-size, size - 1)))


@st.composite
def flatten_range(draw: Any) -> Case:
    """x and start_dim <= end_dim (either may be negative)."""
    x = draw(tensors(shapes(min_dims=1, max_dims=4, max_side=3)))
    start = draw(st.integers(0, x.ndim - 1))
    end = draw(st.integers(start, x.ndim - 1))
    return _case(
        [x],
        start_dim=start - x.ndim if draw(st.booleans()) else start,
        end_dim=end - x.ndim if draw(st.booleans()) else end,
    )


@st.composite
def _nonempty_slice(draw: Any, size: int) -> slice:
    """A slice selecting at least one of `size` items; steps 1, 2 or -1; ints may be negative."""
    step = draw(st.sampled_from([None, 2, -1]))
    start = draw(st.integers(0, size - 1))
    if step == -1:
        stop = draw(st.none() | st.integers(0, start - 1)) if start > 0 else None
    else:
        stop = draw(st.none() | st.integers(start + 1, size))

    def maybe_negative(i: int | None) -> int | None:
        return i - size if i is not None and i < size and draw(st.booleans()) else i

    return slice(maybe_negative(start), maybe_negative(stop), step)


@st.composite
def basic_index(draw: Any) -> Case:
    """x and an index of ints (negative too), slices (with steps), None and Ellipsis."""
    x = draw(tensors(shapes(min_dims=1, max_dims=4, max_side=3)))
    count = draw(st.integers(1, x.ndim))
    ellipsis = draw(st.sampled_from(["none", "front", "back"]))  # front: index trailing axes
    parts: list[Any] = []
    for size in x.shape[x.ndim - count :] if ellipsis == "front" else x.shape[:count]:
        kind = draw(st.sampled_from(["int", "slice", "none"]))
        if kind == "int":
            parts.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            parts.append(draw(_nonempty_slice(size)))
        else:
            parts.extend([None, slice(None)])
    if ellipsis == "front":
        parts.insert(0, Ellipsis)
    elif ellipsis == "back":
        parts.append(Ellipsis)
    return _case([x], index=tuple(parts))


@st.composite
def array_index(draw: Any) -> Case:
    """x and an integer index array (repeats and negatives) on one axis, maybe after a slice."""
    x = draw(tensors(shapes(min_dims=1, max_dims=3, max_side=3)))
    axis = draw(st.integers(0, x.ndim - 1))
    size = x.shape[axis]
    idx = draw(hnp.arrays(np.int64, draw(shapes(min_dims=1, max_dims=2, max_side=4)),
                          elements=st.integers(-size, size - 1)))  # fmt: skip
    as_tensor = draw(st.booleans())
    index = (slice(None),) * axis + (Tensor(idx) if as_tensor else idx,)
    return _case([x], index=index)


@st.composite
def bool_index(draw: Any) -> Case:
    """x and a boolean mask over its leading axes (a Tensor or an array)."""
    x = draw(tensors(shapes(min_dims=1, max_dims=3, max_side=3)))
    mask = draw(hnp.arrays(np.bool_, x.shape[: draw(st.integers(1, x.ndim))]))
    mask.flat[draw(st.integers(0, mask.size - 1))] = True  # select something: no empty result
    return _case([x], index=Tensor(mask) if draw(st.booleans()) else mask)


@st.composite
def joinable(draw: Any, new_axis: bool) -> Case:
    """1-3 tensors for cat (equal except along dim) or stack (equal shapes), and dim."""
    base = list(draw(shapes(min_dims=1, max_dims=3, max_side=3)))
    size = len(base) + (1 if new_axis else 0)
    dim = draw(st.integers(-size, size - 1))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        shape = list(base)
        if not new_axis:
            shape[dim] = draw(st.integers(1, 3))
        parts.append(draw(tensors(tuple(shape))))
    return _case(parts, dim=dim)


@st.composite
def along_dim(draw: Any, min_dims: int = 0, **values: Any) -> Case:
    """x (rank min_dims-4) and a `dim` to normalise over (softmax, log_softmax)."""
    return draw(one_dim(shape=shapes(min_dims=min_dims, max_dims=4, max_side=3), **values))


def ints(shape: tuple, high: int) -> SearchStrategy[np.ndarray]:
    """int64 arrays of `shape` with values in [0, high)."""
    return hnp.arrays(np.int64, shape, elements=st.integers(0, high - 1))


@st.composite
def layer_norm_case(draw: Any, min_side: int = 1) -> Case:
    """x (rank 1-4), normalized_shape = its last 1-2 dims, and no affine, weight, or both."""
    x = draw(tensors(shapes(min_dims=1, max_dims=4, min_side=min_side, max_side=3), distinct=True))
    shape = x.shape[x.ndim - draw(st.integers(1, min(2, x.ndim))) :]
    affine = [draw(tensors(shape, low=0.5, high=2.0)) for _ in range(draw(st.integers(0, 2)))]
    return _case([x, *affine], normalized_shape=shape)


@st.composite
def batch_norm_case(draw: Any) -> Case:
    """x (N, C) or (N, C, L) with N * L >= 2, train or eval, running stats, maybe affine."""
    c = draw(st.integers(1, 3))
    shape = draw(st.sampled_from([(2, c), (3, c), (4, c), (1, c, 2), (2, c, 3)]))
    x = draw(tensors(shape, distinct=True))
    affine = [draw(tensors((c,), low=0.5, high=2.0)) for _ in range(draw(st.integers(0, 2)))]
    training = draw(st.booleans())
    stats = (
        draw(hnp.arrays(np.float64, (c,), elements=st.floats(-1, 1))),
        draw(hnp.arrays(np.float64, (c,), elements=st.floats(0.5, 2))),
    )
    if training and draw(st.booleans()):
        stats = (None, None)  # training without running stats is allowed, as in PyTorch
    return _case([x, *affine], running_mean=stats[0], running_var=stats[1], training=training)
