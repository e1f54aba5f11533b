"""The attention exercise's op, and the stand-in that lets it run inside the transformer.

`CausalAttention` is the exercise: softmax(s q kᵀ + mask) v for one layout, plain (..., L, D),
and one constant additive mask (0 where a query may look, -inf where not; the grader uses the
causal one). The library's fused `ScaledDotProductAttention` computes the same thing but also
splits heads out of (B, T, H*D) projections, packs q, k, v, adds learned biases, drops out
weights and works in blocks; the exercise leaves those out so the backward is the math alone.

`standin_for(learner_cls)` builds the class `learn train` puts in ScaledDotProductAttention's
place: it accepts the fused op's arguments, turns the heads layout and the padding and causal
masks into the exercise's plain arrays and one mask, and runs the learner's forward and
backward on them. Features the exercise does not cover (a learned bias, dropout) are refused
with an error, and `learn train` builds its model without them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import composite_grads, constant
from tinygrad_attn.ops.softmax import _shifted_exp

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


class CausalAttention(Function):
    """softmax(s q kᵀ + mask) v with s = 1/sqrt(D), one node: the attention exercise's op."""

    @staticmethod
    def forward(
        ctx: Function, q: np.ndarray, k: np.ndarray, v: np.ndarray, *, mask: np.ndarray
    ) -> np.ndarray:
        """A = s q kᵀ + mask, P = softmax(A) along the keys, out = P v; saves q, k, v and P, keeps
        s and the mask.  Shapes: q (..., L, D), k (..., S, D), v (..., S, Dv), mask a constant
        broadcasting to (..., L, S) -> (..., L, Dv)."""
        scale = 1.0 / math.sqrt(q.shape[-1])
        scores = scale * (q @ np.swapaxes(k, -1, -2)) + mask  # A: (..., L, S)
        _, e, s = _shifted_exp(scores, -1)
        p = e / s  # P = softmax(A) along the keys
        ctx.save_for_backward(q, k, v, p)
        ctx.scale, ctx.mask = scale, mask
        return p @ v

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: dV = Pᵀ g; dA = P ⊙ (g Vᵀ − rowsum(g Vᵀ ⊙ P)); dQ = s dA K; dK = s dAᵀ Q."""
        q, k, v, p = ctx.saved_tensors
        grad_v = np.swapaxes(p, -1, -2) @ grad_out
        grad_p = grad_out @ np.swapaxes(v, -1, -2)
        grad_a = p * (grad_p - np.sum(grad_p * p, axis=-1, keepdims=True))
        grad_q = ctx.scale * (grad_a @ k)
        grad_k = ctx.scale * (np.swapaxes(grad_a, -1, -2) @ q)
        return grad_q, grad_k, grad_v

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """The forward in Tensor ops, differentiated (composite_grads): second derivatives of
        the exercise op come from MatMul's and Softmax's own rules."""
        q, k, v, _ = ctx.saved_tensors
        scale, mask = ctx.scale, constant(ctx.mask, q)

        def attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
            scores = (q @ k.transpose(-1, -2)) * scale + mask  # A: (..., L, S)
            return F.softmax(scores, dim=-1) @ v

        return composite_grads(ctx, grad_out, attention, (q, k, v))


def _heads(x: np.ndarray, num_heads: int) -> np.ndarray:
    """(B, T, H*D) -> (B, H, T, D), a copy."""
    batch, length, width = x.shape
    return np.ascontiguousarray(
        x.reshape(batch, length, num_heads, width // num_heads).transpose(0, 2, 1, 3)
    )


def _merge(x: np.ndarray) -> np.ndarray:
    """(B, H, T, D) -> (B, T, H*D)."""
    batch, heads, length, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(batch, length, heads * d)


def _full_mask(mask: np.ndarray | None, causal_offset: int | None, rows: int, cols: int, dtype):
    """The padding mask plus the causal one (key j blocked for query i when j > i + offset)."""
    total = np.zeros((rows, cols), dtype=dtype)
    if causal_offset is not None:
        future = np.arange(cols)[None, :] > np.arange(rows)[:, None] + causal_offset
        total[future] = -np.inf
    return total if mask is None else total + mask


def standin_for(learner_cls: type[Function]) -> type[Function]:
    """A Function with ScaledDotProductAttention's signature that runs `learner_cls` (the
    learner's CausalAttention) on plain per-head arrays.

    Shapes: as ScaledDotProductAttention (heads layout, packed or not, or plain).
    backward: the learner's dq, dk, dv, merged back into the caller's layout.
    """

    class AttentionStandIn(Function):
        """ScaledDotProductAttention's arguments -> the learner's CausalAttention.

        Shapes: as ScaledDotProductAttention.  backward: the learner's, re-laid out."""

        @staticmethod
        def forward(ctx: Function, q, k, v, bias, *, num_heads=0, packed=False, mask=None,
                    causal_offset=None, keep=None, dropout_p=0.0, block_size=None,
                    weights_out=None):  # fmt: skip
            if bias is not None or keep is not None or weights_out is not None:
                raise ValueError(
                    "the attention exercise covers softmax(s q kᵀ + mask) v only: no learned "
                    "bias, no dropout, no returned weights (learn train builds such a model)"
                )
            ctx.packed, ctx.num_heads = packed, num_heads
            if packed:
                q, k, v = np.split(q, 3, axis=-1)
            if num_heads:
                q, k, v = _heads(q, num_heads), _heads(k, num_heads), _heads(v, num_heads)
            full = _full_mask(mask, causal_offset, q.shape[-2], k.shape[-2], q.dtype)
            inner = learner_cls()
            inner.needs_input_grad = (True, True, True)
            ctx.inner = inner
            out = learner_cls.forward(inner, q, k, v, mask=full)
            return _merge(out) if num_heads else out

        @staticmethod
        def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
            g = _heads(grad_out, ctx.num_heads) if ctx.num_heads else grad_out
            grads = type(ctx.inner).backward(ctx.inner, g)
            if ctx.num_heads:
                grads = tuple(_merge(x) for x in grads)
            if ctx.packed:
                return np.concatenate(grads, axis=-1), None, None, None
            return (*grads, None)

    AttentionStandIn.__name__ = AttentionStandIn.__qualname__ = f"{learner_cls.__name__}StandIn"
    return AttentionStandIn
