"""F.scaled_dot_product_attention (a composition of MatMul, MaskedFill and Softmax): forward
vs numpy, gradients, and the mask conventions (bool True = may attend, float added, causal)."""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)

from .checks import Row, table_tests
from .nn_strategies import attention_case


def _sdpa_ref(q: np.ndarray, k: np.ndarray, v: np.ndarray, **kw: Any) -> np.ndarray:
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    allowed = np.ones(scores.shape, dtype=bool)
    if kw.get("is_causal"):
        allowed &= np.tril(np.ones(scores.shape[-2:], dtype=bool))  # top-left aligned
    mask = kw.get("attn_mask")
    if mask is not None and mask.dtype == np.bool_:
        allowed &= mask
    elif mask is not None:
        scores = scores + mask
    scores = np.where(allowed, scores, -np.inf)
    top = np.max(scores, axis=-1, keepdims=True)
    e = np.where(allowed, np.exp(scores - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    return (e / np.where(total == 0, 1.0, total)) @ v  # no allowed key: a zero row


def _sdpa(q: tg.Tensor, k: tg.Tensor, v: tg.Tensor, **kw: Any) -> tg.Tensor:
    return F.scaled_dot_product_attention(q, k, v, **kw)


TABLE = [
    Row("sdpa", _sdpa, _sdpa_ref, attention_case()),
    Row("sdpa_bool_mask", _sdpa, _sdpa_ref, attention_case("bool")),
    Row("sdpa_float_mask", _sdpa, _sdpa_ref, attention_case("float")),
    Row("sdpa_causal", _sdpa, _sdpa_ref, attention_case("causal")),
]


test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = table_tests(TABLE)


def _qkv(length: int, source: int, seed: int = 0) -> list[tg.Tensor]:
    rng = np.random.default_rng(seed)
    shapes = ((2, length, 4), (2, source, 4), (2, source, 3))
    return [tg.Tensor(rng.normal(size=s), requires_grad=True) for s in shapes]


def test_bool_mask_true_means_may_attend() -> None:
    q, k, v = _qkv(3, 3)
    only = np.array([[False, False, True], [True, False, False], [False, True, False]])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=only)
    np.testing.assert_allclose(out.data, v.data[:, [2, 0, 1]], rtol=1e-12)


def test_fully_masked_rows_give_zero_output_and_zero_gradients() -> None:
    for mask in (
        np.array([True, False])[:, None] & np.ones(4, bool),
        np.array([[0.0] * 4, [-np.inf] * 4]),
    ):
        q, k, v = _qkv(2, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        out.backward(np.ones(out.shape))
        np.testing.assert_array_equal(out.data[:, 1], np.zeros((2, 3)))
        np.testing.assert_array_equal(q.grad.data[:, 1], np.zeros((2, 4)))
        for t in (q, k, v):
            assert np.all(np.isfinite(t.grad.data))


def test_causal_with_fewer_queries_than_keys_is_top_left_aligned() -> None:
    q, k, v = _qkv(2, 4)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(out.data[:, 0], v.data[:, 0], rtol=1e-12)  # query 0 sees key 0
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(v.grad.data[:, 2:], np.zeros((2, 2, 3)))  # keys 2, 3 unseen
    assert np.all(v.grad.data[:, 1] != 0)


def test_float_mask_of_minus_inf_equals_the_bool_mask() -> None:
    q, k, v = _qkv(3, 4)
    allowed = np.random.default_rng(3).random((3, 4)) > 0.4
    allowed[:, 0] = True
    as_float = np.where(allowed, 0.0, -np.inf)
    by_bool = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed).data
    by_float = F.scaled_dot_product_attention(q, k, v, attn_mask=as_float).data
    np.testing.assert_allclose(by_float, by_bool, rtol=1e-12)
