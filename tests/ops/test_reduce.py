"""Reductions (tinygrad_attn/ops/reduce.py): forward vs numpy, gradient vs gradcheck, ties."""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_attn as tg

from . import strategies as cases
from .checks import Row, table_tests

DISTINCT = dict(distinct=True)  # max/min: no near-ties, so finite differences see one winner


def _axis(x: np.ndarray, dim: Any) -> Any:
    """numpy's axis for our dim: a 0-d tensor accepts dim 0 / -1 (as PyTorch), numpy doesn't."""
    return None if x.ndim == 0 else dim


TABLE = [
    Row(
        "sum",
        lambda x, dim, keepdim: x.sum(dim, keepdim),
        lambda x, dim, keepdim: np.sum(x, axis=_axis(x, dim), keepdims=keepdim),
        cases.reduction(),
    ),
    Row(
        "mean",
        lambda x, dim, keepdim: x.mean(dim, keepdim=keepdim),
        lambda x, dim, keepdim: np.mean(x, axis=_axis(x, dim), keepdims=keepdim),
        cases.reduction(),
    ),
    Row(
        "max",
        lambda x, dim, keepdim: x.max(dim, keepdim),
        lambda x, dim, keepdim: np.max(x, axis=_axis(x, dim), keepdims=keepdim),
        cases.reduction(**DISTINCT),
    ),
    Row(
        "min",
        lambda x, dim, keepdim: x.min(dim, keepdim),
        lambda x, dim, keepdim: np.min(x, axis=_axis(x, dim), keepdims=keepdim),
        cases.reduction(**DISTINCT),
    ),
    Row(
        "var",
        lambda x, dim, keepdim, unbiased: x.var(dim, keepdim, unbiased=unbiased),
        lambda x, dim, keepdim, unbiased: np.var(
            x, axis=_axis(x, dim), keepdims=keepdim, ddof=int(unbiased)
        ),
        cases.variance(),
    ),
]


test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = table_tests(TABLE)


def test_max_ties_share_the_gradient_equally() -> None:
    x = tg.Tensor(np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 0.0]]), requires_grad=True)
    x.max(1).backward(np.array([1.0, 3.0]))
    np.testing.assert_allclose(x.grad.data, [[0, 0.5, 0.5, 0], [1, 1, 1, 0]])


def test_min_ties_share_the_gradient_equally_over_all_elements() -> None:
    x = tg.Tensor(np.array([[0.0, 4.0], [0.0, 0.0]]), requires_grad=True)
    x.min().backward()
    np.testing.assert_allclose(x.grad.data, [[1 / 3, 0], [1 / 3, 1 / 3]])


def test_var_defaults_to_unbiased_and_unbiased_false_divides_by_n() -> None:
    x = tg.Tensor(np.array([1.0, 2.0, 4.0, 7.0]))
    assert np.isclose(x.var().item(), np.var(x.data, ddof=1))
    assert np.isclose(x.var(unbiased=False).item(), np.var(x.data))


def test_unbiased_var_of_one_element_is_nan_as_pytorch() -> None:
    assert np.isnan(tg.Tensor(np.array([2.0])).var().item())


def test_argmax_and_argmin_give_int_indices_without_grad() -> None:
    x = tg.Tensor(np.array([[1.0, 9.0, 3.0], [7.0, 0.0, 2.0]]), requires_grad=True)
    for got, want in ((x.argmax(1), [1, 0]), (x.argmin(-1, keepdim=True), [[0], [1]])):
        np.testing.assert_array_equal(got.data, want)
        assert got.dtype == np.int64 and not got.requires_grad


def test_mean_of_float32_stays_float32() -> None:
    assert tg.Tensor([[1.0, 2.0]]).mean(0).dtype == np.float32
