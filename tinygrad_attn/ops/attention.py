"""Scaled dot-product attention as one op, its backward written out by hand.

For one head, with queries Q (L, D), keys K (S, D), values V (S, Dv) and s = 1/sqrt(D):

    A = s Q Kᵀ + bias         the scores; a mask is a bias of 0 (may attend) and -inf (blocked)
    P = softmax(A)            row by row; a query whose keys are all blocked gets P = 0, not NaN
    P̃ = P ⊙ keep / (1 - p)    dropout on the weights (keep holds 0 and 1; P̃ = P without dropout)
    O = P̃ V

backward, with g = dL/dO (L, Dv):

    dV = P̃ᵀ g,   dP = (g Vᵀ) ⊙ keep / (1 - p)
    dA = P ⊙ (dP − δ),   δ = rowsum(dP ⊙ P) = rowsum(g ⊙ O)   (an (L, Dv) product, not (L, S))
    dQ = s dA K,   dK = s dAᵀ Q,   dbias = dA (summed over the axes the bias was broadcast along)

docs/self_attention.md derives them. Two layouts of the same math:
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

import functools
import math
from typing import Any

import numpy as np

from tinygrad_attn.autograd import Function, unbroadcast
from tinygrad_attn.ops.rowwise import row_max, row_sum


class ScaledDotProductAttention(Function):
    """softmax(s q kᵀ + bias + mask) v, fused (see the module docstring for layouts and math).

    Shapes: plain q (..., L, D), k (..., S, D), v (..., S, Dv) -> (..., L, Dv); heads
    q (B, L, H*D), k and v (B, S, H*D) -> (B, L, H*D); bias and mask broadcast to (..., L, S)
    (heads: (B, H, L, S)); keep (dropout) the same.
    backward: dV = P̃ᵀ g; dA = P ⊙ (dP − rowsum(g ⊙ O)) with dP = g Vᵀ (⊙ keep/(1-p));
    dQ = s dA K; dK = s dAᵀ Q; dbias = dA.

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
        layout = _Layout(q, k, v, num_heads, packed)
        qh, kh, vh = layout.heads(q, k, v)
        scale = 1.0 / math.sqrt(qh.shape[-1])
        qs = qh * qh.dtype.type(scale)  # scale q, not the scores: L*D work instead of L*S
        k_t = _transposed(kh)  # (..., D, S) contiguous: BLAS runs faster than on a view
        extras = _Extras(bias, mask, causal_offset, keep, dropout_p, kh.shape[-2])
        extras.shift = not _scores_are_small(qs, k_t, extras)
        out, oh = layout.new_output(qh, kh, vh)
        length = qh.shape[-2]
        blocked = block_size is not None and block_size < length
        if not blocked:
            probs = extras.scores(qs, k_t, (0, length), (0, extras.key_end(length)))
            _softmax_(probs, extras.shift)
            probs.flags.writeable = False  # shared with weights_out: an edit must not be silent
            if weights_out is not None:
                weights_out.append(_pad_keys(probs, kh.shape[-2]))
            np.matmul(extras.dropped(probs, 0, 0), vh[..., : probs.shape[-1], :], out=oh)
            saved = probs  # one block: backward reads the weights themselves
        else:
            saved = _blocked_forward(qs, k_t, vh, oh, extras, block_size)  # row log-sum-exp
        ctx.layout, ctx.extras, ctx.scale = layout, extras, scale
        ctx.block_size = block_size if blocked else None
        ctx.save_for_backward(qs, k_t, kh, vh, out, saved, bias)
        return out

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        qs, k_t, kh, vh, out, saved, bias = ctx.saved_tensors
        extras, length = ctx.extras, qs.shape[-2]
        gh, oh = ctx.layout.split_output(grad_out), ctx.layout.split_output(out)
        delta = row_sum(gh * oh, gh.ndim - 1)  # (..., L, 1): rowsum(dP ⊙ P) the cheap way
        one_block = ctx.block_size is None  # else `saved` is the row log-sum-exp
        grads = _Grads(ctx, qs, kh, vh, bias, accumulate_dq=not one_block)
        key_end = extras.key_end(length)
        blocks = [(0, key_end)] if one_block else _blocks(key_end, ctx.block_size)
        # With blocks, two subtractions ride in the products, saving a pass over each block:
        # [s q | -lse] @ [kᵀ; 1] = A - lse, and [g | -δ] @ [vᵀ; 1] = dP - δ (not with dropout,
        # whose mask comes between dP̃ and δ). One block has no lse to subtract, and there the
        # copies that make [g | -δ] cost more than the pass they save (measured at T = 32).
        fold_delta = not one_block and extras.keep is None
        if not one_block:
            q_lse, k_ones = _with_column(qs, -saved), _with_ones_row(k_t)  # (..., L, D+1), ...
        if fold_delta:
            g_delta, v_ones = _with_column(gh, -delta), _with_ones_row(_transposed(vh))
        else:
            v_t = _transposed(vh)  # (..., Dv, S)
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
                d_scores = g_delta[..., r0:, :] @ v_ones[..., j0:j1]  # dP - δ (..., rows, keys)
            else:
                d_scores = extras.undropped(g @ v_t[..., j0:j1], r0, j0)  # dP
                d_scores -= delta[..., r0:, :]
            d_scores *= probs  # dA = P ⊙ (dP − δ), in dP's buffer
            grads.store_scores(d_scores, r0, j0, j1)
        return grads.result(key_end)


