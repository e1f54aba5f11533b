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

Long sequences: the queries are processed in blocks of `block_size` rows (the idea of
FlashAttention, Dao et al. 2022): a block's (B, H, block, S) scores exist only while it is worked
on, forward keeps each row's log-sum-exp, and backward recomputes the block's weights from it.
With a causal mask a block skips the keys that none of its queries may see.
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
        extras = _Extras(bias, mask, causal_offset, keep, dropout_p, kh.shape[-2])
        out, oh = layout.new_output(qh, kh, vh)
        blocks = _blocks(qh.shape[-2], block_size)
        lse = None  # blocks: each query row's log-sum-exp (..., L, 1)
        for i0, i1 in blocks:
            probs, end = extras.scores(qs, kh, i0, i1)
            row_lse = _softmax_(probs)
            if len(blocks) == 1:
                saved = probs  # one block: keep the weights themselves
                probs.flags.writeable = False  # shared with weights_out: edits would be silent
                if weights_out is not None:
                    weights_out.append(_pad_keys(probs, kh.shape[-2]))
            else:
                if lse is None:
                    lse = np.empty(row_lse.shape[:-2] + (qh.shape[-2], 1), dtype=row_lse.dtype)
                lse[..., i0:i1, :] = row_lse
            np.matmul(extras.dropped(probs, i0, i1), vh[..., :end, :], out=oh[..., i0:i1, :])
        ctx.layout, ctx.extras, ctx.scale, ctx.blocks = layout, extras, scale, blocks
        ctx.save_for_backward(qs, kh, vh, out, saved if lse is None else lse, bias)
        return out

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        qs, kh, vh, out, saved, bias = ctx.saved_tensors
        layout, extras, blocks = ctx.layout, ctx.extras, ctx.blocks
        gh, oh = layout.split_output(grad_out), layout.split_output(out)
        delta = row_sum(gh * oh, gh.ndim - 1)  # (..., L, 1): rowsum(dP ⊙ P) the cheap way
        grads = _Grads(ctx, qs, kh, vh, bias, accumulate=len(blocks) > 1)
        for i0, i1 in blocks:
            if len(blocks) == 1:
                probs, end = saved, saved.shape[-1]
            else:
                probs, end = extras.scores(qs, kh, i0, i1)
                probs -= saved[..., i0:i1, :]
                np.exp(probs, out=probs)  # P = exp(A - logsumexp(A)), recomputed
            g = gh[..., i0:i1, :]
            grads.add_values(extras.dropped(probs, i0, i1), g, end)
            d_probs = g @ np.swapaxes(vh[..., :end, :], -1, -2)  # (..., n, end)
            d_scores = extras.undropped(d_probs, i0, i1)
            d_scores -= delta[..., i0:i1, :]
            d_scores *= probs  # dA = P ⊙ (dP − δ), in dP's buffer
            grads.add_scores(d_scores, i0, i1, end)
        return grads.result()


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
            scores, _ = extras.scores(qs, kh, 0, qh.shape[-2])
            _softmax_(scores)
            probs = _pad_keys(scores, kh.shape[-2])
        ctx.layout, ctx.extras, ctx.scale = layout, extras, scale
        ctx.save_for_backward(qs, kh, probs, bias)
        return probs

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        qs, kh, probs, bias = ctx.saved_tensors
        d_scores = grad_out * probs
        d_scores -= probs * row_sum(d_scores, d_scores.ndim - 1)  # softmax backward
        grads = _Grads(ctx, qs, kh, None, bias, accumulate=False)
        grads.add_scores(d_scores, 0, qs.shape[-2], d_scores.shape[-1])
        return grads.result()


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
    """Everything added to the scores besides q kᵀ (bias, mask, causal) and the dropout."""

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
        self.keep_scale = 1.0 / (1.0 - dropout_p) if keep is not None else 1.0

    def key_end(self, i1: int) -> int:
        """Keys past this one are blocked for every query before row i1 (causal)."""
        if self.causal_offset is None:
            return self.num_keys
        return min(self.num_keys, i1 + self.causal_offset)

    def scores(self, qs: np.ndarray, kh: np.ndarray, i0: int, i1: int) -> tuple[np.ndarray, int]:
        """Scores of query rows i0..i1 against the keys they may see.  -> ((..., n, end), end)."""
        end = self.key_end(i1)
        scores = qs[..., i0:i1, :] @ np.swapaxes(kh[..., :end, :], -1, -2)  # (..., n, end)
        for extra in (self.bias, self.mask):
            if extra is not None:
                scores += _window(extra, i0, i1, end)
        if self.causal_offset is not None:
            first = i0 + self.causal_offset + 1  # the first key that some row must not see
            if first < end:
                scores[..., first:] += _future(i1 - i0, end - first, scores.dtype)
        return scores, end

    def dropped(self, probs: np.ndarray, i0: int, i1: int) -> np.ndarray:
        """P̃ = P ⊙ keep / (1 - p) for rows i0..i1 (P itself without dropout)."""
        if self.keep is None:
            return probs
        return probs * _window(self.keep, i0, i1, probs.shape[-1]) * probs.dtype.type(
            self.keep_scale
        )

    def undropped(self, d_dropped: np.ndarray, i0: int, i1: int) -> np.ndarray:
        """dP from dP̃, in place: the dropout's backward."""
        if self.keep is not None:
            d_dropped *= _window(self.keep, i0, i1, d_dropped.shape[-1])
            d_dropped *= d_dropped.dtype.type(self.keep_scale)
        return d_dropped


