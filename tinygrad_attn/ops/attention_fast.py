"""Scaled dot-product attention as one fast op, its backward written out by hand.

Read ops/attention.py first: the same math as a plain op (it keeps the (L, S) weights).

For one head, with queries Q (L, D), keys K (S, D), values V (S, Dv) and s = 1/sqrt(D):

    A = s Q Kᵀ + bias         the scores; a mask is a bias of 0 (may attend) and -inf (blocked)
    P = softmax(A)            row by row; a query whose keys are all blocked gets P = 0, not NaN
    P̃ = P ⊙ keep / (1 - p)    dropout on the weights (keep holds 0 and 1; P̃ = P without dropout)
    O = P̃ V

backward, with g = dL/dO (L, Dv):

    dV = P̃ᵀ g,   dP = (g Vᵀ) ⊙ keep / (1 - p)
    dA = P ⊙ (dP − δ),   δ = rowsum(dP ⊙ P) = rowsum(g ⊙ O)   (an (L, Dv) product, not (L, S))
    dQ = s dA K,   dK = s dAᵀ Q,   dbias = dA (summed over the axes the bias was broadcast along)

docs/self_attention.md derives them; ops/attention_parts.py holds the machinery both ops share
(layouts, masks, gradient buffers, the in-place softmax). Two layouts of the same math:
  - plain (num_heads=0): q (..., L, D), k (..., S, D), v (..., S, Dv) -> (..., L, Dv), batch
    dims broadcast (F.scaled_dot_product_attention);
  - heads (num_heads=H): q (B, L, H*D), k (B, S, H*D), v (B, S, H*Dv) -> (B, L, H*Dv). Each head is
    a strided view of the projection, and P̃ V is written straight into the merged layout, so
    splitting and merging heads copies nothing (nn.MultiheadAttention). With `packed`, q holds
    [q | k | v] side by side, (B, T, 3E): self-attention's single projection, whose gradient is
    written into one (B, T, 3E) array.

Long sequences (the idea of FlashAttention, Dao et al. 2022): with a `block_size`, forward runs
blocks of query rows, so a block's (B, H, block, S) scores exist only while it is worked on, and
keeps each row's log-sum-exp; backward runs blocks of keys against every query, recomputing the
weights from the log-sum-exp, so dK and dV of a block are each one product over all queries and
only dQ adds up across blocks. A causal mask lets a block skip the keys (forward) or queries
(backward) that it cannot pair with: about half the work of the full (L, S) matrix.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn import _buffers
from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import composite_grads
from tinygrad_attn.ops import attention_graph
from tinygrad_attn.ops.attention_parts import (
    Extras,
    Grads,
    Layout,
    block_ranges,
    exp_,
    key_matrix,
    pad_keys,
    scores_are_small,
    softmax_,
    transposed,
    with_column,
    with_ones_row,
)
from tinygrad_attn.ops.rowwise import row_sum

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


class ScaledDotProductAttention(Function):
    """softmax(s q kᵀ + bias + mask) v, fused (see the module docstring for layouts and math).

    Args (keyword-only):
        num_heads: 0 for the plain layout, else H of the heads layout.
        packed: q is the (B, T, 3E) self-attention projection; k and v are None.
        mask: a constant additive array (0 and -inf, or any float), no gradient.
        causal_offset: None, or query i may see key j only when j <= i + causal_offset (>= 0).
        keep: None, or the dropout draw (bool, True = kept) with dropout_p its probability.
        block_size: query rows per block (None: all rows in one block, weights kept for
            backward; else only the row log-sum-exp is kept and backward recomputes).
        weights_out: a list that receives P (before dropout, (..., L, S)); single block only.
    """

    @staticmethod
    def forward(
        ctx: Function,
        q: np.ndarray,
        k: np.ndarray | None,
        v: np.ndarray | None,
        bias: np.ndarray | None,
        *,
        num_heads: int = 0,
        packed: bool = False,
        mask: np.ndarray | None = None,
        causal_offset: int | None = None,
        keep: np.ndarray | None = None,
        dropout_p: float = 0.0,
        block_size: int | None = None,
        weights_out: list | None = None,
    ) -> np.ndarray:
        """O = P̃ V in one block or in blocks of query rows; keeps q, k, v, O and P (or each
        row's log-sum-exp when blocked).

        Shapes: plain q (..., L, D), k (..., S, D), v (..., S, Dv) -> (..., L, Dv); heads
        q (B, L, H*D), k and v (B, S, H*D) -> (B, L, H*D); bias and mask broadcast to
        (..., L, S) (heads: (B, H, L, S)); keep (dropout) the same.
        """
        layout = Layout(q, k, v, num_heads, packed)
        qh, kh, vh = layout.heads(q, k, v)
        scale = 1.0 / math.sqrt(qh.shape[-1])
        qs = _buffers.multiply(qh, scale)  # scale q, not the scores: L*D work instead of L*S
        k_t = key_matrix(kh, qh.shape[-2])  # (..., D, S)
        extras = Extras(bias, mask, causal_offset, keep, dropout_p, kh.shape[-2])
        extras.shift = not scores_are_small(qs, k_t, extras)
        out, oh = layout.new_output(qh, kh, vh)
        length = qh.shape[-2]
        blocked = block_size is not None and block_size < length
        if not blocked:
            probs = extras.scores(qs, k_t, (0, length), (0, extras.key_end(length)))
            softmax_(probs, extras.shift)
            probs.flags.writeable = False  # shared with weights_out: an edit must not be silent
            if weights_out is not None:
                weights_out.append(pad_keys(probs, kh.shape[-2]))
            np.matmul(extras.dropped(probs, 0, 0), vh[..., : probs.shape[-1], :], out=oh)
            saved = probs  # one block: backward reads the weights themselves
        else:
            saved = _blocked_forward(qs, k_t, vh, oh, extras, block_size)  # row log-sum-exp
        ctx.layout, ctx.extras, ctx.scale = layout, extras, scale
        ctx.block_size = block_size if blocked else None
        # The inputs' views, not the scaled q and kᵀ copies: backward remakes those (L·D work)
        # rather than keeping two more arrays per attention alive until then.
        ctx.save_for_backward(qh, kh, vh, out, saved, bias)
        return out

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: dV = P̃ᵀ g; dA = P ⊙ (dP − δ), δ = rowsum(g ⊙ O), dP = g Vᵀ (⊙ keep/(1-p));
        dQ = s dA K; dK = s dAᵀ Q; dbias = dA. Blocked: by blocks of keys, P recomputed from
        the row log-sum-exp, dQ summed over the blocks."""
        qh, kh, vh, out, saved, bias = ctx.saved_tensors
        extras, length = ctx.extras, qh.shape[-2]
        gh, oh = ctx.layout.split_output(grad_out), ctx.layout.split_output(out)
        # (..., L, 1): rowsum(dP ⊙ P) the cheap way
        delta = row_sum(_buffers.multiply(gh, oh), gh.ndim - 1)
        one_block = ctx.block_size is None  # else `saved` is the row log-sum-exp
        grads = Grads(ctx, qh, kh, vh, bias, accumulate_dq=not one_block)
        key_end = extras.key_end(length)
        blocks = [(0, key_end)] if one_block else block_ranges(key_end, ctx.block_size)
        # With blocks, two subtractions ride in the products, saving a pass over each block:
        # [s q | -lse] @ [kᵀ; 1] = A - lse, and [g | -δ] @ [vᵀ; 1] = dP - δ (not with dropout,
        # whose mask comes between dP̃ and δ). One block has no lse to subtract, and there the
        # copies that make [g | -δ] cost more than the pass they save (measured at T = 32).
        fold_delta = not one_block and extras.keep is None
        if not one_block:
            qs = _buffers.multiply(qh, ctx.scale)
            q_lse, k_ones = with_column(qs, -saved), with_ones_row(transposed(kh))  # D + 1
        if fold_delta:
            g_delta, v_ones = with_column(gh, -delta), with_ones_row(transposed(vh))
        else:
            v_t = transposed(vh)  # (..., Dv, S)
        for j0, j1 in blocks:
            r0 = extras.first_query(j0)  # queries before r0 see none of keys j0..j1
            if one_block:
                probs = saved
            else:
                probs = extras.scores(q_lse, k_ones, (r0, length), (j0, j1))  # A - lse
                np.exp(probs, out=probs)  # P = exp(A - logsumexp(A)), recomputed
            g = gh[..., r0:, :]
            grads.store_values(extras.dropped(probs, r0, j0), g, j0, j1)
            if fold_delta:
                d_scores = _buffers.matmul(g_delta[..., r0:, :], v_ones[..., j0:j1])  # dP - δ
            else:
                d_scores = extras.undropped(_buffers.matmul(g, v_t[..., j0:j1]), r0, j0)  # dP
                d_scores -= delta[..., r0:, :]
            d_scores *= probs  # dA = P ⊙ (dP − δ), in dP's buffer
            grads.store_scores(d_scores, r0, j0, j1)
            del probs, d_scores  # free before the next block's: the pool hands them out again
        return grads.result(key_end)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """The forward as Tensor ops (ops/attention_graph.py) on the saved inputs,
        differentiated with history: exact second derivatives for every mask and layout."""
        qh, kh, vh, _, _, bias = ctx.saved_tensors
        q, k, v = attention_graph.input_values(ctx.layout, qh, kh, vh)

        def attend(q: Tensor, k: Tensor | None, v: Tensor | None, b: Tensor | None) -> Tensor:
            return attention_graph.attention(ctx.layout, ctx.extras, ctx.scale, q, k, v, b)

        return composite_grads(ctx, grad_out, attend, (q, k, v, bias))


def _blocked_forward(
    qs: np.ndarray,
    k_t: np.ndarray,
    vh: np.ndarray,
    oh: np.ndarray,
    extras: Extras,
    block_size: int,
) -> np.ndarray:
    """Forward over blocks of query rows, writing O into `oh`; returns each row's log-sum-exp
    (..., L, 1). With E = exp(A - max), O = (E V) / rowsum(E): the division is on the (n, Dv)
    rows after the product, not on the (n, S) weights, and without dropout the row sums come
    out of the same product as a last column, E @ [V | 1]."""
    length = qs.shape[-2]
    if extras.keep is None:
        ones = np.ones(vh.shape[:-1] + (1,), dtype=vh.dtype)
        vh = _buffers.concatenate([vh, ones], axis=-1)  # (..., S, Dv + 1) = [V | 1]
    lse = None
    # Largest block first (causal blocks grow): each later one fits in the buffer it freed.
    for i0, i1 in reversed(block_ranges(length, block_size)):
        end = extras.key_end(i1)
        weights = extras.scores(qs, k_t, (i0, i1), (0, end))
        top = exp_(weights, extras.shift)  # E, in place
        if extras.keep is None:
            product = _buffers.matmul(weights, vh[..., :end, :])  # (..., n, Dv + 1)
            unscaled, total = product[..., :-1], product[..., -1:]
        else:
            unscaled = extras.dropped(weights, i0, 0) @ vh[..., :end, :]
            total = row_sum(weights, weights.ndim - 1)
        total[total == 0] = 1  # every key blocked: 0 / 1 = 0 weights
        np.divide(unscaled, total, out=oh[..., i0:i1, :])
        if lse is None:
            lse = np.empty(total.shape[:-2] + (length, 1), dtype=total.dtype)
        lse[..., i0:i1, :] = np.log(total) + top
        del weights
    return lse


class AttentionWeights(Function):
    """P = softmax(s q kᵀ + bias + mask), the weights that ScaledDotProductAttention applies.

    nn.MultiheadAttention returns them (need_weights=True): the attention op hands over the P it
    computed (`probs`), so this node costs no second forward, and it carries the gradient of the
    weights back to q, k and the bias. Without `probs` it computes P itself.
    """

    @staticmethod
    def forward(
        ctx: Function,
        q: np.ndarray,
        k: np.ndarray | None,
        bias: np.ndarray | None,
        *,
        num_heads: int = 0,
        packed: bool = False,
        mask: np.ndarray | None = None,
        causal_offset: int | None = None,
        probs: np.ndarray | None = None,
    ) -> np.ndarray:
        """P, handed over (`probs`) or computed; keeps q, k, P and the bias.

        Shapes: as ScaledDotProductAttention's q, k, bias -> (..., L, S) or (B, H, L, S).
        """
        layout = Layout(q, k, None, num_heads, packed)
        qh, kh, _ = layout.heads(q, k, None)
        scale = 1.0 / math.sqrt(qh.shape[-1])
        qs = qh * qh.dtype.type(scale)
        extras = Extras(bias, mask, causal_offset, None, 0.0, kh.shape[-2])
        if probs is None:
            scores = extras.scores(qs, transposed(kh), (0, qs.shape[-2]), (0, kh.shape[-2]))
            softmax_(scores)
            probs = scores
        ctx.layout, ctx.extras, ctx.scale = layout, extras, scale
        ctx.save_for_backward(qh, kh, probs, bias)
        return probs

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: dA = P ⊙ (g − rowsum(g ⊙ P)); dQ = s dA K; dK = s dAᵀ Q; dbias = dA."""
        qh, kh, probs, bias = ctx.saved_tensors
        d_scores = grad_out * probs
        d_scores -= probs * row_sum(d_scores, d_scores.ndim - 1)  # softmax backward
        grads = Grads(ctx, qh, kh, None, bias, accumulate_dq=False)
        grads.store_scores(d_scores, 0, 0, kh.shape[-2])
        return grads.result(kh.shape[-2])

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """The weights as Tensor ops on the saved inputs, differentiated with history."""
        qh, kh, _, bias = ctx.saved_tensors
        q, k, _ = attention_graph.input_values(ctx.layout, qh, kh, None)

        def weights(q: Tensor, k: Tensor | None, b: Tensor | None) -> Tensor:
            return attention_graph.weights(ctx.layout, ctx.extras, ctx.scale, q, k, b)

        return composite_grads(ctx, grad_out, weights, (q, k, bias))
