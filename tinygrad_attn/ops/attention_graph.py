"""The second-order rules of the attention ops: their forward re-expressed in Tensor ops.

Under `create_graph=True`, ScaledDotProductAttention and AttentionWeights differentiate this
composition of primitives (split heads, s q kᵀ + bias + mask, the causal -inf, softmax, the
dropout's keep / (1 - p), P V, merge heads) on their saved inputs, so every mask, the key
padding, a position bias and the blocked path get exact second derivatives from the
primitives' own rules (softmax's is y ⊙ (g − rowsum(g ⊙ y)) differentiated again). The blocked
path's memory saving does not carry over: this composition holds the (..., L, S) weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_attn.autograd.graph import constant
from tinygrad_attn.ops.attention_parts import Extras, Layout
from tinygrad_attn.ops.selection import MaskedFill

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


def input_values(layout: Layout, qh: np.ndarray, kh: np.ndarray, vh: Any) -> tuple:
    """The op's input arrays (q, k, v; packed: the (B, T, 3E) q and two Nones) rebuilt from
    the (..., T, D) head views it saved. A packed AttentionWeights saves no v: its slot is
    zeros (the weights do not depend on it)."""
    if layout.num_heads == 0:
        return qh, kh, vh
    if layout.packed:
        parts = [x.transpose(0, 2, 1, 3) for x in (qh, kh, np.zeros_like(qh) if vh is None else vh)]
        return np.stack(parts, axis=2).reshape(layout.q_shape), None, None

    def merge(x: np.ndarray) -> np.ndarray:
        return x.transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1)

    return merge(qh), merge(kh), None if vh is None else merge(vh)


def _heads(layout: Layout, q: Tensor, k: Any, v: Any) -> tuple:
    """q, k, v as (..., T, D) Tensors (Reshape and Permute nodes)."""
    heads = layout.num_heads
    if heads == 0:
        return q, k, v
    if layout.packed:
        batch, length, width = q.shape
        parts = q.reshape(batch, length, 3, heads, width // (3 * heads))
        return tuple(parts[:, :, i].permute(0, 2, 1, 3) for i in range(3))

    def split(x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], x.shape[1], heads, -1).permute(0, 2, 1, 3)

    return split(q), split(k), None if v is None else split(v)


def weights(layout: Layout, extras: Extras, scale: float, q: Tensor, k: Any, bias: Any) -> Tensor:
    """P = softmax(s q kᵀ + bias + mask, causal -inf) in Tensor ops.  -> (..., L, S)."""
    qh, kh, _ = _heads(layout, q, k, None)
    scores = (qh * scale) @ kh.transpose(-1, -2)
    if bias is not None:
        scores = scores + bias
    if extras.mask is not None:
        scores = scores + constant(extras.mask, scores)
    if extras.causal_offset is not None:
        rows, cols = scores.shape[-2:]
        future = np.triu(np.ones((rows, cols), dtype=bool), k=extras.causal_offset + 1)
        scores = MaskedFill.apply(scores, mask=future, value=-np.inf)
    return scores.softmax(-1)


def attention(
    layout: Layout, extras: Extras, scale: float, q: Tensor, k: Any, v: Any, bias: Any
) -> Tensor:
    """softmax(...) v with the dropout's keep / (1 - p), heads merged back, in Tensor ops."""
    probs = weights(layout, extras, scale, q, k, bias)
    if extras.keep is not None:
        probs = probs * constant(extras.keep * extras.keep_scale, probs)
    _, _, vh = _heads(layout, q, k, v)
    out = probs @ vh
    if layout.num_heads == 0:
        return out
    return out.permute(0, 2, 1, 3).reshape(out.shape[0], out.shape[2], -1)
