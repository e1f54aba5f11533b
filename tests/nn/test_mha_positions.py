"""MultiheadAttention's position keywords: `attn_bias=` (added to the scores, a learned bias gets
its gradient) and `rotary=` (q and k rotated, in the packed and the separate projections, and
with the KVCache)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn import nn


def _mha(seed: int = 0) -> nn.MultiheadAttention:
    tg.manual_seed(seed)
    mha = nn.MultiheadAttention(8, 2).double()
    rng = np.random.default_rng(seed)
    for p in mha.parameters():
        p.data = rng.standard_normal(p.shape) * 0.5
    return mha


def _x(seed: int = 1, length: int = 5) -> tg.Tensor:
    return tg.Tensor(np.random.default_rng(seed).standard_normal((2, length, 8)))


def test_attn_bias_is_added_to_every_heads_scores() -> None:
    mha, x = _mha(), _x()
    bias = np.random.default_rng(2).standard_normal((2, 5, 5))  # (H, L, S)
    _, weights = mha(x, x, x, attn_bias=bias, average_attn_weights=False)
    w = {n: p.data for n, p in mha.named_parameters()}
    q = (x.data @ w["q_proj.weight"].T + w["q_proj.bias"]).reshape(2, 5, 2, 4).transpose(0, 2, 1, 3)
    k = (x.data @ w["k_proj.weight"].T + w["k_proj.bias"]).reshape(2, 5, 2, 4).transpose(0, 2, 1, 3)
    scores = q @ k.swapaxes(-1, -2) / 2.0 + bias
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights.data, expected, rtol=1e-10)


def test_a_learned_attn_bias_gets_its_gradient() -> None:
    mha, x = _mha(), _x()
    bias = tg.Tensor(np.random.default_rng(3).standard_normal((2, 5, 5)), requires_grad=True)
    padding = np.array([[False] * 4 + [True], [False] * 5])

    def fn(b: tg.Tensor) -> tg.Tensor:
        return mha(x, x, x, attn_bias=b, key_padding_mask=padding, is_causal=True)[0]

    assert tg.gradcheck(fn, [bias])


def test_attn_bias_must_be_float_and_broadcast_to_the_scores() -> None:
    mha, x = _mha(), _x()
    with pytest.raises(TypeError, match="attn_bias must be float"):
        mha(x, x, x, attn_bias=np.zeros((5, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"attn_bias of shape \(3, 5, 5\) does not broadcast"):
        mha(x, x, x, attn_bias=np.zeros((3, 5, 5)))


def test_rotary_in_the_packed_projection_equals_separate_q_k_v() -> None:
    """Self-attention's one (B, T, 3E) projection, rotated by one Rotary node, gives what
    rotating separately projected q and k gives (query, key, value as distinct tensors)."""
    mha, x = _mha(), _x()
    rope = nn.RotaryEmbedding(4)
    packed, _ = mha(x, x, x, rotary=rope, is_causal=True)
    copies = [tg.Tensor(x.data.copy()) for _ in range(3)]
    separate, _ = mha(*copies, rotary=rope, is_causal=True)
    np.testing.assert_allclose(packed.data, separate.data, rtol=1e-12, atol=1e-12)
    plain, _ = mha(x, x, x, is_causal=True)
    assert np.abs(packed.data - plain.data).max() > 1e-3


@pytest.mark.parametrize("packed", [True, False])
def test_rotary_with_the_cache_equals_one_pass_over_the_whole_sequence(packed: bool) -> None:
    """Keys enter the cache rotated by their own positions; new queries are rotated from
    cache.length on."""
    mha, x = _mha(), _x(length=6)
    rope = nn.RotaryEmbedding(4)
    whole, _ = mha(x, x, x, rotary=rope, is_causal=True, need_weights=False)
    cache = nn.KVCache(6)
    steps = []
    with tg.no_grad():
        for start, end in ((0, 2), (2, 3), (3, 6)):
            part = tg.Tensor(x.data[:, start:end])
            q, kv = (part, part) if packed else (part, tg.Tensor(part.data.copy()))
            out, _ = mha(q, kv, kv, rotary=rope, is_causal=True, cache=cache, need_weights=False)
            steps.append(out.data)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), whole.data, atol=1e-12)


def test_rotary_gradient_through_the_packed_projection() -> None:
    mha, x = _mha(), _x(length=3)
    rope = nn.RotaryEmbedding(4)
    x.requires_grad_()
    assert tg.gradcheck(lambda t: mha(t, t, t, rotary=rope)[0], [x])


def test_rotary_with_a_static_cache_is_refused() -> None:
    mha, x = _mha(), _x()
    with tg.no_grad(), pytest.raises(ValueError, match="rotary needs self-attention"):
        mha(x, x, x, rotary=nn.RotaryEmbedding(4), cache=nn.KVCache())


def test_rotary_embedding_module_is_the_functional_op() -> None:
    x = _x()
    np.testing.assert_array_equal(
        nn.RotaryEmbedding(4)(x, offset=2).data, F.rotary_embedding(x, 4, offset=2).data
    )
    with pytest.raises(ValueError, match="head_dim must be even"):
        nn.RotaryEmbedding(3)
