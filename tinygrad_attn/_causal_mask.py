"""Recognising a causal mask that a user passes as an array, so attention can skip the keys.

A decoder written against PyTorch passes its causal mask as an array: `torch.triu(ones, 1)`
(bool, True = blocked) to `nn.MultiheadAttention`, `generate_square_subsequent_mask` (float,
-inf above the diagonal), or `tril(ones)` (bool, True = may attend) to
`scaled_dot_product_attention`. As an array such a mask costs an (L, S) float mask added to
every block of scores, and every block computes the scores of keys it may not see. Recognised,
it becomes the attention op's `causal_offset`: no mask array at all, and about half the work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_ROWS_PER_CHECK = 256  # rows compared at a time: the check's temporaries stay small


def causal_offset_of(mask: Any, scores: tuple[int, ...], blocked_if: bool) -> int | None:
    """k >= 0 when `mask` is a constant mask blocking exactly the keys j > i + k of every query
    i, else None (also for None, a Tensor that requires grad, or any other shape).

    Shapes: mask (L, S), or with leading axes of size 1, where scores is (..., L, S). A bool
    mask blocks where it equals `blocked_if` (nn.MultiheadAttention: True;
    F.scaled_dot_product_attention: False); a float mask must be exactly -inf where blocked and
    exactly 0 elsewhere (any other value is a bias, not a mask). Costs a few passes over the
    mask, in blocks of rows.
    """
    if mask is None or getattr(mask, "requires_grad", False):
        return None
    array = np.asarray(getattr(mask, "data", mask))  # a Tensor's data, or the array itself
    lead = array.shape[:-2]
    if array.ndim < 2 or array.shape[-2:] != tuple(scores[-2:]) or any(n != 1 for n in lead):
        return None
    array = array.reshape(array.shape[-2:])
    if 0 in array.shape:
        return None
    if array.dtype == np.bool_:
        first_row_blocked = array[0] == blocked_if
    elif array.dtype.kind == "f":
        first_row_blocked = np.isneginf(array[0])
    else:
        return None
    allowed = int(array.shape[1] - np.count_nonzero(first_row_blocked))
    if allowed == 0:
        return None
    offset = allowed - 1  # query 0 sees keys 0..offset
    keys = np.arange(array.shape[1])
    for i0 in range(0, array.shape[0], _ROWS_PER_CHECK):
        rows = array[i0 : i0 + _ROWS_PER_CHECK]
        queries = np.arange(i0, i0 + rows.shape[0])[:, None]
        blocked = keys[None, :] > queries + offset  # (rows, S): the causal pattern
        if not _matches(rows, blocked, blocked_if):
            return None
    return offset


def _matches(rows: np.ndarray, blocked: np.ndarray, blocked_if: bool) -> bool:
    """Whether these mask rows block exactly where `blocked` is True (and, float: are 0 else)."""
    if rows.dtype == np.bool_:
        return bool(np.array_equal(rows, blocked if blocked_if else ~blocked))
    return bool(np.array_equal(rows, np.where(blocked, -np.inf, 0.0)))
