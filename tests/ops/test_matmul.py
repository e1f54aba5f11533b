"""MatMul (tinygrad_attn/ops/matmul.py): 1-D, 2-D and batched with broadcast batch dims."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn.testing import matmul_shapes, tensors

from . import strategies as cases
from .checks import Row, assert_close, table_tests

TABLE = [
    Row("matmul_operator", lambda a, b: a @ b, np.matmul, cases.matmul_pair()),
    Row("matmul_function", tg.matmul, np.matmul, cases.matmul_pair()),
    Row(
        "rmatmul_ndarray_left",
        lambda b: np.full((2, 3), 0.5) @ b,
        lambda b: np.full((2, 3), 0.5) @ b,
        cases.unary(shape=(3, 4)),
    ),
]


test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = table_tests(TABLE)


@given(data=st.data(), pair=matmul_shapes(max_batch_dims=2))
def test_transpose_of_product_is_product_of_transposes_reversed(
    data: st.DataObject, pair: tuple
) -> None:
    a, b = (data.draw(tensors(s)) for s in pair)
    if a.ndim < 2 or b.ndim < 2:  # (a @ b)^T = b^T @ a^T needs matrices; promote 1-D ones
        a, b = (a.unsqueeze(0) if a.ndim == 1 else a), (b.unsqueeze(-1) if b.ndim == 1 else b)
    left = (a @ b).transpose(-2, -1)
    right = b.transpose(-2, -1) @ a.transpose(-2, -1)
    assert_close(left.data, right.data, f"(a @ b)^T vs b^T @ a^T for {a.shape} @ {b.shape}")


def test_one_d_times_one_d_is_a_scalar_dot_product_with_gradients() -> None:
    a = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = tg.Tensor(np.array([4.0, 5.0, 6.0]), requires_grad=True)
    y = a @ b
    assert y.shape == () and y.item() == 32.0
    y.backward()
    np.testing.assert_array_equal(a.grad.data, b.data)
    np.testing.assert_array_equal(b.grad.data, a.data)


def test_batched_matmul_broadcasts_batch_dims_and_sums_their_gradients() -> None:
    a = tg.Tensor(np.ones((2, 1, 3, 4)), requires_grad=True)
    b = tg.Tensor(np.ones((5, 4, 2)), requires_grad=True)
    y = a @ b
    assert y.shape == (2, 5, 3, 2)
    y.backward(np.ones(y.shape))
    # each a element meets 5 batches x 2 columns; each b element 2 batches x 3 rows
    np.testing.assert_array_equal(a.grad.data, np.full((2, 1, 3, 4), 10.0))
    np.testing.assert_array_equal(b.grad.data, np.full((5, 4, 2), 6.0))


def test_weight_against_batched_activations_gets_the_summed_gradient() -> None:
    rng = np.random.default_rng(0)
    x, w, g = rng.normal(size=(3, 4, 5)), rng.normal(size=(5, 2)), rng.normal(size=(3, 4, 2))
    tw = tg.Tensor(w, requires_grad=True)
    (tg.Tensor(x) @ tw).backward(g)
    np.testing.assert_allclose(tw.grad.data, np.einsum("bnk,bnm->km", x, g), rtol=1e-12)
