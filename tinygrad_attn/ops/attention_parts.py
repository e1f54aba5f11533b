"""The pieces the two attention ops of ops/attention_fast.py share, so it reads as the math.

- `Layout`: where q, k, v and their gradients live (plain arrays, or heads as strided views
  of (B, T, H*D) projections, packed or not).
- `Extras`: everything added to the scores besides s q kᵀ (a bias, a constant mask, the
  causal mask of a block) and the dropout of the weights.
- `Grads`: the gradient buffers, filled one block of keys at a time.
- Softmax in place (`exp_`, `softmax_`) with the test that lets it skip its max shift
  (`scores_are_small`), and small array helpers.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tinygrad_attn.autograd import Function, unbroadcast
from tinygrad_attn.ops.rowwise import row_max, row_sum


class Layout:
    """Where q, k, v and their gradients live: plain arrays, or heads as strided views."""

    def __init__(self, q: np.ndarray, k: Any, v: Any, num_heads: int, packed: bool) -> None:
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
        """The op's output (or its gradient) as (..., L, Dv) head views."""
        return x if self.num_heads == 0 else self._split(x)

    def new_grads(self, qh: np.ndarray, kh: np.ndarray, vh: Any) -> tuple[list, list]:
        """(arrays to return, (..., T, D) views to write dq, dk, dv into; None for no v)."""
        inputs = (qh, kh, vh)
        if self.num_heads == 0:  # the batch dims all three gradients get before unbroadcasting
            batch = np.broadcast_shapes(*(x.shape[:-2] for x in inputs if x is not None))
            arrays = [
                None if x is None else np.empty(batch + x.shape[-2:], qh.dtype) for x in inputs
            ]
            return arrays, arrays
        if self.packed:
            batch, length, _ = self.q_shape
            buf = np.empty((batch, length, 3, self.num_heads, qh.shape[-1]), dtype=qh.dtype)
            views = [buf[:, :, i].transpose(0, 2, 1, 3) for i in range(3)]  # (B, H, T, D)
            return [buf.reshape(self.q_shape), None, None], views
        arrays, views = [], []
        for shape, x in zip((self.q_shape, self.k_shape, self.v_shape), inputs):
            if x is None:
                arrays.append(None)
                views.append(None)
                continue
            buf = np.empty(shape[:2] + (self.num_heads, x.shape[-1]), dtype=qh.dtype)
            arrays.append(buf.reshape(shape))  # (B, T, H*D)
            views.append(buf.transpose(0, 2, 1, 3))  # (B, H, T, D)
        return arrays, views


class Extras:
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
                scores += window(extra, i0, i1, j0, j1)
        if self.causal_offset is not None:
            block_future(scores, self.causal_offset + i0 - j0)
        return scores

    def dropped(self, probs: np.ndarray, i0: int, j0: int) -> np.ndarray:
        """P̃ = P ⊙ keep / (1 - p) for the block at row i0, key j0 (P itself without dropout)."""
        if self.keep is None:
            return probs
        n, m = probs.shape[-2:]
        keep = window(self.keep, i0, i0 + n, j0, j0 + m)
        return probs * keep * probs.dtype.type(self.keep_scale)

    def undropped(self, d_dropped: np.ndarray, i0: int, j0: int) -> np.ndarray:
        """dP from dP̃, in place: the dropout's backward."""
        if self.keep is not None:
            n, m = d_dropped.shape[-2:]
            d_dropped *= window(self.keep, i0, i0 + n, j0, j0 + m)
            d_dropped *= d_dropped.dtype.type(self.keep_scale)
        return d_dropped


