"""Movement ops (tinygrad_attn/ops/movement.py): forward vs numpy, gradient vs gradcheck,
and indexing's scatter-add backward."""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_attn as tg
from tinygrad_attn import _checks
from tinygrad_attn.ops.movement import IndexAdd

from . import strategies as cases
from .checks import Row, table_tests


def _np_index(index: Any) -> Any:
    """The index numpy sees: Tensors inside it replaced by their arrays."""
    if isinstance(index, tuple):
        return tuple(_np_index(i) for i in index)
    return index.data if isinstance(index, tg.Tensor) else index


def _index_add(x: tg.Tensor, index: Any) -> tg.Tensor:
    """x[index] scattered back into zeros of x's shape (IndexAdd, GetItem's adjoint)."""
    return IndexAdd.apply(x[index], index=_checks.index(index, tg.Tensor), shape=x.shape)


def _index_add_ref(x: np.ndarray, index: Any) -> np.ndarray:
    out = np.zeros_like(x)
    np.add.at(out, _np_index(index), x[_np_index(index)])
    return out


def _expand_ref(x: np.ndarray, shape: tuple) -> np.ndarray:
    offset = len(shape) - x.ndim
    full = tuple(x.shape[i - offset] if s == -1 else s for i, s in enumerate(shape))
    return np.broadcast_to(x, full)


def _squeeze_ref(x: np.ndarray, dim: int | None) -> np.ndarray:
    if dim is None:
        return np.squeeze(x)
    return np.squeeze(x, dim) if x.ndim and x.shape[dim] == 1 else x


def _flatten_ref(x: np.ndarray, start_dim: int, end_dim: int) -> np.ndarray:
    start, end = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1 :])


TABLE = [
    Row(
        "reshape",
        lambda x, shape: x.reshape(shape),
        lambda x, shape: x.reshape(shape),
        cases.reshape_target(),
    ),
    Row(
        "view_separate_ints",
        lambda x, shape: x.view(*shape),
        lambda x, shape: x.reshape(shape),
        cases.reshape_target(),
    ),
    Row(
        "permute",
        lambda x, dims: x.permute(*dims),
        lambda x, dims: np.transpose(x, dims),
        cases.permutation(),
    ),
    Row(
        "transpose",
        lambda x, dim0, dim1: x.transpose(dim0, dim1),
        lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1),
        cases.two_dims(),
    ),
    Row("T", lambda x: x.T, lambda x: x.T, cases.unary()),
    Row("expand", lambda x, shape: x.expand(*shape), _expand_ref, cases.expand_target()),
    Row("squeeze", lambda x, dim: x.squeeze(dim), _squeeze_ref, cases.squeezable()),
    Row(
        "unsqueeze",
        lambda x, dim: x.unsqueeze(dim),
        lambda x, dim: np.expand_dims(x, dim),
        cases.one_dim(extra=1),
    ),
    Row(
        "flatten",
        lambda x, start_dim, end_dim: x.flatten(start_dim, end_dim),
        _flatten_ref,
        cases.flatten_range(),
    ),
    Row(
        "getitem_basic",
        lambda x, index: x[index],
        lambda x, index: x[index],
        cases.basic_index(),
    ),
    Row(
        "getitem_int_array",
        lambda x, index: x[index],
        lambda x, index: x[_np_index(index)],
        cases.array_index(),
    ),
    Row("index_add", _index_add, _index_add_ref, cases.array_index()),
    Row(
        "getitem_bool_mask",
        lambda x, index: x[index],
        lambda x, index: x[_np_index(index)],
        cases.bool_index(),
    ),
    Row(
        "cat",
        lambda *xs, dim: tg.cat(xs, dim),
        lambda *xs, dim: np.concatenate(xs, axis=dim),
        cases.joinable(new_axis=False),
    ),
    Row(
        "stack",
        lambda *xs, dim: tg.stack(xs, dim),
        lambda *xs, dim: np.stack(xs, axis=dim),
        cases.joinable(new_axis=True),
    ),
]


test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = table_tests(TABLE)


def _index_grad(x: np.ndarray, index: Any, upstream: Any = None) -> np.ndarray:
    t = tg.Tensor(x, requires_grad=True)
    y = t[index]
    y.backward(np.ones(y.shape) if upstream is None else upstream)
    return t.grad.data


def test_getitem_with_repeated_indices_accumulates_the_gradient() -> None:
    grad = _index_grad(np.zeros(4), np.array([0, 2, 0, 0]), np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(grad, [8.0, 0.0, 2.0, 0.0])


def test_getitem_with_int_tensor_and_negative_indices_accumulates_per_row() -> None:
    grad = _index_grad(np.zeros((3, 2)), tg.Tensor([-1, 2, 0]))
    np.testing.assert_array_equal(grad, [[1, 1], [0, 0], [2, 2]])
    np.testing.assert_array_equal(_index_grad(np.zeros((3, 2)), (-1, -2)), [[0, 0]] * 2 + [[1, 0]])


def test_getitem_with_bool_mask_routes_gradient_to_selected_elements() -> None:
    x = np.array([[1.0, -2.0], [-3.0, 4.0]])
    mask = tg.Tensor(x > 0)
    grad = _index_grad(x, mask, np.array([10.0, 20.0]))
    np.testing.assert_array_equal(grad, [[10.0, 0.0], [0.0, 20.0]])


def test_getitem_rejects_float_indices() -> None:
    x = tg.Tensor(np.zeros(3))
    for bad in (1.0, np.array([0.0, 1.0]), tg.Tensor([0.5])):
        try:
            x[bad]
        except TypeError as err:
            assert "index" in str(err)
        else:
            raise AssertionError(f"x[{bad!r}] should raise TypeError")


def test_expand_minus_one_keeps_the_size_and_backward_sums_the_copies() -> None:
    x = tg.Tensor(np.array([[1.0], [2.0]]), requires_grad=True)
    y = x.expand(3, -1, 4)
    assert y.shape == (3, 2, 4)
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad.data, [[12.0], [12.0]])


def test_squeeze_of_a_non_unit_dim_is_a_no_op_as_pytorch() -> None:
    x = tg.Tensor(np.zeros((1, 3, 1)))
    assert x.squeeze().shape == (3,)
    assert x.squeeze(1).shape == (1, 3, 1)
    assert x.squeeze(-1).shape == (1, 3)


def test_flatten_merges_the_dim_range_inclusive() -> None:
    x = tg.Tensor(np.zeros((2, 3, 4, 5)))
    assert x.flatten().shape == (120,)
    assert x.flatten(1).shape == (2, 60)
    assert x.flatten(1, 2).shape == (2, 12, 5)
    assert x.flatten(-2, -1).shape == (2, 3, 20)
    assert tg.Tensor(np.array(3.0)).flatten().shape == (1,)