def _blocked_forward(
    qs: np.ndarray,
    k_t: np.ndarray,
    vh: np.ndarray,
    oh: np.ndarray,
    extras: _Extras,
    block_size: int,
) -> np.ndarray:
    """Forward over blocks of query rows, writing O into `oh`; returns each row's log-sum-exp
    (..., L, 1). With E = exp(A - max), O = (E V) / rowsum(E): the division is on the (n, Dv)
    rows after the product, not on the (n, S) weights, and without dropout the row sums come
    out of the same product as a last column, E @ [V | 1]."""
    length = qs.shape[-2]
    if extras.keep is None:
        ones = np.ones(vh.shape[:-1] + (1,), dtype=vh.dtype)
        vh = np.concatenate([vh, ones], axis=-1)  # (..., S, Dv + 1) = [V | 1]
    lse = None
    for i0, i1 in _blocks(length, block_size):
        end = extras.key_end(i1)
        weights = extras.scores(qs, k_t, (i0, i1), (0, end))
        top = _exp_(weights, extras.shift)  # E, in place
        if extras.keep is None:
            product = weights @ vh[..., :end, :]  # (..., n, Dv + 1)
            unscaled, total = product[..., :-1], product[..., -1:]
        else:
            unscaled = extras.dropped(weights, i0, 0) @ vh[..., :end, :]
            total = row_sum(weights, weights.ndim - 1)
        total[total == 0] = 1  # every key blocked: 0 / 1 = 0 weights
        np.divide(unscaled, total, out=oh[..., i0:i1, :])
        if lse is None:
            lse = np.empty(total.shape[:-2] + (length, 1), dtype=total.dtype)
        lse[..., i0:i1, :] = np.log(total) + top
    return lse


