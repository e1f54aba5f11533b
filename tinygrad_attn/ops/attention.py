"""Scaled dot-product attention, the plain way: one op, its backward in a few numpy lines.

With queries Q (L, D), keys K (S, D), values V (S, Dv), s = 1/sqrt(D), per batch entry:

    A = s Q Kᵀ + bias + mask     the scores; a bool mask is 0 where True (may attend) and -inf
                                 where False, is_causal blocks every key j > query i
    P = softmax(A)               row by row; a query whose keys are all blocked gets P = 0
    P̃ = P ⊙ keep / (1 − p)       dropout of the weights, with the caller's draw (keep: 0 or 1)
    O = P̃ V

backward, with g = dL/dO (L, Dv), last line first (docs/self_attention.md, section 5):

    dV = P̃ᵀ g
    dP = (g Vᵀ) ⊙ keep / (1 − p)
    dA = P ⊙ (dP − δ),   δ = rowsum(dP ⊙ P)         softmax's backward, one row at a time
    dQ = s dA K,   dK = s dAᵀ Q,   dbias = dA summed over the axes the bias was broadcast along

This op keeps the (..., L, S) weights P for backward: that is what makes it plain. The fast
path, `ScaledDotProductAttention` in ops/attention_fast.py, computes the same numbers (equal
to 1e-12 in float64: tests/ops/test_attention_plain.py) and is what
F.scaled_dot_product_attention, F.attention and nn.MultiheadAttention run: heads as views of
(B, T, H*D) projections, the softmax in place, δ = rowsum(g ⊙ O) (an (L, Dv) product, not an
(L, S) one) and, for long sequences, blocks of query rows that keep only a log-sum-exp per row.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_attn.autograd import Function, unbroadcast
from tinygrad_attn.autograd.graph import composite_grads, constant
from tinygrad_attn.ops.softmax import _shifted_exp

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


class Attention(Function):
    """softmax(s q kᵀ + bias + mask) v with dropout on the weights (the module docstring's math).

    Args (keyword-only):
        mask: None; bool, True = may attend (F.scaled_dot_product_attention's convention); or
            float, added to the scores. A constant: no gradient (a learned one is the bias).
        is_causal: query i sees keys 0..i only (top-left aligned when L != S).
        keep: None, or the dropout draw (bool, True = kept), dropout_p its probability.
    """

    @staticmethod
    def forward(
        ctx: Function,
        q: np.ndarray,
        k: np.ndarray,
        v: np.ndarray,
        bias: np.ndarray | None,
        *,
        mask: np.ndarray | None = None,
        is_causal: bool = False,
        keep: np.ndarray | None = None,
        dropout_p: float = 0.0,
    ) -> np.ndarray:
        """A, P and O = P̃ V of the module docstring; keeps q, k, v, P and the bias.

        Shapes: q (..., L, D), k (..., S, D), v (..., S, Dv) -> (..., L, Dv), batch dims
        broadcast; bias (a tensor or None), mask and keep broadcast to the (..., L, S) scores.
        """
        ctx.scale = 1.0 / math.sqrt(q.shape[-1])
        ctx.mask = _additive(mask, is_causal, q.shape[-2], k.shape[-2], q.dtype)
        keep_scale = 1.0 / (1.0 - dropout_p) if dropout_p < 1 else 0.0  # p = 1 drops all
        ctx.drop = 1.0 if keep is None else keep * q.dtype.type(keep_scale)  # keep / (1 − p)
        scores = ctx.scale * (q @ np.swapaxes(k, -1, -2)) + ctx.mask  # A (..., L, S)
        if bias is not None:
            scores = scores + bias
        _, e, total = _shifted_exp(scores, -1)
        p = e / total  # P = softmax(A); a row of -inf is 0 / 1 = 0, not 0 / 0
        ctx.save_for_backward(q, k, v, p, bias)
        return (p * ctx.drop) @ v  # O = P̃ V

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: dV = P̃ᵀ g; dP = g Vᵀ ⊙ keep/(1−p); dA = P ⊙ (dP − rowsum(dP ⊙ P));
        dQ = s dA K; dK = s dAᵀ Q; dbias = dA (unbroadcast): a line each below."""
        q, k, v, p, bias = ctx.saved_tensors
        d_v = np.swapaxes(p * ctx.drop, -1, -2) @ grad_out  # dV = P̃ᵀ g
        d_p = (grad_out @ np.swapaxes(v, -1, -2)) * ctx.drop  # dP = g Vᵀ ⊙ keep / (1 − p)
        d_a = p * (d_p - np.sum(d_p * p, axis=-1, keepdims=True))  # dA = P ⊙ (dP − δ)
        d_q = ctx.scale * (d_a @ k)  # dQ = s dA K
        d_k = ctx.scale * (np.swapaxes(d_a, -1, -2) @ q)  # dK = s dAᵀ Q
        d_bias = None if bias is None else unbroadcast(d_a, bias.shape, "Attention")
        return d_q, d_k, d_v, d_bias  # the engine sums dQ, dK, dV back to their inputs' shapes

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """The forward in Tensor ops on the saved inputs, differentiated with history
        (composite_grads): second derivatives come from MatMul's, Add's and Softmax's rules."""
        q, k, v, _, bias = ctx.saved_tensors

        def attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None) -> Tensor:
            scores = (q @ k.transpose(-1, -2)) * ctx.scale + constant(ctx.mask, q)
            if bias is not None:
                scores = scores + bias
            return (scores.softmax(-1) * constant(ctx.drop, q)) @ v

        return composite_grads(ctx, grad_out, attend, (q, k, v, bias))


def _additive(mask: Any, is_causal: bool, rows: int, cols: int, dtype: np.dtype) -> np.ndarray:
    """The mask and the causal block as one array added to the scores (0 or -inf for bool)."""
    total = np.zeros((), dtype) if mask is None else np.asarray(mask)
    if total.dtype == np.bool_:
        total = np.where(total, 0.0, -np.inf)
    if is_causal:  # key j > query i blocked
        total = total + np.triu(np.full((rows, cols), -np.inf), k=1)
    return total.astype(dtype, copy=False)