class Grads:
    """The gradients of q, k, v and the bias, filled one block of keys at a time."""

    def __init__(
        self,
        ctx: Function,
        qh: np.ndarray,
        kh: np.ndarray,
        vh: np.ndarray | None,
        bias: np.ndarray | None,
        accumulate_dq: bool,
    ) -> None:
        self.layout, self.needs, self.scale = ctx.layout, ctx.needs_input_grad, ctx.scale
        self.qh, self.kh = qh, kh  # unscaled: dQ and dK get the scale s once, at the end
        self.arrays, (self.dq, self.dk, self.dv) = self.layout.new_grads(qh, kh, vh)
        if self.dv is not None and vh is None:
            self.dv[...] = 0  # AttentionWeights in the packed layout: v's slot gets nothing
        # Key blocks each add to dQ: they sum in a contiguous array, scaled once at the end.
        self.dq_sum = np.zeros(self.dq.shape, self.dq.dtype) if accumulate_dq else None
        self.d_bias = None
        if bias is not None and self.needs[-1]:
            self.d_bias = np.zeros(bias.shape, dtype=qh.dtype)

    def store_values(self, dropped: np.ndarray, g: np.ndarray, j0: int, j1: int) -> None:
        """dV of keys j0..j1 = P̃ᵀ g (the rows of queries that see them)."""
        np.matmul(np.swapaxes(dropped, -1, -2), g, out=self.dv[..., j0:j1, :])

    def store_scores(self, d_scores: np.ndarray, r0: int, j0: int, j1: int) -> None:
        """dK of keys j0..j1, dQ and dbias from dA (query rows r0.., keys j0..j1)."""
        queries, keys = self.qh[..., r0:, :], self.kh[..., j0:j1, :]
        np.matmul(np.swapaxes(d_scores, -1, -2), queries, out=self.dk[..., j0:j1, :])  # dAᵀ Q
        if self.dq_sum is None:
            np.matmul(d_scores, keys, out=self.dq)
        else:
            self.dq_sum[..., r0:, :] += d_scores @ keys
        if self.d_bias is not None:
            region = window(self.d_bias, r0, self.qh.shape[-2], j0, j1)
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
        self.dk[..., :key_end, :] *= scale  # dK = s dAᵀ Q
        grads = [g if need else None for g, need in zip(self.arrays, self.needs[:-1])]
        if self.layout.packed:  # q carried q, k and v: one gradient for all three
            grads = [self.arrays[0] if self.needs[0] else None] + [None] * (len(grads) - 1)
        return (*grads, self.d_bias)


def block_ranges(length: int, block_size: int | None) -> list[tuple[int, int]]:
    """Row (or key) ranges [(0, b), (b, 2b), ...]; one range without a block size."""
    if block_size is None or block_size >= length:
        return [(0, length)]
    return [(i, min(i + block_size, length)) for i in range(0, length, block_size)]


# Softmax may skip its max shift when every score lies within ±SMALL_SCORE: exp then neither
# overflows nor underflows to an all-zero row (float32's exp overflows past 88, float64's 709).
SMALL_SCORE = {np.dtype(np.float32): 60.0, np.dtype(np.float64): 600.0}


def scores_are_small(qs: np.ndarray, k_t: np.ndarray, extras: Extras) -> bool:
    """True when |s q·k| <= SMALL_SCORE for every pair, by Cauchy–Schwarz: |q·k| <= |q| |k|.

    Costs two (T, D) passes; skipping the shift saves the row max and a subtraction, two passes
    over the (L, S) scores, so it is only asked when those are the larger (not for the one query
    of a decoding step). Only without a bias and with a mask of 0 / -inf entries: a finite
    mask value (-1e9 for "blocked", say) must still be shifted away, as a softmax would.
    """
    limit = SMALL_SCORE.get(qs.dtype)
    (length, dim), keys = qs.shape[-2:], k_t.shape[-1]
    if limit is None or extras.bias is not None or 2 * length * keys <= (length + keys) * dim:
        return False
    if extras.mask is not None and not np.all((extras.mask == 0) | np.isneginf(extras.mask)):
        return False
    q_norms = np.sqrt(np.einsum("...ld,...ld->...l", qs, qs).max(axis=-1))  # (...,)
    k_norms = np.sqrt(np.einsum("...dl,...dl->...l", k_t, k_t).max(axis=-1))  # (...,)
    return bool(np.max(q_norms * k_norms) <= limit)


