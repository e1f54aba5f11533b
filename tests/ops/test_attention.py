"""The fused attention ops (ops/attention_fast.py) and F.scaled_dot_product_attention: forward vs
numpy, gradients, the composed-ops oracle, blocked = unblocked, the mask conventions (bool True =
may attend, float added, causal), and what the engine's version counters still catch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.learn.attention_op import CausalAttention
from tinygrad_attn.ops import attention_fast as attn_ops
from tinygrad_attn.ops.nn import Dropout

from .checks import Row, assert_close, table_tests
from .nn_strategies import attention_case, exercise_attention_case, fused_attention_case


def _sdpa_ref(q: np.ndarray, k: np.ndarray, v: np.ndarray, **kw: Any) -> np.ndarray:
    """F.scaled_dot_product_attention's conventions on top of _fused_ref (bool True = may
    attend, float added, is_causal top-left aligned)."""
    mask = kw.get("attn_mask")
    if mask is not None and mask.dtype == np.bool_:
        mask = np.where(mask, 0.0, -np.inf)
    causal = 0 if kw.get("is_causal") else None
    return _fused_ref(q, k, v, num_heads=0, packed=False, mask=mask, causal_offset=causal)


def _sdpa(q: tg.Tensor, k: tg.Tensor, v: tg.Tensor, **kw: Any) -> tg.Tensor:
    return F.scaled_dot_product_attention(q, k, v, **kw)


def _unpack(items: tuple, count: int) -> tuple[list, Any]:
    """(the first `count` inputs padded with None to three, the bias or None)."""
    return list(items[:count]) + [None] * (3 - count), items[count] if len(items) > count else None


def _attention_op(*tensors: tg.Tensor, **params: Any) -> tg.Tensor:
    (q, k, v), bias = _unpack(tensors, 1 if params["packed"] else 3)
    return attn_ops.ScaledDotProductAttention.apply(q, k, v, bias, **params)


def _weights_op(*tensors: tg.Tensor, **params: Any) -> tg.Tensor:
    (q, k, _), bias = _unpack(tensors, 1 if params["packed"] else 2)
    return attn_ops.AttentionWeights.apply(q, k, bias, **params)


def _exercise_op(q: tg.Tensor, k: tg.Tensor, v: tg.Tensor, **params: Any) -> tg.Tensor:
    return CausalAttention.apply(q, k, v, **params)


def _exercise_ref(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return _fused_ref(q, k, v, num_heads=0, packed=False, mask=mask)


def _heads_np(x: np.ndarray, heads: int) -> np.ndarray:
    """(B, T, H*D) -> (B, H, T, D); plain (heads 0) as it is."""
    if heads == 0:
        return x
    b, t, width = x.shape
    return x.reshape(b, t, heads, width // heads).transpose(0, 2, 1, 3)


def _merge_np(x: np.ndarray, heads: int) -> np.ndarray:
    if heads == 0:
        return x
    b, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * d)


def _fused_ref(*arrays: np.ndarray, weights: bool = False, **params: Any) -> np.ndarray:
    """The fused ops in plain numpy, every layout and extra (the module docstring's math)."""
    heads, packed = params["num_heads"], params["packed"]
    count = 1 if packed else (2 if weights else 3)
    (q, k, v), bias = _unpack(arrays, count)
    if packed:
        q, k, v = np.split(q, 3, axis=-1)
    q, k = _heads_np(q, heads), _heads_np(k, heads)
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    for extra in (bias, params.get("mask")):
        if extra is not None:
            scores = scores + extra
    offset = params.get("causal_offset")
    if offset is not None:
        rows, cols = np.indices(scores.shape[-2:])
        scores = np.where(cols > rows + offset, -np.inf, scores)
    top = np.max(scores, axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(top), top, 0.0))
    total = e.sum(axis=-1, keepdims=True)
    probs = e / np.where(total == 0, 1.0, total)
    if weights:
        return probs
    if params.get("keep") is not None:
        probs = probs * params["keep"] / (1 - params["dropout_p"])
    return _merge_np(probs @ _heads_np(v, heads), heads)