class AttentionWeights(Function):
    """P = softmax(s q kᵀ + bias + mask), the weights that ScaledDotProductAttention applies.

    nn.MultiheadAttention returns them (need_weights=True): the attention op hands over the P it
    computed (`probs`), so this node costs no second forward, and it carries the gradient of the
    weights back to q, k and the bias. Without `probs` it computes P itself.
    Shapes: as ScaledDotProductAttention's q, k, bias -> (..., L, S) or (B, H, L, S).
    backward: dA = P ⊙ (g − rowsum(g ⊙ P)); dQ = s dA K; dK = s dAᵀ Q; dbias = dA.
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
        layout = _Layout(q, k, None, num_heads, packed)
        qh, kh, _ = layout.heads(q, k, None)
        scale = 1.0 / math.sqrt(qh.shape[-1])
        qs = qh * qh.dtype.type(scale)
        extras = _Extras(bias, mask, causal_offset, None, 0.0, kh.shape[-2])
        if probs is None:
            scores = extras.scores(qs, _transposed(kh), (0, qs.shape[-2]), (0, kh.shape[-2]))
            _softmax_(scores)
            probs = scores
        ctx.layout, ctx.extras, ctx.scale = layout, extras, scale
        ctx.save_for_backward(qs, kh, probs, bias)
        return probs

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        qs, kh, probs, bias = ctx.saved_tensors
        d_scores = grad_out * probs
        d_scores -= probs * row_sum(d_scores, d_scores.ndim - 1)  # softmax backward
        grads = _Grads(ctx, qs, kh, None, bias, accumulate_dq=False)
        grads.store_scores(d_scores, 0, 0, kh.shape[-2])
        return grads.result(kh.shape[-2])


# ----- the pieces both ops share ----------------------------------------------------------
class _Layout:
    """Where q, k, v and their gradients live: plain arrays, or heads as strided views."""

    def __init__(
        self, q: np.ndarray, k: Any, v: Any, num_heads: int, packed: bool
    ) -> None:
        self.num_heads, self.packed = num_heads, packed
        self.q_shape = q.shape
        self.k_shape = None if k is None else k.shape
        self.v_shape = None if v is None else v.shape

    def _split(self, x: np.ndarray) -> np.ndarray:
        """(B, T, H*D) -> (B, H, T, D), a view."""
        batch, length, width = x.shape
        heads = x.reshape(batch, length, self.num_heads, width // self.num_heads)
        return heads.transpose(0, 2, 1, 3)

    def heads(self, q: np.ndarray, k: Any, v: Any) -> tuple:
        """q, k, v as (..., T, D) arrays (views into the inputs)."""
        if self.packed:
            batch, length, width = q.shape
            d = width // (3 * self.num_heads)
            parts = q.reshape(batch, length, 3, self.num_heads, d)  # (B, T, 3, H, D)
            return tuple(parts[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # (B, H, T, D)
        if self.num_heads == 0:
            return q, k, v
        return self._split(q), self._split(k), None if v is None else self._split(v)

    def new_output(self, qh: np.ndarray, kh: np.ndarray, vh: np.ndarray) -> tuple:
        """(output array, its (..., L, Dv) view) in the caller's layout."""
        length, dv = qh.shape[-2], vh.shape[-1]
        if self.num_heads == 0:
            batch = np.broadcast_shapes(qh.shape[:-2], kh.shape[:-2], vh.shape[:-2])
            out = np.empty(batch + (length, dv), dtype=qh.dtype)
            return out, out
        out = np.empty((qh.shape[0], length, self.num_heads, dv), dtype=qh.dtype)  # (B, L, H, Dv)
        return out.reshape(qh.shape[0], length, -1), out.transpose(0, 2, 1, 3)

    def split_output(self, x: np.ndarray) -> np.ndarray:
        return x if self.num_heads == 0 else self._split(x)

    def new_grads(self, qs: np.ndarray, kh: np.ndarray, vh: Any) -> tuple[list, list]:
        """(arrays to return, (..., T, D) views to write dq, dk, dv into; None for no v)."""
        inputs = (qs, kh, vh)
        if self.num_heads == 0:  # the batch dims all three gradients get before unbroadcasting
            batch = np.broadcast_shapes(*(x.shape[:-2] for x in inputs if x is not None))
            arrays = [
                None if x is None else np.empty(batch + x.shape[-2:], qs.dtype) for x in inputs
            ]
            return arrays, arrays
        if self.packed:
            batch, length, _ = self.q_shape
            buf = np.empty((batch, length, 3, self.num_heads, qs.shape[-1]), dtype=qs.dtype)
            views = [buf[:, :, i].transpose(0, 2, 1, 3) for i in range(3)]  # (B, H, T, D)
            return [buf.reshape(self.q_shape), None, None], views
        arrays, views = [], []
        for shape, x in zip((self.q_shape, self.k_shape, self.v_shape), inputs):
            if x is None:
                arrays.append(None)
                views.append(None)
                continue
            buf = np.empty(shape[:2] + (self.num_heads, x.shape[-1]), dtype=qs.dtype)
            arrays.append(buf.reshape(shape))  # (B, T, H*D)
            views.append(buf.transpose(0, 2, 1, 3))  # (B, H, T, D)
        return arrays, views