def exp_(scores: np.ndarray, shift: bool = True) -> np.ndarray | float:
    """E = exp(A - rowmax(A)) in place along the last axis; returns the row max (..., n, 1).

    A row whose scores are all -inf (every key blocked) is shifted by 0, not by its max, so
    it becomes exp(-inf) = 0 instead of exp(nan). Without `shift` (scores known to be small,
    scores_are_small) E = exp(A), and the shift returned is 0.
    """
    if not shift:
        np.exp(scores, out=scores)
        return 0.0
    top = row_max(scores, scores.ndim - 1)
    top[~np.isfinite(top)] = 0
    scores -= top  # the max shift: exp never overflows
    np.exp(scores, out=scores)
    return top


def softmax_(scores: np.ndarray, shift: bool = True) -> None:
    """Softmax along the last axis, in place; a row with every key blocked gets zeros."""
    exp_(scores, shift)
    total = row_sum(scores, scores.ndim - 1)
    total[total == 0] = 1  # the empty sum: 0 / 1 = 0 weights
    scores *= 1 / total  # one division per row, then a multiplication per weight


def with_column(x: np.ndarray, column: np.ndarray) -> np.ndarray:
    """[x | column] along the last axis.  Shapes: (..., n, d), (..., n, 1) -> (..., n, d + 1)."""
    batch = np.broadcast_shapes(x.shape[:-2], column.shape[:-2])
    parts = [np.broadcast_to(a, batch + a.shape[-2:]) for a in (x, column.astype(x.dtype))]
    return np.concatenate(parts, axis=-1)


def with_ones_row(x_t: np.ndarray) -> np.ndarray:
    """[xᵀ; 1], a row of ones below.  Shapes: (..., d, S) -> (..., d + 1, S)."""
    ones = np.ones(x_t.shape[:-2] + (1, x_t.shape[-1]), dtype=x_t.dtype)
    return np.concatenate([x_t, ones], axis=-2)


def key_matrix(kh: np.ndarray, num_queries: int) -> np.ndarray:
    """kᵀ (..., D, S) for the score product: a contiguous copy, on which BLAS runs faster than
    on a transposed view, unless there are too few queries (a decoding step's one) to repay the
    copy, which costs as much as the product itself there."""
    view = np.swapaxes(kh, -1, -2)
    return view if num_queries < 8 else np.ascontiguousarray(view)


def transposed(x: np.ndarray) -> np.ndarray:
    """(..., T, D) -> (..., D, T) contiguous: matmul against it beats a transposed view."""
    return np.ascontiguousarray(np.swapaxes(x, -1, -2))


def window(x: np.ndarray, i0: int, i1: int, j0: int, j1: int) -> np.ndarray:
    """Rows i0..i1 and columns j0..j1 of an array broadcast along (..., L, S) (a view)."""
    rows = slice(i0, i1) if x.shape[-2] != 1 else slice(None)
    cols = slice(j0, j1) if x.shape[-1] != 1 else slice(None)
    return x[..., rows, cols]


def block_future(scores: np.ndarray, diagonal: int) -> None:
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
    region += future_mask(rows, m - first, first - diagonal - 1, scores.dtype)


@functools.lru_cache(maxsize=32)
def future_mask(rows: int, cols: int, shift: int, dtype: np.dtype) -> np.ndarray:
    """(rows, cols): -inf where col >= row - shift, else 0 (read-only, cached)."""
    mask = np.triu(np.full((rows, cols), -np.inf, dtype=dtype), k=-shift)
    mask.flags.writeable = False
    return mask


def pad_keys(probs: np.ndarray, num_keys: int) -> np.ndarray:
    """Weights over the first keys, padded with zeros to all num_keys (causal skips the rest)."""
    if probs.shape[-1] == num_keys:
        return probs
    padded = np.zeros(probs.shape[:-1] + (num_keys,), dtype=probs.dtype)
    padded[..., : probs.shape[-1]] = probs
    return padded