TABLE = [
    Row("sdpa", _sdpa, _sdpa_ref, attention_case()),
    Row("sdpa_bool_mask", _sdpa, _sdpa_ref, attention_case("bool")),
    Row("sdpa_float_mask", _sdpa, _sdpa_ref, attention_case("float")),
    Row("sdpa_causal", _sdpa, _sdpa_ref, attention_case("causal")),
    Row("attention_plain", _attention_op, _fused_ref, fused_attention_case("plain")),
    Row("attention_heads", _attention_op, _fused_ref, fused_attention_case("heads")),
    Row("attention_packed", _attention_op, _fused_ref, fused_attention_case("packed")),
    Row(
        "attention_weights",
        _weights_op,
        lambda *a, **p: _fused_ref(*a, weights=True, **p),
        fused_attention_case("heads", weights=True),
    ),
    Row(
        "attention_weights_packed",
        _weights_op,
        lambda *a, **p: _fused_ref(*a, weights=True, **p),
        fused_attention_case("packed", weights=True),
    ),
    Row("learn_causal_attention", _exercise_op, _exercise_ref, exercise_attention_case()),
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


# ----- the composed-ops oracle: what attention was before it was one op -------------------
def _composed(*tensors: tg.Tensor, **params: Any) -> tg.Tensor:
    """The fused op rebuilt from MatMul, Add, MaskedFill, Softmax and Dropout nodes (plain and
    heads layouts), the oracle its hand-written backward is compared with."""
    heads, packed = params["num_heads"], params["packed"]
    (q, k, v), bias = _unpack(tensors, 1 if packed else 3)
    if packed:
        width = q.shape[-1] // 3
        q, k, v = q[..., :width], q[..., width : 2 * width], q[..., 2 * width :]
    if heads:
        split = lambda x: x.reshape(*x.shape[:2], heads, -1).transpose(1, 2)  # noqa: E731
        q, k, v = split(q), split(k), split(v)
    scores = (q * (1.0 / np.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)
    if bias is not None:
        scores = scores + bias
    if params.get("mask") is not None:
        scores = scores + tg.Tensor(params["mask"])
    if params.get("causal_offset") is not None:
        rows, cols = np.indices(scores.shape[-2:])
        scores = scores.masked_fill(cols > rows + params["causal_offset"], -np.inf)
    weights = scores.softmax(-1)
    if params.get("keep") is not None:
        weights = Dropout.apply(weights, mask=params["keep"] / (1 - params["dropout_p"]))
    out = weights @ v
    if heads:
        out = out.transpose(1, 2).reshape(out.shape[0], out.shape[2], -1)
    return out


def _grads(fn: Any, tensors: tuple, params: dict, upstream: np.ndarray) -> list[np.ndarray]:
    fresh = [tg.Tensor(t.data.copy(), requires_grad=True) for t in tensors]
    out = fn(*fresh, **params)
    out.backward(upstream)
    return [out.data] + [t.grad.data for t in fresh]


@pytest.mark.parametrize("layout", ["plain", "heads", "packed"])
@given(data=st.data())
def test_fused_op_equals_the_composed_ops_forward_and_gradients(layout: str, data: Any) -> None:
    """Every mask kind, fully blocked rows, causal offsets, blocks and dropout, in float64."""
    case = data.draw(fused_attention_case(layout))
    out = _attention_op(*case.tensors, **case.params)
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    fused = _grads(_attention_op, case.tensors, case.params, upstream)
    composed = _grads(_composed, case.tensors, case.params, upstream)
    for name, a, b in zip(["out", "q", "k", "v", "bias"], fused, composed):
        assert_close(a, b, f"{layout} {name}", tol=1e-10)


@given(
    length=st.integers(1, 9),
    source=st.integers(1, 9),
    block=st.integers(1, 4),
    offset=st.sampled_from([None, 0, 2]),
    seed=st.integers(0, 2**31 - 1),
)
def test_blocked_and_unblocked_paths_give_the_same_output_and_gradients(
    length: int, source: int, block: int, offset: Any, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    shapes = [(2, length, 4), (2, source, 4), (2, source, 4), (length, source)]
    tensors = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    mask = np.where(rng.random((2, 1, 1, source)) < 0.3, -np.inf, 0.0)[:, 0]  # (2, 1, S)
    keep = rng.random((2, 2, length, source)) > 0.3
    common = dict(num_heads=2, packed=False, mask=mask[:, None], causal_offset=offset)
    common.update(keep=keep, dropout_p=0.3)
    upstream = rng.standard_normal((2, length, 4))
    whole = _grads(_attention_op, tensors, {**common, "block_size": None}, upstream)
    blocked = _grads(_attention_op, tensors, {**common, "block_size": block}, upstream)
    for name, a, b in zip(["out", "q", "k", "v", "bias"], whole, blocked):
        assert_close(b, a, f"blocks of {block}: {name}", tol=1e-12)


def test_dropout_with_a_fixed_seed_is_the_composed_dropout_of_the_same_draw() -> None:
    q, k, v = _qkv(4, 5)
    tg.manual_seed(7)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    tg.manual_seed(7)  # the op draws keep = uniform >= p over the scores, as F.dropout would
    keep = tg.random.get_rng().random((2, 4, 5), dtype=np.float32) >= 0.4
    params = dict(num_heads=0, packed=False, keep=keep, dropout_p=0.4)
    np.testing.assert_allclose(out.data, _composed(q, k, v, **params).data, rtol=1e-12)
    assert 0 < keep.mean() < 1


def test_weights_come_from_the_attention_forward_without_a_second_softmax(monkeypatch) -> None:
    calls = []
    original = attn_ops.softmax_
    monkeypatch.setattr(
        attn_ops, "softmax_", lambda s, *shift: calls.append(s.shape) or original(s, *shift)
    )
    q, k, v = _qkv(3, 4)
    out, weights = F.attention(q, k, v, need_weights=True)
    assert len(calls) == 1 and weights.shape == (2, 3, 4)
    np.testing.assert_allclose(out.data, (weights @ v).data, rtol=1e-12)
    with pytest.raises(ValueError, match="read-only"):
        weights.data[0, 0, 0] = 1.0  # shared with the op's saved state: edits must not be silent


def test_version_counter_catches_an_in_place_edit_of_anything_the_op_saved() -> None:
    for edit in ("k", "v", "out"):
        q, k, v = _qkv(3, 4)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        target = {"k": k, "v": v, "out": out}[edit]
        target.data += 1.0  # an in-place change through the public data setter
        with pytest.raises(RuntimeError, match="modified in place"):
            out.backward(np.ones(out.shape))


def test_integer_mask_is_refused_and_a_wrong_shape_is_named() -> None:
    q, k, v = _qkv(3, 4)
    with pytest.raises(TypeError, match="scaled_dot_product_attention: attn_mask must be bool"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 3\) does not broadcast"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 3), dtype=bool))
    with pytest.raises(TypeError, match="q must be a floating tensor"):
        F.scaled_dot_product_attention(tg.Tensor(np.ones((2, 3, 4), dtype=np.int64)), k, v)


def test_long_causal_sequences_are_blocked_and_skip_unseen_keys(monkeypatch) -> None:
    """Causal attention over 128 positions runs in blocks, and a block only multiplies the pairs
    it may see: forward, 32 query rows against 32, 64, 96 and 128 keys; backward, 32 keys
    against the 128, 96, 64 and 32 queries that see them."""
    seen = []
    original = attn_ops.Extras.scores

    def spy(self: Any, qs: np.ndarray, k_t: np.ndarray, rows: tuple, cols: tuple) -> Any:
        scores = original(self, qs, k_t, rows, cols)
        seen.append(scores.shape)
        return scores

    monkeypatch.setattr(attn_ops.Extras, "scores", spy)
    rng = np.random.default_rng(0)
    q, k, v = (tg.Tensor(rng.standard_normal((1, 128, 8)), requires_grad=True) for _ in "qkv")
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert seen == [(1, 32, end) for end in (32, 64, 96, 128)]
    reference = _sdpa_ref(q.data, k.data, v.data, is_causal=True)
    np.testing.assert_allclose(out.data, reference, rtol=1e-12, atol=1e-12)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    assert seen[4:] == [(1, rows, 32) for rows in (128, 96, 64, 32)]
    unblocked = _grads(
        _attention_op, (q, k, v), dict(num_heads=0, packed=False, causal_offset=0), upstream
    )
    for name, grad, expected in zip("qkv", (q.grad, k.grad, v.grad), unblocked[1:]):
        assert_close(grad.data, expected, f"d{name}", tol=1e-12)


def test_auto_block_size_blocks_long_causal_and_large_attention_only() -> None:
    assert F._auto_block_size((64, 8, 32, 32), causal=True) is None  # the training step
    assert F._auto_block_size((2, 8, 127, 127), causal=True) is None
    assert F._auto_block_size((2, 8, 128, 128), causal=True) == 32
    assert F._auto_block_size((2, 8, 512, 512), causal=False) is None  # 4M scores: one block
    assert F._auto_block_size((2, 8, 1024, 1024), causal=True) == 32
    assert F._auto_block_size((2, 8, 4096, 4096), causal=False) == 16  # rows of 64K scores
    assert F._auto_block_size((64, 16, 4096, 4096), causal=True) == 8  # rows of 1M scores


@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_softmax_skips_its_max_shift_only_when_every_score_is_small(scale: float) -> None:
    """Small scores (|s q·k| <= 60 by Cauchy-Schwarz) go straight to exp; large ones are shifted
    by their row max; both give the numpy reference, blocked or not, in float32."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 64, 8)).astype(np.float32) for _ in "qkv")
    q *= scale
    extras = attn_ops.Extras(None, None, 0, None, 0.0, 64)
    small = attn_ops.scores_are_small(q / np.sqrt(8), np.swapaxes(k, -1, -2).copy(), extras)
    assert small == (scale == 1.0)
    expected = _sdpa_ref(
        q.astype(np.float64), k.astype(np.float64), v.astype(np.float64), is_causal=True
    )
    for block in (None, 16):
        out, _ = F.attention(
            tg.Tensor(q), tg.Tensor(k), tg.Tensor(v), causal_offset=0, block_size=block
        )
        np.testing.assert_allclose(out.data, expected, rtol=2e-4, atol=2e-5)


def test_a_finite_blocking_mask_keeps_the_shift() -> None:
    """A row where every key gets -1e9 is still the softmax of its scores (the constant cancels
    after the max shift), not a row of zeros from exp underflowing."""
    q, k, v = _qkv(2, 3)
    mask = np.array([[0.0, 0.0, 0.0], [-1e9, -1e9, -1e9]])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    unmasked = F.scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(out.data[:, 1], unmasked.data[:, 1], rtol=1e-5)