class _Extras:
    """Everything added to the scores besides s q kᵀ (bias, mask, causal) and the dropout."""

    def __init__(
        self,
        bias: np.ndarray | None,
        mask: np.ndarray | None,
        causal_offset: int | None,
        keep: np.ndarray | None,
        dropout_p: float,
        num_keys: int,
    ) -> None:
        self.bias, self.mask, self.causal_offset = bias, mask, causal_offset
        self.keep, self.num_keys = keep, num_keys
        self.shift = True  # softmax's max shift; the forward turns it off for small scores
        # dropout_p = 1 drops everything: keep is all False, and the 0 scale avoids 0 * inf.
        self.keep_scale = 1.0 / (1.0 - dropout_p) if dropout_p < 1 else 0.0

    def key_end(self, i1: int) -> int:
        """Keys from this one on are blocked for every query before row i1 (causal)."""
        if self.causal_offset is None:
            return self.num_keys
        return min(self.num_keys, i1 + self.causal_offset)

    def first_query(self, j0: int) -> int:
        """Queries before this row may see no key from j0 on (causal)."""
        if self.causal_offset is None:
            return 0
        return max(0, j0 - self.causal_offset)

    def scores(
        self, qs: np.ndarray, k_t: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]
    ) -> np.ndarray:
        """A = s q kᵀ + bias + mask for query rows i0..i1 and keys j0..j1.  -> (..., n, m)."""
        (i0, i1), (j0, j1) = rows, cols
        scores = qs[..., i0:i1, :] @ k_t[..., j0:j1]  # (..., n, m)
        for extra in (self.bias, self.mask):
            if extra is not None:
                scores += _window(extra, i0, i1, j0, j1)
        if self.causal_offset is not None:
            _block_future(scores, self.causal_offset + i0 - j0)
        return scores

    def dropped(self, probs: np.ndarray, i0: int, j0: int) -> np.ndarray:
        """P̃ = P ⊙ keep / (1 - p) for the block at row i0, key j0 (P itself without dropout)."""
        if self.keep is None:
            return probs
        n, m = probs.shape[-2:]
        keep = _window(self.keep, i0, i0 + n, j0, j0 + m)
        return probs * keep * probs.dtype.type(self.keep_scale)

    def undropped(self, d_dropped: np.ndarray, i0: int, j0: int) -> np.ndarray:
        """dP from dP̃, in place: the dropout's backward."""
        if self.keep is not None:
            n, m = d_dropped.shape[-2:]
            d_dropped *= _window(self.keep, i0, i0 + n, j0, j0 + m)
            d_dropped *= d_dropped.dtype.type(self.keep_scale)
        return d_dropped


