"""MultiheadAttention against a plain-numpy multi-head attention (with every mask kind), its
gradients (gradcheck of the whole block in float64), and the properties of masking."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import nn
from tinygrad_attn.nn.utils import functional_call

SEEDS = st.integers(0, 2**31 - 1)
MASK_KINDS = ["none", "padding", "bool_2d", "bool_3d", "float_2d", "float_3d", "causal", "all"]


def _mha(embed_dim: int, num_heads: int, seed: int, bias: bool = True) -> nn.MultiheadAttention:
    """An MHA with random weights AND biases (the zero-initialised biases would hide bugs)."""
    tg.manual_seed(seed)
    mha = nn.MultiheadAttention(embed_dim, num_heads, bias=bias)
    rng = np.random.default_rng(seed)
    for p in mha.parameters():
        p.data = (rng.standard_normal(p.shape) * 0.5).astype(p.dtype)
    return mha


def _reference(mha, query, key, value, attn_mask=None, key_padding_mask=None, is_causal=False):
    """Multi-head attention in plain numpy, one (batch, head) pair at a time.

    Returns (output (B, L, E), weights (B, H, L, S)). PyTorch's conventions: bool masks are True
    where attention is NOT allowed; float masks are added; a 3-D attn_mask row is b * H + h.
    """
    w = {name: p.data.astype(np.float64) for name, p in mha.named_parameters()}
    zero = np.zeros(query.shape[-1])

    def proj(x, name):
        return x @ w[f"{name}.weight"].T + w.get(f"{name}.bias", zero)

    q, k, v = proj(query, "q_proj"), proj(key, "k_proj"), proj(value, "v_proj")
    batch, tgt_len, embed = q.shape
    src_len, heads = k.shape[1], mha.num_heads
    d = embed // heads
    concat = np.zeros((batch, tgt_len, embed))
    weights = np.zeros((batch, heads, tgt_len, src_len))
    for b in range(batch):
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            scores = q[b, :, cols] @ k[b, :, cols].T / math.sqrt(d)
            allowed = np.ones((tgt_len, src_len), dtype=bool)
            for mask in _masks_for(attn_mask, key_padding_mask, b, h, heads):
                if mask.dtype == np.bool_:
                    allowed &= ~mask
                else:
                    scores = scores + mask
            if is_causal:
                allowed &= np.tril(np.ones((tgt_len, src_len), dtype=bool))
            scores = np.where(allowed, scores, -np.inf)
            for i in range(tgt_len):
                if np.isneginf(scores[i]).all():
                    continue  # a query that may see nothing: zero weights, zero output
                e = np.exp(scores[i] - scores[i].max())
                weights[b, h, i] = e / e.sum()
            concat[b, :, cols] = weights[b, h] @ v[b, :, cols]
    return proj(concat, "out_proj"), weights


def _masks_for(attn_mask, key_padding_mask, b, h, heads):
    masks = []
    if attn_mask is not None:
        masks.append(attn_mask if attn_mask.ndim == 2 else attn_mask[b * heads + h])
    if key_padding_mask is not None:
        masks.append(key_padding_mask[b][None, :])
    return masks


def _make_masks(kind, batch, heads, tgt_len, src_len, rng):
    """kwargs for mha(...) with masks of the given kind (never blocking every key of a row)."""
    kwargs = {}
    if kind in ("padding", "all"):
        lengths = rng.integers(1, src_len + 1, size=batch)
        kwargs["key_padding_mask"] = np.arange(src_len)[None, :] >= lengths[:, None]
    if kind in ("bool_2d", "bool_3d", "all"):
        shape = (tgt_len, src_len) if kind != "bool_3d" else (batch * heads, tgt_len, src_len)
        mask = rng.random(shape) < 0.3
        mask[..., 0] = False  # key 0 always allowed
        kwargs["attn_mask"] = mask
    if kind in ("float_2d", "float_3d"):
        shape = (tgt_len, src_len) if kind == "float_2d" else (batch * heads, tgt_len, src_len)
        kwargs["attn_mask"] = rng.standard_normal(shape)
    if kind in ("causal", "all"):
        kwargs["is_causal"] = True
    return kwargs


def _inputs(rng, batch, tgt_len, src_len, embed, dtype=np.float64):
    query = rng.standard_normal((batch, tgt_len, embed)).astype(dtype)
    key = rng.standard_normal((batch, src_len, embed)).astype(dtype)
    value = rng.standard_normal((batch, src_len, embed)).astype(dtype)
    return query, key, value


# ----- forward against numpy ---------------------------------------------------------------
@pytest.mark.parametrize("kind", MASK_KINDS)
@given(
    batch=st.integers(1, 3),
    heads=st.integers(1, 3),
    head_dim=st.integers(1, 3),
    tgt_len=st.integers(1, 4),
    src_len=st.integers(1, 4),
    seed=SEEDS,
)
def test_mha_matches_numpy_multi_head_attention(
    kind, batch, heads, head_dim, tgt_len, src_len, seed
):
    rng = np.random.default_rng(seed)
    embed = heads * head_dim
    mha = _mha(embed, heads, seed).double()
    query, key, value = _inputs(rng, batch, tgt_len, src_len, embed)
    masks = _make_masks(kind, batch, heads, tgt_len, src_len, rng)
    out, avg = mha(tg.Tensor(query), tg.Tensor(key), tg.Tensor(value), **masks)
    _, per_head = mha(
        tg.Tensor(query), tg.Tensor(key), tg.Tensor(value), average_attn_weights=False, **masks
    )
    expected_out, expected_weights = _reference(mha, query, key, value, **masks)
    np.testing.assert_allclose(out.data, expected_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(per_head.data, expected_weights, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(avg.data, expected_weights.mean(axis=1), rtol=1e-10, atol=1e-12)
    assert out.shape == (batch, tgt_len, embed) and avg.shape == (batch, tgt_len, src_len)


def test_mha_float32_stays_float32_and_matches_numpy():
    rng = np.random.default_rng(0)
    mha = _mha(8, 2, 0)
    query, key, value = _inputs(rng, 2, 3, 5, 8, np.float32)
    out, weights = mha(tg.Tensor(query), tg.Tensor(key), tg.Tensor(value))
    expected_out, expected_weights = _reference(mha, query, key, value)
    assert out.dtype == np.float32 and weights.dtype == np.float32
    np.testing.assert_allclose(out.data, expected_out, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weights.data, expected_weights.mean(1), rtol=1e-4, atol=1e-6)


def test_mha_float_key_padding_mask_is_added_to_the_scores():
    rng = np.random.default_rng(1)
    mha = _mha(4, 2, 1).double()
    query, key, value = _inputs(rng, 2, 3, 4, 4)
    bias = rng.standard_normal((2, 4))
    out, weights = mha(tg.Tensor(query), tg.Tensor(key), tg.Tensor(value), key_padding_mask=bias)
    expected_out, expected_weights = _reference(mha, query, key, value, key_padding_mask=bias)
    np.testing.assert_allclose(out.data, expected_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.data, expected_weights.mean(1), rtol=1e-10, atol=1e-12)


def test_mha_unbatched_input_is_a_batch_of_one():
    rng = np.random.default_rng(2)
    mha = _mha(6, 3, 2).double()
    query, key, value = _inputs(rng, 1, 2, 3, 6)
    padding = np.array([[False, False, True]])
    batched, batched_weights = mha(
        tg.Tensor(query), tg.Tensor(key), tg.Tensor(value), key_padding_mask=padding
    )
    single, single_weights = mha(
        tg.Tensor(query[0]), tg.Tensor(key[0]), tg.Tensor(value[0]), key_padding_mask=padding[0]
    )
    assert single.shape == (2, 6) and single_weights.shape == (2, 3)
    np.testing.assert_allclose(single.data, batched.data[0], rtol=1e-12)
    np.testing.assert_allclose(single_weights.data, batched_weights.data[0], rtol=1e-12)


def test_mha_need_weights_false_returns_none_and_store_flag_keeps_per_head_weights():
    mha = _mha(4, 2, 3)
    x = tg.randn(2, 3, 4)
    out, weights = mha(x, x, x, need_weights=False)
    assert weights is None and out.shape == (2, 3, 4) and mha.last_attn_weights is None
    mha.store_attn_weights = True
    _, averaged = mha(x, x, x)
    stored = mha.last_attn_weights
    assert stored.shape == (2, 2, 3, 3) and not stored.requires_grad
    np.testing.assert_allclose(stored.data.mean(axis=1), averaged.data, rtol=1e-6)


# ----- gradients ---------------------------------------------------------------------------
PARAMS = ["q_proj.weight", "k_proj.bias", "v_proj.weight", "out_proj.weight", "out_proj.bias"]


@pytest.mark.parametrize("kind", ["none", "padding", "bool_3d", "float_2d", "causal"])
@given(heads=st.integers(1, 2), tgt_len=st.integers(1, 3), src_len=st.integers(1, 3), seed=SEEDS)
def test_mha_gradients_match_finite_differences(kind, heads, tgt_len, src_len, seed):
    """The whole block w.r.t. query, key, value and a few parameters (outputs AND weights)."""
    rng = np.random.default_rng(seed)
    embed, batch = 2 * heads, 2
    mha = _mha(embed, heads, seed).double()
    masks = _make_masks(kind, batch, heads, tgt_len, src_len, rng)
    query, key, value = (
        tg.Tensor(a, requires_grad=True) for a in _inputs(rng, batch, tgt_len, src_len, embed)
    )
    params = [dict(mha.named_parameters())[name] for name in PARAMS]

    def fn(q, k, v, *ps):
        out, weights = functional_call(mha, dict(zip(PARAMS, ps)), (q, k, v), masks)
        # Both outputs enter the checked scalar: weights (B, L, S) are flattened alongside.
        return tg.cat([out.reshape(-1), weights.reshape(-1)])

    assert tg.gradcheck(fn, [query, key, value, *params], seed=seed)


def test_mha_gradient_through_a_learned_float_mask_matches_finite_differences():
    rng = np.random.default_rng(4)
    mha = _mha(4, 2, 4).double()
    query, key, value = _inputs(rng, 2, 3, 3, 4)
    bias = tg.Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    fn = lambda m: mha(tg.Tensor(query), tg.Tensor(key), tg.Tensor(value), attn_mask=m)[0]  # noqa: E731
    assert tg.gradcheck(fn, [bias])


# ----- masking properties ------------------------------------------------------------------
@given(seed=SEEDS, heads=st.integers(1, 3))
def test_padded_keys_get_exactly_zero_weight_and_zero_gradient(seed, heads):
    rng = np.random.default_rng(seed)
    mha = _mha(3 * heads, heads, seed)
    query, key, value = (
        tg.Tensor(a, requires_grad=True) for a in _inputs(rng, 2, 3, 5, 3 * heads, np.float32)
    )
    padding = np.array([[False, False, False, True, True], [False, True, False, False, True]])
    out, weights = mha(query, key, value, key_padding_mask=padding, average_attn_weights=False)
    assert np.all(weights.data.transpose(0, 3, 1, 2)[padding] == 0)  # (B, S, H, L)[padded]
    upstream = rng.standard_normal(out.shape).astype(np.float32)
    (out * tg.Tensor(upstream)).sum().backward()
    assert np.all(key.grad.data[padding] == 0) and np.all(value.grad.data[padding] == 0)
    assert np.all(np.abs(key.grad.data[~padding]).sum(-1) > 0)  # the others do get gradient


def test_bool_attn_mask_blocks_exactly_the_true_entries():
    mha = _mha(4, 2, 5)
    x = tg.randn(1, 3, 4)
    blocked = np.array([[False, True, True], [False, False, True], [True, False, False]])
    _, weights = mha(x, x, x, attn_mask=blocked, average_attn_weights=False)
    assert np.all(weights.data[0][:, blocked] == 0)
    assert np.all(weights.data[0][:, ~blocked] > 0)
    _, causal = mha(x, x, x, is_causal=True)
    _, explicit = mha(x, x, x, attn_mask=np.triu(np.ones((3, 3), dtype=bool), k=1))
    np.testing.assert_array_equal(causal.data, explicit.data)


def test_float_mask_of_minus_inf_equals_the_bool_mask():
    mha = _mha(4, 2, 7)
    x = tg.randn(2, 3, 4)
    blocked = np.array([[True, True, True], [False, True, False], [False, False, False]])
    as_float = np.where(blocked, -np.inf, 0.0).astype(np.float32)  # PyTorch's usual float form
    out_bool, w_bool = mha(x, x, x, attn_mask=blocked)
    out_float, w_float = mha(x, x, x, attn_mask=as_float)
    np.testing.assert_array_equal(out_float.data, out_bool.data)
    np.testing.assert_array_equal(w_float.data, w_bool.data)
    assert np.all(np.isfinite(out_float.data)) and np.all(w_float.data[:, 0] == 0)


def test_fully_masked_query_row_gives_zero_weights_zero_output_and_no_nan():
    rng = np.random.default_rng(6)
    mha = _mha(4, 2, 6, bias=False)  # no out_proj bias: a zero attention row stays zero
    query, key, value = (
        tg.Tensor(a, requires_grad=True) for a in _inputs(rng, 2, 2, 3, 4, np.float32)
    )
    padding = np.array([[True, True, True], [False, True, False]])  # batch 0: every key padded
    out, weights = mha(query, key, value, key_padding_mask=padding)
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(weights.data))
    assert np.all(weights.data[0] == 0) and np.all(out.data[0] == 0)
    (out * tg.Tensor(rng.standard_normal(out.shape).astype(np.float32))).sum().backward()
    for t in (query, key, value):
        assert np.all(np.isfinite(t.grad.data))
    assert np.all(query.grad.data[0] == 0) and np.all(key.grad.data[0] == 0)


@given(seed=SEEDS, length=st.integers(2, 5))
def test_self_attention_is_permutation_equivariant(seed, length):
    rng = np.random.default_rng(seed)
    mha = _mha(4, 2, seed).double()
    x = rng.standard_normal((2, length, 4))
    padding = np.zeros((2, length), dtype=bool)
    padding[:, -1] = True
    perm = rng.permutation(length)
    out, weights = mha(tg.Tensor(x), tg.Tensor(x), tg.Tensor(x), key_padding_mask=padding)
    xp = tg.Tensor(x[:, perm])
    out_p, weights_p = mha(xp, xp, xp, key_padding_mask=padding[:, perm])
    np.testing.assert_allclose(out_p.data, out.data[:, perm], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        weights_p.data, weights.data[:, perm][:, :, perm], rtol=1e-10, atol=1e-12
    )


# ----- construction and validation ---------------------------------------------------------
def test_mha_init_follows_pytorch():
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4)
    assert [n for n, _ in mha.named_parameters()] == [
        f"{proj}.{p}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj")
        for p in ("weight", "bias")
    ]
    bound = math.sqrt(6 / (16 + 3 * 16))  # xavier on PyTorch's stacked (3E, E) in_proj_weight
    for proj in (mha.q_proj, mha.k_proj, mha.v_proj):
        assert np.abs(proj.weight.data).max() <= bound and np.all(proj.bias.data == 0)
    assert np.all(mha.out_proj.bias.data == 0)
    assert np.abs(mha.out_proj.weight.data).max() <= 1 / math.sqrt(16)


def test_mha_validates_sizes_shapes_and_masks():
    with pytest.raises(ValueError, match="embed_dim 6 must be a positive multiple of num_heads 4"):
        nn.MultiheadAttention(6, 4)
    mha = nn.MultiheadAttention(4, 2)
    x = tg.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"key \(2, 3, 5\)"):
        mha(x, tg.randn(2, 3, 5), x)
    with pytest.raises(
        ValueError, match=r"key_padding_mask must be \(B, S\) = \(2, 3\), got \(3, 2\)"
    ):
        mha(x, x, x, key_padding_mask=np.zeros((3, 2), dtype=bool))
    with pytest.raises(
        ValueError, match=r"attn_mask must be \(L, S\) = \(3, 3\) or \(B\*H, L, S\)"
    ):
        mha(x, x, x, attn_mask=np.zeros((2, 3, 3), dtype=bool))
    with pytest.raises(TypeError, match="attn_mask must be bool or float"):
        mha(x, x, x, attn_mask=np.zeros((3, 3), dtype=np.int64))
    with pytest.raises(TypeError):
        mha(x, x, x, np.zeros((3, 3), dtype=bool))  # masks are keyword-only


def test_mha_dropout_acts_on_weights_only_in_training():
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = tg.randn(2, 6, 4)
    mha.eval()
    first, _ = mha(x, x, x)
    second, _ = mha(x, x, x)
    np.testing.assert_array_equal(first.data, second.data)
    mha.train()
    dropped, weights = mha(x, x, x)
    assert not np.allclose(dropped.data, first.data)
    np.testing.assert_allclose(weights.data.sum(-1), 1, rtol=1e-6)  # returned before dropout
