"""The row-wise fast paths (tinygrad_attn/ops/rowwise.py) and their callers at the sizes where
they switch strategy: 4,096 elements (row_max folds from there), rows of 2 .. _FOLD - 1 (folded)
and up to _SHORT (row_sum as a product with ones), with widths 1 and 2 on both sides.

Issue 28: a last axis of length 1 with 4,096 elements or more came back as (..., 0) from softmax
and log_softmax, and attention over a single key raised "non-broadcastable output operand"."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn import nn
from tinygrad_attn.ops.rowwise import _FOLD, _SHORT, row_max, row_sum

SWITCH = 4096  # row_max's element count threshold
WIDTHS = [1, 2, 3, _FOLD - 1, _FOLD, _SHORT, _SHORT + 1]


def _rows(width: int, total: int) -> int:
    """The fewest rows of `width` that hold at least `total` elements."""
    return -(-total // width)


def _shapes(width: int) -> list[tuple[int, ...]]:
    """Just below and at the switch, and a 4-d shape past it, all with last axis `width`."""
    below = max(1, (SWITCH - 1) // width)
    return [(below, width), (_rows(width, SWITCH), width), (2, 4, _rows(width, SWITCH // 4), width)]


@pytest.mark.parametrize("width", WIDTHS)
def test_row_max_and_row_sum_match_numpy_at_the_switch(width: int) -> None:
    rng = np.random.default_rng(width)
    for shape in _shapes(width):
        x = rng.standard_normal(shape)
        np.testing.assert_array_equal(row_max(x, x.ndim - 1), x.max(-1, keepdims=True))
        np.testing.assert_allclose(row_sum(x, x.ndim - 1), x.sum(-1, keepdims=True), rtol=1e-12)


def _chunked(op, x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """op's output and input gradient computed on chunks of < 4,096 elements (the plain path)."""
    outs, grads = [], []
    step = max(1, (SWITCH // 4) // int(np.prod(x.shape[1:])))
    for i in range(0, x.shape[0], step):
        t = tg.tensor(x[i : i + step], requires_grad=True)
        y = op(t)
        y.backward(tg.tensor(g[i : i + step]))
        outs.append(y.numpy())
        grads.append(t.grad.numpy())
    return np.concatenate(outs), np.concatenate(grads)


OPS = {
    "softmax": lambda t: F.softmax(t, -1),
    "log_softmax": lambda t: F.log_softmax(t, -1),
    "layer_norm": lambda t: F.layer_norm(t, t.shape[-1]),
}


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("width", [1, 2, 3, _FOLD - 1])
def test_rowwise_ops_agree_with_their_small_size_path(name: str, width: int) -> None:
    """Output shape, values and gradient (random cotangent) equal the same op run on chunks
    below the switch, for (4096, 1), (64, 4, 16, 1) and their siblings."""
    rng = np.random.default_rng(width)
    op = OPS[name]
    for shape in _shapes(width) + ([(64, 4, 16, 1)] if width == 1 else []):
        x, g = rng.standard_normal(shape), rng.standard_normal(shape)
        t = tg.tensor(x, requires_grad=True)
        y = op(t)
        assert y.shape == shape, (name, shape, y.shape)
        y.backward(tg.tensor(g))
        want_y, want_g = _chunked(op, x, g)
        np.testing.assert_allclose(y.numpy(), want_y, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(t.grad.numpy(), want_g, rtol=1e-8, atol=1e-10)


def _attention_ref(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool) -> np.ndarray:
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:
        s = np.where(np.arange(k.shape[-2]) <= np.arange(q.shape[-2])[:, None], s, -np.inf)
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True) @ v


@pytest.mark.parametrize("keys", [1, 2])
@pytest.mark.parametrize("block_size", [None, 512, "auto"])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_over_one_or_two_keys_at_4096_queries(keys, block_size, causal) -> None:
    rng = np.random.default_rng(keys)
    q, k, v = (rng.standard_normal((1, n, 8)) for n in (SWITCH, keys, keys))
    tq = tg.tensor(q, requires_grad=True)
    out, _ = F.attention(
        tq,
        tg.tensor(k),
        tg.tensor(v),
        causal_offset=0 if causal else None,
        training=False,
        block_size=block_size,
    )
    np.testing.assert_allclose(out.numpy(), _attention_ref(q, k, v, causal), rtol=1e-9, atol=1e-12)
    out.backward(tg.tensor(rng.standard_normal(out.shape)))
    assert tq.grad.shape == q.shape and np.all(np.isfinite(tq.grad.numpy()))


def test_attention_over_one_key_gradient_is_zero_for_queries() -> None:
    """With one key every weight is 1, so the output is v and q gets no gradient."""
    rng = np.random.default_rng(1)
    q = tg.tensor(rng.standard_normal((1, SWITCH, 8)), requires_grad=True)
    v = rng.standard_normal((1, 1, 8))
    out = F.scaled_dot_product_attention(q, tg.tensor(rng.standard_normal((1, 1, 8))), tg.tensor(v))
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(v, out.shape))
    out.backward(tg.tensor(rng.standard_normal(out.shape)))
    np.testing.assert_allclose(q.grad.numpy(), 0, atol=1e-12)


@pytest.mark.parametrize("batch", [1023, 1024])
def test_multihead_attention_one_token_4_heads_at_the_switch(batch: int) -> None:
    """1,024 one-token sentences with 4 heads: the (B, H, 1, 1) scores hold 4,096 elements."""
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(8, 4)
    x = tg.tensor(np.random.default_rng(batch).standard_normal((batch, 1, 8)))
    out, _ = mha(x, x, x)
    values = mha(x[:1], x[:1], x[:1])[0].numpy()
    assert out.shape == (batch, 1, 8)
    np.testing.assert_allclose(out.numpy()[:1], values, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batch", [1023, 1024])
def test_greedy_decode_of_1024_sentences_with_4_heads(batch: int, tiny_model) -> None:
    """Issue 28: the first decoding step attends over one key; 1,024 sentences x 4 heads made
    its scores 4,096 elements and greedy_decode raised where 1,023 worked."""
    sizes = dict(nhead=4, num_decoder_layers=1, dim_feedforward=16, max_len=8)
    model = tiny_model(src_vocab=9, tgt_vocab=9, **sizes)
    model.eval()
    src = np.random.default_rng(batch).integers(4, 9, size=(batch, 3))
    out = model.greedy_decode(src, 1, 2, 4)
    assert out.shape[0] == batch
    np.testing.assert_array_equal(out[:5], model.greedy_decode(src[:5], 1, 2, 4)[:, : out.shape[1]])