class _Grads:
    """The gradients of q, k, v and the bias, filled one block of keys at a time."""

    def __init__(
        self,
        ctx: Function,
        qs: np.ndarray,
        kh: np.ndarray,
        vh: np.ndarray | None,
        bias: np.ndarray | None,
        accumulate_dq: bool,
    ) -> None:
        self.layout, self.needs, self.scale = ctx.layout, ctx.needs_input_grad, ctx.scale
        self.qs, self.kh = qs, kh
        self.arrays, (self.dq, self.dk, self.dv) = self.layout.new_grads(qs, kh, vh)
        if self.dv is not None and vh is None:
            self.dv[...] = 0  # AttentionWeights in the packed layout: v's slot gets nothing
        # Key blocks each add to dQ: they sum in a contiguous array, scaled once at the end.
        self.dq_sum = np.zeros(self.dq.shape, self.dq.dtype) if accumulate_dq else None
        self.d_bias = None
        if bias is not None and self.needs[-1]:
            self.d_bias = np.zeros(bias.shape, dtype=qs.dtype)

    def store_values(self, dropped: np.ndarray, g: np.ndarray, j0: int, j1: int) -> None:
        """dV of keys j0..j1 = P̃ᵀ g (the rows of queries that see them)."""
        np.matmul(np.swapaxes(dropped, -1, -2), g, out=self.dv[..., j0:j1, :])

    def store_scores(self, d_scores: np.ndarray, r0: int, j0: int, j1: int) -> None:
        """dK of keys j0..j1, dQ and dbias from dA (query rows r0.., keys j0..j1)."""
        qs, keys = self.qs[..., r0:, :], self.kh[..., j0:j1, :]
        np.matmul(np.swapaxes(d_scores, -1, -2), qs, out=self.dk[..., j0:j1, :])  # s dAᵀ Q
        if self.dq_sum is None:
            np.matmul(d_scores, keys, out=self.dq)
        else:
            self.dq_sum[..., r0:, :] += d_scores @ keys
        if self.d_bias is not None:
            region = _window(self.d_bias, r0, self.qs.shape[-2], j0, j1)
            region += unbroadcast(d_scores, region.shape, "ScaledDotProductAttention")

    def result(self, key_end: int) -> tuple:
        """One gradient per input ((q, k, v, bias) or (q, k, bias)), None where not needed.
        Keys from key_end on are seen by no query (causal): zero gradient."""
        for view in (self.dk, self.dv):
            if view is not None:
                view[..., key_end:, :] = 0
        scale = self.dq.dtype.type(self.scale)
        if self.dq_sum is None:
            self.dq *= scale  # dQ = s dA K
        else:
            np.multiply(self.dq_sum, scale, out=self.dq)
        grads = [g if need else None for g, need in zip(self.arrays, self.needs[:-1])]
        if self.layout.packed:  # q carried q, k and v: one gradient for all three
            grads = [self.arrays[0] if self.needs[0] else None] + [None] * (len(grads) - 1)
        return (*grads, self.d_bias)


def _blocks(length: int, block_size: int | None) -> list[tuple[int, int]]:
    """Query row ranges [(0, b), (b, 2b), ...]; one block without a block size."""
    if block_size is None or block_size >= length:
        return [(0, length)]
    return [(i, min(i + block_size, length)) for i in range(0, length, block_size)]


# Softmax may skip its max shift when every score lies within ±_SMALL_SCORE: exp then neither
# overflows nor underflows to an all-zero row (float32's exp overflows past 88, float64's 709).
_SMALL_SCORE = {np.dtype(np.float32): 60.0, np.dtype(np.float64): 600.0}


def _scores_are_small(qs: np.ndarray, k_t: np.ndarray, extras: _Extras) -> bool:
    """True when |s q·k| <= _SMALL_SCORE for every pair, by Cauchy–Schwarz: |q·k| <= |q| |k|.

    Costs two (T, D) passes; skipping the shift saves the row max and a subtraction, two passes
    over the (L, S) scores. Only without a bias and with a mask of 0 / -inf entries: a finite
    mask value (-1e9 for "blocked", say) must still be shifted away, as a softmax would.
    """
    limit = _SMALL_SCORE.get(qs.dtype)
    if limit is None or extras.bias is not None or qs.size == 0 or k_t.size == 0:
        return False
    if extras.mask is not None and not np.all((extras.mask == 0) | np.isneginf(extras.mask)):
        return False
    q_norms = np.sqrt(np.einsum("...ld,...ld->...l", qs, qs).max(axis=-1))  # (...,)
    k_norms = np.sqrt(np.einsum("...dl,...dl->...l", k_t, k_t).max(axis=-1))  # (...,)
    return bool(np.max(q_norms * k_norms) <= limit)


