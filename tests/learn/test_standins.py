"""The ops `learn train` puts in the model: the attention exercise's op is the fused attention's
math (forward and gradients) in every layout the model uses, and the stand-ins for the fused
ops give what the library's ops give."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812
from tinygrad_attn import Tensor
from tinygrad_attn.learn.attention_op import CausalAttention, standin_for
from tinygrad_attn.learn.cases import FIXED, causal
from tinygrad_attn.learn.standins import cross_entropy_standin, linear_standin, softmax_attention
from tinygrad_attn.ops.attention_fast import ScaledDotProductAttention
from tinygrad_attn.ops.matmul import Linear, MatMul
from tinygrad_attn.ops.nn import CrossEntropy
from tinygrad_attn.ops.softmax import LogSoftmax, Softmax


def _grads(fn, *arrays: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """fn's output and the gradients of sum(out * R) for a fixed random R."""
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    upstream = np.random.default_rng(9).standard_normal(out.shape)
    (out * Tensor(upstream)).sum().backward()
    return out.data, [t.grad.data for t in tensors]


def test_the_exercise_forward_is_the_library_attention() -> None:
    q, k, v = FIXED["attention"]().inputs
    mine = CausalAttention.forward(CausalAttention(), q, k, v, mask=causal(3, 3))
    theirs = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), is_causal=True)
    np.testing.assert_allclose(mine, theirs.data, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("core", ["attention", "softmax"])
@pytest.mark.parametrize("packed", [False, True])
def test_the_standin_gives_the_fused_op_in_the_heads_layout(packed: bool, core: str) -> None:
    rng = np.random.default_rng(0)
    batch, length, heads, d = 2, 4, 2, 3
    padding = np.zeros((batch, 1, 1, length))
    padding[1, ..., -1] = -np.inf  # the second sentence's last key is padding
    width = 3 * heads * d if packed else heads * d
    arrays = [rng.standard_normal((batch, length, width)) for _ in range(1 if packed else 3)]

    def attend(*ts: Tensor) -> Tensor:
        q, k, v = (ts[0], None, None) if packed else ts
        return F.attention(q, k, v, num_heads=heads, packed=packed, mask=padding,
                           causal_offset=0, block_size=2)[0]  # fmt: skip

    out, grads = _grads(attend, *arrays)
    inner = CausalAttention if core == "attention" else softmax_attention(Softmax)
    with tg.override_ops({ScaledDotProductAttention: standin_for(inner)}):
        out_standin, grads_standin = _grads(attend, *arrays)
    np.testing.assert_allclose(out_standin, out, rtol=1e-10, atol=1e-12)
    for g_standin, g in zip(grads_standin, grads):
        np.testing.assert_allclose(g_standin, g, rtol=1e-9, atol=1e-12)


def test_the_standin_refuses_what_the_exercise_does_not_cover() -> None:
    q = Tensor(np.ones((1, 2, 4)), requires_grad=True)
    bias = Tensor(np.zeros((1, 2, 2, 2)), requires_grad=True)
    with tg.override_ops({ScaledDotProductAttention: standin_for(CausalAttention)}):
        with pytest.raises(ValueError, match="no learned bias, no dropout"):
            F.attention(q, q, q, num_heads=2, bias=bias)


def test_the_linear_standin_gives_linear() -> None:
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    out, grads = _grads(lambda *ts: Linear.apply(*ts), x, w, b)
    with tg.override_ops({Linear: linear_standin(MatMul)}):
        out_standin, grads_standin = _grads(lambda *ts: Linear.apply(*ts), x, w, b)
    np.testing.assert_allclose(out_standin, out, rtol=1e-12)
    for g_standin, g in zip(grads_standin, grads):
        np.testing.assert_allclose(g_standin, g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_the_cross_entropy_standin_gives_cross_entropy(reduction: str, smoothing: float) -> None:
    logits = np.random.default_rng(2).standard_normal((2, 3, 4))
    params = dict(target=np.array([[0, 3, -100], [2, 2, 1]]), ignore_index=-100,
                  label_smoothing=smoothing, reduction=reduction)  # fmt: skip
    out, grads = _grads(lambda t: CrossEntropy.apply(t, **params), logits)
    with tg.override_ops({CrossEntropy: cross_entropy_standin(LogSoftmax)}):
        out_standin, grads_standin = _grads(lambda t: CrossEntropy.apply(t, **params), logits)
    np.testing.assert_allclose(out_standin, out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grads_standin[0], grads[0], rtol=1e-10, atol=1e-14)
