"""Softmax and LogSoftmax (tinygrad_attn/ops/softmax.py): forward, gradient, and the numerical
properties: rows sum to 1, shift invariance, finite at +-1e4, fully masked rows."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.ops.softmax import Softmax

from . import strategies as cases
from .checks import Row, assert_close, table_tests

LARGE = dict(low=-1e4, high=1e4)


def _softmax_ref(x: np.ndarray, dim: int) -> np.ndarray:
    axis = None if x.ndim == 0 else dim
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_ref(x: np.ndarray, dim: int) -> np.ndarray:
    axis = None if x.ndim == 0 else dim
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


TABLE = [
    Row("softmax", lambda x, dim: x.softmax(dim), _softmax_ref, cases.along_dim()),
    Row("F.softmax", F.softmax, _softmax_ref, cases.along_dim(min_dims=1)),
    Row("log_softmax", lambda x, dim: x.log_softmax(dim), _log_softmax_ref, cases.along_dim()),
    Row("F.log_softmax", F.log_softmax, _log_softmax_ref, cases.along_dim(min_dims=1)),
]


test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = table_tests(TABLE)


@given(case=cases.along_dim(min_dims=1), shift=st.sampled_from([-50.0, 3.0, 1e3]))
def test_softmax_rows_sum_to_one_and_ignore_a_constant_shift(case: cases.Case, shift: float):
    (x,), dim = case.tensors, case.params["dim"]
    y = F.softmax(x, dim)
    sums = y.data.sum(axis=dim)
    assert_close(sums, np.ones(sums.shape), "softmax row sums", tol=1e-12)
    assert_close(F.softmax(x + shift, dim).data, y.data, "softmax(x + c) vs softmax(x)", 1e-9)


@given(case=cases.along_dim(min_dims=1, **LARGE))
def test_softmax_and_log_softmax_are_finite_with_finite_gradients_at_1e4(case: cases.Case):
    (x,), dim = case.tensors, case.params["dim"]
    upstream = np.random.default_rng(0).normal(size=x.shape)
    for fn in (F.softmax, F.log_softmax):
        x.grad = None
        y = fn(x, dim)
        y.backward(upstream)
        assert np.all(np.isfinite(y.data)), f"{fn.__name__} not finite for values ~1e4"
        assert np.all(np.isfinite(x.grad.data)), f"{fn.__name__} gradient not finite"
    assert_close(np.exp(F.log_softmax(x, dim).data), F.softmax(x, dim).data, "exp(log_softmax)")


def test_fully_masked_softmax_row_gives_zero_weights_and_zero_gradient() -> None:
    scores = np.array([[0.5, -1.0, 2.0], [-np.inf, -np.inf, -np.inf]])
    x = tg.Tensor(scores, requires_grad=True)
    y = F.softmax(x, -1)
    y.backward(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    np.testing.assert_array_equal(y.data[1], np.zeros(3))
    np.testing.assert_allclose(y.data[0].sum(), 1.0)
    np.testing.assert_array_equal(x.grad.data[1], np.zeros(3))
    assert np.all(np.isfinite(x.grad.data))


def test_softmax_is_one_node_whose_input_is_x() -> None:
    x = tg.Tensor(np.zeros((2, 3)), requires_grad=True)
    node = F.softmax(x, -1).grad_fn
    assert isinstance(node, Softmax) and type(node).__name__ == "Softmax"
    assert len(node.inputs) == 1 and node.inputs[0] is x


def test_large_batches_match_numpy_including_masked_rows_and_1e4_values() -> None:
    # 64 x 80 scores: big enough for ops/rowwise.py's transposed row-max path
    x = np.random.default_rng(0).normal(size=(2, 32, 80)) * 3
    x[0, 3] = -np.inf
    x[1, 5, ::2] = -np.inf
    x[1, 7] *= 1e4
    got = F.softmax(tg.Tensor(x), -1).data
    np.testing.assert_array_equal(got[0, 3], np.zeros(80))
    rows = np.ones(x.shape[:2], dtype=bool)
    rows[0, 3] = False
    assert_close(got[rows], _softmax_ref(x[rows], -1), "large softmax", tol=1e-12)
    assert_close(
        F.log_softmax(tg.Tensor(x[rows]), -1).data,
        _log_softmax_ref(x[rows], -1),
        "large log_softmax",
        tol=1e-12,
    )