def _exp_(scores: np.ndarray, shift: bool = True) -> np.ndarray | float:
    """E = exp(A - rowmax(A)) in place along the last axis; returns the row max (..., n, 1).

    A row whose scores are all -inf (every key blocked) is shifted by 0, not by its max, so
    it becomes exp(-inf) = 0 instead of exp(nan). Without `shift` (scores known to be small,
    _scores_are_small) E = exp(A), and the shift returned is 0.
    """
    if not shift:
        np.exp(scores, out=scores)
        return 0.0
    top = row_max(scores, scores.ndim - 1)
    top[~np.isfinite(top)] = 0
    scores -= top  # the max shift: exp never overflows
    np.exp(scores, out=scores)
    return top


def _softmax_(scores: np.ndarray, shift: bool = True) -> None:
    """Softmax along the last axis, in place; a row with every key blocked gets zeros."""
    _exp_(scores, shift)
    total = row_sum(scores, scores.ndim - 1)
    total[total == 0] = 1  # the empty sum: 0 / 1 = 0 weights
    scores *= 1 / total  # one division per row, then a multiplication per weight


def _with_column(x: np.ndarray, column: np.ndarray) -> np.ndarray:
    """[x | column] along the last axis.  Shapes: (..., n, d), (..., n, 1) -> (..., n, d + 1)."""
    batch = np.broadcast_shapes(x.shape[:-2], column.shape[:-2])
    parts = [np.broadcast_to(a, batch + a.shape[-2:]) for a in (x, column.astype(x.dtype))]
    return np.concatenate(parts, axis=-1)


def _with_ones_row(x_t: np.ndarray) -> np.ndarray:
    """[xᵀ; 1], a row of ones below.  Shapes: (..., d, S) -> (..., d + 1, S)."""
    ones = np.ones(x_t.shape[:-2] + (1, x_t.shape[-1]), dtype=x_t.dtype)
    return np.concatenate([x_t, ones], axis=-2)


def _transposed(x: np.ndarray) -> np.ndarray:
    """(..., T, D) -> (..., D, T) contiguous: matmul against it beats a transposed view."""
    return np.ascontiguousarray(np.swapaxes(x, -1, -2))


def _window(x: np.ndarray, i0: int, i1: int, j0: int, j1: int) -> np.ndarray:
    """Rows i0..i1 and columns j0..j1 of an array broadcast along (..., L, S) (a view)."""
    rows = slice(i0, i1) if x.shape[-2] != 1 else slice(None)
    cols = slice(j0, j1) if x.shape[-1] != 1 else slice(None)
    return x[..., rows, cols]


def _block_future(scores: np.ndarray, diagonal: int) -> None:
    """Add -inf where column c > row r + diagonal (a key after what the query may see).

    Only columns past `diagonal` and rows before m - 1 - diagonal can hold such entries, and
    there the mask is the same upper triangle for every block: it is cached.
    """
    n, m = scores.shape[-2:]
    first = max(diagonal + 1, 0)  # the first column any row must not see
    if first >= m:
        return
    rows = min(n, m - 1 - diagonal)  # rows from this one on see every column
    region = scores[..., :rows, first:]
    region += _future(rows, m - first, first - diagonal - 1, scores.dtype)


@functools.lru_cache(maxsize=32)
def _future(rows: int, cols: int, shift: int, dtype: np.dtype) -> np.ndarray:
    """(rows, cols): -inf where col >= row - shift, else 0 (read-only, cached)."""
    mask = np.triu(np.full((rows, cols), -np.inf, dtype=dtype), k=-shift)
    mask.flags.writeable = False
    return mask


def _pad_keys(probs: np.ndarray, num_keys: int) -> np.ndarray:
    """Weights over the first keys, padded with zeros to all num_keys (causal skips the rest)."""
    if probs.shape[-1] == num_keys:
        return probs
    padded = np.zeros(probs.shape[:-1] + (num_keys,), dtype=probs.dtype)
    padded[..., : probs.shape[-1]] = probs
    return padded
