"""A causal mask passed as an array is recognised (and run as the op's causal offset, skipping
the keys it blocks), and nothing else is: results equal the mask run as an array."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn import nn
from tinygrad_attn._causal_mask import causal_offset_of

SIZES = st.integers(1, 40)


def _causal(length: int, keys: int, offset: int) -> np.ndarray:
    """True where key j > query i + offset (blocked), in plain numpy."""
    return np.arange(keys)[None, :] > np.arange(length)[:, None] + offset


@given(SIZES, SIZES, st.integers(0, 45))
def test_every_causal_pattern_is_recognised_in_each_convention(length, keys, offset):
    blocked = _causal(length, keys, offset)
    expected = min(offset, keys - 1)  # past the last key every offset is the same mask
    scores = (length, keys)
    assert causal_offset_of(blocked, scores, blocked_if=True) == expected
    assert causal_offset_of(~blocked, scores, blocked_if=False) == expected
    additive = np.where(blocked, -np.inf, 0.0).astype(np.float32)
    assert causal_offset_of(additive, scores, blocked_if=True) == expected
    assert causal_offset_of(additive[None, None], (3, 2) + scores, blocked_if=True) == expected


@given(st.integers(2, 40), st.integers(2, 40), st.integers(0, 3), st.data())
def test_a_mask_one_entry_away_from_causal_is_not_recognised(length, keys, offset, data):
    blocked = _causal(length, keys, offset)
    i = data.draw(st.integers(0, length - 1))
    j = data.draw(st.integers(0, keys - 1))
    blocked[i, j] = ~blocked[i, j]
    if blocked[0].all():
        return  # row 0 fully blocked: not a causal mask either, checked below
    offsets = [k for k in range(keys) if np.array_equal(blocked, _causal(length, keys, k))]
    assert causal_offset_of(blocked, (length, keys), blocked_if=True) == (
        offsets[0] if offsets else None
    )


def test_what_is_not_a_constant_causal_mask_is_left_alone():
    blocked = _causal(6, 6, 0)
    assert causal_offset_of(blocked[:1], (6, 6), True) is None  # broadcast rows: not (L, S)
    assert causal_offset_of(blocked, (4, 6, 6), True) == 0
    assert causal_offset_of(np.ones((6, 6), bool), (6, 6), True) is None  # row 0 sees nothing
    assert causal_offset_of(blocked.astype(np.int64), (6, 6), True) is None
    soft = np.where(blocked, -1e9, 0.0)  # a finite "blocked" value is a bias, not a mask
    assert causal_offset_of(soft, (6, 6), True) is None
    biased = np.where(blocked, -np.inf, 0.5)
    assert causal_offset_of(biased, (6, 6), True) is None
    learned = tg.tensor(np.where(blocked, -np.inf, 0.0), requires_grad=True)
    assert causal_offset_of(learned, (6, 6), True) is None
    assert causal_offset_of(tg.tensor(blocked), (6, 6), True) == 0


def _mha_grads(mha, x, g, **masks):
    x = tg.tensor(x, requires_grad=True)
    mha.zero_grad()
    out, weights = mha(x, x, x, need_weights=True, **masks)
    (out * tg.tensor(g)).sum().backward()
    return [out.data, weights.data, x.grad.data] + [p.grad.data for p in mha.parameters()]


@pytest.mark.parametrize("kind", ["bool", "float"])
@given(st.integers(1, 3), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_mha_with_a_causal_array_mask_equals_the_mask_applied_as_an_array(kind, b, t, seed):
    tg.manual_seed(seed)
    mha = nn.MultiheadAttention(8, 2).double()
    rng = np.random.default_rng(seed)
    x, g = rng.standard_normal((2, b, t, 8))
    blocked = _causal(t, t, 0)
    mask = blocked if kind == "bool" else np.where(blocked, -np.inf, 0.0)
    per_head = np.broadcast_to(mask, (b * 2, t, t))  # (B*H, L, S): applied as an array
    fast = _mha_grads(mha, x, g, attn_mask=mask)
    dense = _mha_grads(mha, x, g, attn_mask=per_head)
    causal = _mha_grads(mha, x, g, is_causal=True)
    for a, d, c in zip(fast, dense, causal):
        np.testing.assert_allclose(a, d, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2), st.integers(0, 2**31 - 1))
def test_sdpa_with_a_tril_mask_equals_the_mask_applied_as_an_array(length, keys, offset, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (
        tg.tensor(rng.standard_normal(s), requires_grad=True)
        for s in [(2, length, 4), (2, keys, 4), (2, keys, 3)]
    )
    allowed = ~_causal(length, keys, offset)
    g = rng.standard_normal((2, length, 3))
    results = []
    for mask in (allowed, np.broadcast_to(allowed, (2, length, keys))):  # recognised, dense
        for t in (q, k, v):
            t.grad = None
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        (out * tg.tensor(g)).sum().backward()
        results.append([out.data, q.grad.data, k.grad.data, v.grad.data])
    for fast, dense in zip(*results):
        np.testing.assert_allclose(fast, dense, rtol=1e-10, atol=1e-12)