class _Grads:
    """The gradients of q, k, v and the bias, filled block by block (one block: written once)."""

    def __init__(
        self,
        ctx: Function,
        qs: np.ndarray,
        kh: np.ndarray,
        vh: np.ndarray | None,
        bias: np.ndarray | None,
        accumulate: bool,
    ) -> None:
        self.layout, self.needs, self.scale = ctx.layout, ctx.needs_input_grad, ctx.scale
        self.qs, self.kh, self.accumulate = qs, kh, accumulate
        self.arrays, (self.dq, self.dk, self.dv) = self.layout.new_grads(qs, kh, vh)
        for view in (self.dk, self.dv):
            if view is not None and (accumulate or vh is None):
                view[...] = 0  # blocks add up; AttentionWeights has no dv (packed: a zero slot)
        self.d_bias = None
        if bias is not None and self.needs[-1]:
            self.d_bias = np.zeros(bias.shape, dtype=qs.dtype)

    def _store(self, view: np.ndarray, end: int, contribution: np.ndarray) -> None:
        """view[..., :end, :] += contribution (blocks), or = it with zeros for unseen keys."""
        if self.accumulate:
            view[..., :end, :] += contribution
            return
        view[..., :end, :] = contribution
        view[..., end:, :] = 0  # keys no query may see (causal) get no gradient

    def add_values(self, dropped: np.ndarray, g: np.ndarray, end: int) -> None:
        """dV = P̃ᵀ g for the keys 0..end."""
        self._store(self.dv, end, np.swapaxes(dropped, -1, -2) @ g)  # (..., end, Dv)

    def add_scores(self, d_scores: np.ndarray, i0: int, i1: int, end: int) -> None:
        """dQ, dK and dbias from dA of query rows i0..i1 against keys 0..end."""
        dq = self.dq[..., i0:i1, :]
        np.matmul(d_scores, self.kh[..., :end, :], out=dq)
        dq *= dq.dtype.type(self.scale)  # dQ = s dA K
        self._store(self.dk, end, np.swapaxes(d_scores, -1, -2) @ self.qs[..., i0:i1, :])
        if self.d_bias is not None:
            region = _window(self.d_bias, i0, i1, end)
            region += unbroadcast(d_scores, region.shape, "ScaledDotProductAttention")

    def result(self) -> tuple:
        """One gradient per input ((q, k, v, bias) or (q, k, bias)), None where not needed."""
        grads = [g if need else None for g, need in zip(self.arrays, self.needs[:-1])]
        if self.layout.packed:  # q carried q, k and v: one gradient for all three
            grads = [self.arrays[0] if self.needs[0] else None] + [None] * (len(grads) - 1)
        return (*grads, self.d_bias)


def _blocks(length: int, block_size: int | None) -> list[tuple[int, int]]:
    """Query row ranges [(0, b), (b, 2b), ...]; one block without a block size."""
    if block_size is None or block_size >= length:
        return [(0, length)]
    return [(i, min(i + block_size, length)) for i in range(0, length, block_size)]


def _softmax_(scores: np.ndarray) -> np.ndarray:
    """Softmax along the last axis in place; returns each row's log-sum-exp (..., n, 1).

    A row whose scores are all -inf (every key blocked) gets zero weights: its max shift is
    taken as 0 and its empty sum as 1, so the row's log-sum-exp is 0 and exp(-inf - 0) = 0.
    """
    top = row_max(scores, scores.ndim - 1)
    top[~np.isfinite(top)] = 0
    scores -= top  # the max shift: exp never overflows
    np.exp(scores, out=scores)
    total = row_sum(scores, scores.ndim - 1)
    total[total == 0] = 1
    scores *= 1 / total  # one division per row, then a multiplication per weight
    return top + np.log(total)


def _window(x: np.ndarray, i0: int, i1: int, end: int) -> np.ndarray:
    """Rows i0..i1 and columns 0..end of an array broadcast along (..., L, S) (a view)."""
    rows = slice(i0, i1) if x.shape[-2] != 1 else slice(None)
    cols = slice(0, end) if x.shape[-1] != 1 else slice(None)
    return x[..., rows, cols]


@functools.lru_cache(maxsize=16)
def _future(rows: int, cols: int, dtype: np.dtype) -> np.ndarray:
    """(rows, cols): -inf where col >= row, else 0; the causal mask of a block's last keys."""
    mask = np.triu(np.full((rows, cols), -np.inf, dtype=dtype))
    mask.flags.writeable = False
    return mask


def _pad_keys(probs: np.ndarray, num_keys: int) -> np.ndarray:
    """Weights over the first keys, padded with zeros to all num_keys (causal skips the rest)."""
    if probs.shape[-1] == num_keys:
        return probs
    padded = np.zeros(probs.shape[:-1] + (num_keys,), dtype=probs.dtype)
    padded[..., : probs.shape[-1]] = probs
    return padded
