"""The public functions (`import tinygrad_attn.functional as F`): validate, document, call ops.

Shape letters: B batch, T target length, S source length, E model dim, H heads, D head dim,
V vocab, C classes, N rows / features for the norms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_attn import _checks
from tinygrad_attn._causal_mask import causal_offset_of
from tinygrad_attn.ops import attention_fast as attn_ops
from tinygrad_attn.ops import matmul as mm
from tinygrad_attn.ops import movement as mv
from tinygrad_attn.ops import nn as nn_ops
from tinygrad_attn.ops import norm, selection
from tinygrad_attn.ops import position as pos_ops
from tinygrad_attn.random import get_rng
from tinygrad_attn.tensor import Tensor


def softmax(x: Tensor, dim: int) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim` (one node; fused backward in ops/softmax.py).

    Shapes: x (...) -> same. A row of all -inf gives zero weights and zero gradient.
    """
    return x.softmax(dim)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """x - logsumexp(x) along `dim`, computed stably.  Shapes: x (...) -> same."""
    return x.log_softmax(dim)


def relu(x: Tensor) -> Tensor:
    """max(x, 0).  Shapes: same in and out."""
    return x.relu()


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), exact to float64 precision (approximate="none", PyTorch's default), or its
    tanh form (approximate="tanh"). Shapes: same in and out. Floating input only."""
    return x.gelu(approximate)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight^T + bias, one fused node.  Shapes: x (..., in), weight (out, in), bias (out,)
    -> (..., out). All three must be floating (int input: TypeError; cast with `.float()`)."""
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        _checks.floating(t, "linear", name)
    if x.shape[-1:] != weight.shape[1:2] or weight.ndim != 2:
        raise ValueError(f"linear: input {x.shape} does not match weight (out, in) {weight.shape}")
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"linear: bias {bias.shape} does not match weight {weight.shape}")
    return mm.Linear.apply(x, weight, bias)


def embedding(indices: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of weight.  Shapes: indices (...) ints in [0, V), weight (V, E) -> (..., E)."""
    idx = _checks.as_array(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    num = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx[(idx < 0) | (idx >= num)][0]
        raise IndexError(f"embedding: index {bad} is out of range for {num} embeddings")
    return nn_ops.Embedding.apply(weight, indices=idx, padding_idx=padding_idx)


def layer_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each example over its trailing `normalized_shape` dims, then scale and shift.

    Shapes: x (..., *normalized_shape), weight and bias normalized_shape -> x's shape.
    One node; fused backward in ops/norm.py.
    """
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        _checks.floating(t, "layer_norm", name)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape or len(shape) > x.ndim:
        raise ValueError(f"layer_norm: input {x.shape} does not end with normalized_shape {shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ValueError(f"layer_norm: {name} {p.shape} != normalized_shape {shape}")
    return norm.LayerNorm.apply(x, weight, bias, num_dims=len(shape), eps=eps)


def batch_norm(
    x: Tensor,
    running_mean: Any,
    running_var: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each feature over the batch (and length) axes, then scale and shift.

    Shapes: x (N, C) or (N, C, L); running stats, weight, bias (C,) -> x's shape. In training
    the running stats (Tensors or arrays, may be None) are updated in place with PyTorch's rule.
    """
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        _checks.floating(t, "batch_norm", name)
    if x.ndim not in (2, 3):
        raise ValueError(f"batch_norm: expected (N, C) or (N, C, L) input, got {x.shape}")
    channels = x.shape[1]
    stats = [None if r is None else _checks.as_array(r) for r in (running_mean, running_var)]
    if (stats[0] is None) != (stats[1] is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    for name, p in (
        ("running_mean", stats[0]),
        ("running_var", stats[1]),
        ("weight", weight),
        ("bias", bias),
    ):
        if p is not None and p.shape != (channels,):
            raise ValueError(f"batch_norm: {name} {p.shape} does not match {channels} features")
    if training and x.numel() // channels <= 1:
        raise ValueError(f"batch_norm: training needs more than 1 value per feature, got {x.shape}")
    if not training and (stats[0] is None or stats[1] is None):
        raise ValueError("batch_norm: eval mode needs running_mean and running_var")
    return norm.BatchNorm.apply(
        x,
        weight,
        bias,
        training=training,
        running_mean=stats[0],
        running_var=stats[1],
        momentum=momentum,
        eps=eps,
    )


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (identity in eval)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    _checks.floating(x, "dropout")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    keep = get_rng().random(x.shape, dtype=np.float32) >= p
    mask = keep.astype(x.dtype) * np.asarray(1 / (1 - p), dtype=x.dtype)
    return nn_ops.Dropout.apply(x, mask=mask)


def cross_entropy(
    logits: Tensor,
    target: Any,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy, fused with log-softmax (one node; backward softmax - onehot).

    Shapes: logits (N, C) or (..., C) (class dim LAST, unlike PyTorch's (N, C, d...)),
    target (...) ints -> () for "mean"/"sum", target's shape for "none" (0 where ignored).
    "mean" averages over non-ignored targets (0 when all are ignored).
    """
    _checks.floating(logits, "cross_entropy", "logits")
    tgt = _checks.as_array(target)
    if tgt.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold class indices (ints), got {tgt.dtype}")
    if logits.ndim < 1 or logits.shape[:-1] != tgt.shape:
        raise ValueError(
            f"cross_entropy: logits {logits.shape} need target {logits.shape[:-1]}, got {tgt.shape}"
        )
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be mean, sum or none, got {reduction!r}")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    classes = logits.shape[-1]
    live = tgt[tgt != ignore_index]
    if live.size and (live.min() < 0 or live.max() >= classes):
        bad = live[(live < 0) | (live >= classes)][0]
        raise IndexError(f"cross_entropy: target {bad} is out of range for {classes} classes")
    return nn_ops.CrossEntropy.apply(
        logits,
        target=tgt,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Any = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
) -> Tensor:
    """softmax(q kᵀ / sqrt(E) + mask) v, one node with a fused backward (ops/attention_fast.py).

    Shapes: q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev); batch dims broadcast.
    A boolean attn_mask (broadcast to (..., L, S)) is True where attention is ALLOWED (PyTorch's
    convention for this function); a float mask is added to the scores, and a float Tensor that
    requires grad gets its gradient (a learned bias). Any other mask dtype is an error.
    `is_causal` lets query i see keys 0..i (top-left aligned when L != S). A query that may see
    no key gets a zero output row. Dropout (dropout_p > 0) acts on the weights.
    """
    _check_attention(q, k, v, "scaled_dot_product_attention")
    scores = np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (q.shape[-2], k.shape[-2])
    bias, mask = None, None
    causal = 0 if is_causal else None
    mask_causal = causal_offset_of(attn_mask, scores, blocked_if=False)  # tril(ones) and kin
    if mask_causal is not None:
        causal = mask_causal if causal is None else min(causal, mask_causal)
    elif attn_mask is not None:
        bias, mask = _attention_mask(attn_mask, scores, "scaled_dot_product_attention", q.dtype)
    out, _ = attention(
        q,
        k,
        v,
        bias=bias,
        mask=mask,
        causal_offset=causal,
        dropout_p=dropout_p,
        training=dropout_p > 0,
    )
    return out


def attention(
    q: Tensor,
    k: Tensor | None,
    v: Tensor | None,
    *,
    num_heads: int = 0,
    packed: bool = False,
    bias: Tensor | None = None,
    mask: np.ndarray | None = None,
    causal_offset: int | None = None,
    dropout_p: float = 0.0,
    training: bool = True,
    need_weights: bool = False,
    block_size: int | None | str = "auto",
) -> tuple[Tensor, Tensor | None]:
    """The one entry point to the fused attention op: (output, weights or None).

    Shapes: plain layout (num_heads=0): q (..., L, D), k (..., S, D), v (..., S, Dv) ->
    (..., L, Dv), weights (..., L, S). Heads layout: q (B, L, H*D), k and v (B, S, H*D) ->
    (B, L, H*D), weights (B, H, L, S); with `packed`, q is (B, T, 3*H*D) = [q | k | v] and k, v
    are None. bias (a Tensor, may require grad) and mask (a constant array of 0 / -inf or other
    floats) broadcast to the scores. Query i may see key j only when j <= i + causal_offset.
    Callers validate: F.scaled_dot_product_attention and nn.MultiheadAttention do.

    Args:
        block_size: query rows per block; "auto" blocks only when the scores would be large
            (_auto_block_size), None never blocks. need_weights always runs one block.
    """
    scores = _scores_shape(q, k, num_heads, packed)
    if block_size == "auto":
        block_size = _auto_block_size(scores, causal_offset is not None)
    keep = None
    if training and dropout_p > 0:
        keep = get_rng().random(scores, dtype=np.float32) >= dropout_p  # (..., L, S) bool
    weights_out: list | None = [] if need_weights else None
    params = dict(num_heads=num_heads, packed=packed, mask=mask, causal_offset=causal_offset)
    out = attn_ops.ScaledDotProductAttention.apply(
        q,
        k,
        v,
        bias,
        keep=keep,
        dropout_p=dropout_p if keep is not None else 0.0,
        block_size=None if need_weights else block_size,
        weights_out=weights_out,
        **params,
    )
    if not need_weights:
        return out, None
    # The weights the op computed, as a node that carries their gradient back to q, k and bias.
    return out, attn_ops.AttentionWeights.apply(q, k, bias, probs=weights_out[0], **params)


def rotary_embedding(
    x: Tensor,
    head_dim: int,
    offset: int = 0,
    width: int | None = None,
    base: float = 10000.0,
    positions: np.ndarray | None = None,
) -> Tensor:
    """Rotary position embedding (RoPE, Su et al. 2021), one node (ops/position.py).

    The feature pairs (2i, 2i+1) of each `head_dim`-wide head among the first `width` features
    (all by default) of the t-th row are rotated by the angle (offset + p_t) θ_i, θ_i =
    base^(-2i/head_dim), with p_t = t unless `positions` (T,) gives the rows' positions (e.g. a
    sorted random subset in training, Ruoss et al. 2023); the rest is copied. Rotated queries
    and keys give scores that depend on p_i - p_j only. Shapes: x (B, T, W) -> (B, T, W); a
    packed (B, T, 3E) [q | k | v] projection with width = 2E rotates q and k and leaves v.
    """
    _checks.floating(x, "rotary_embedding")
    width = x.shape[-1] if width is None else width
    if x.ndim != 3 or head_dim < 2 or head_dim % 2 or width % head_dim or width > x.shape[-1]:
        raise ValueError(
            f"rotary_embedding: x must be (B, T, W) with width <= W a multiple of an even "
            f"head_dim; got x {x.shape}, head_dim {head_dim}, width {width}"
        )
    if offset < 0:
        raise ValueError(f"rotary_embedding: offset must be >= 0, got {offset}")
    if positions is not None:
        positions = check_positions(positions, x.shape[1], "rotary_embedding")
    cos, sin = rotary_angles(x.shape[1], head_dim, offset, base, positions)
    return pos_ops.Rotary.apply(x, cos=cos, sin=sin, width=width)


def rotary_angles(
    length: int,
    head_dim: int,
    offset: int = 0,
    base: float = 10000.0,
    positions: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin) of the angles (offset + p_t) θ_i of rows t = 0 .. length - 1, in float64,
    p_t = t unless `positions` (length,) gives them.  Shapes: -> (length, head_dim / 2) each.
    """
    theta = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)  # (D/2,)
    rows = np.arange(length) if positions is None else positions
    angles = (offset + np.asarray(rows, dtype=np.float64))[:, None] * theta  # (T, D/2)
    return np.cos(angles), np.sin(angles)


def check_positions(positions: Any, length: int, op: str) -> np.ndarray:
    """`positions` as an int64 array of `length` non-negative integers, or a ValueError naming
    `op`.  Shapes: -> (length,)."""
    array = np.asarray(positions)
    if (
        array.shape != (length,)
        or not np.issubdtype(array.dtype, np.integer)
        or (length and array.min() < 0)
    ):
        raise ValueError(
            f"{op}: positions must be {length} non-negative integers (one per row), got "
            f"{array.dtype} array of shape {array.shape}"
            + (f" with minimum {array.min()}" if array.size and array.dtype.kind in "iu" else "")
        )
    return array.astype(np.int64, copy=False)


# When to run the attention op in blocks of query rows (ops/attention_fast.py), measured with
# benchmarks/bench_attention.py --blocks on 2 cores: causal self-attention runs faster in blocks
# of 16-32 rows from L = 128 on (a block skips the keys it may not see: about half the work; at
# B=2, H=8, L=256 blocks took 0.6x the time of one block, at B=64, L=64 one block was 10%
# faster), and any attention whose scores would exceed _BLOCK_SCORES elements is blocked to
# bound memory. A block holds about _BLOCK_SCORES / 4 scores (4 MB of float32: at L = 1024 and
# 4096 such blocks ran 10-40% faster than blocks of twice or half the size), 8 to 32 rows.
_BLOCK_SCORES = 1 << 22
_BLOCK_CAUSAL_FROM = 128
_BLOCK_ROWS = 32


def _auto_block_size(scores: tuple[int, ...], causal: bool) -> int | None:
    """Query rows per block for scores of this (..., L, S) shape, or None for one block."""
    length, total = scores[-2], math.prod(scores)
    if not (causal and length >= _BLOCK_CAUSAL_FROM) and total <= _BLOCK_SCORES:
        return None
    per_row = total // length  # scores of one query row over the batch and heads
    return max(8, min(_BLOCK_ROWS, (_BLOCK_SCORES // 4) // max(per_row, 1)))


def _scores_shape(q: Tensor, k: Tensor | None, num_heads: int, packed: bool) -> tuple:
    """The (..., L, S) or (B, H, L, S) shape of the attention scores."""
    if num_heads == 0:
        return np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (q.shape[-2], k.shape[-2])
    source = q.shape[1] if packed else k.shape[1]
    return (q.shape[0], num_heads, q.shape[1], source)


def _check_attention(q: Tensor, k: Tensor, v: Tensor, op: str) -> None:
    """Float q, k, v of rank >= 2 with matching E (q, k), S (k, v) and broadcastable batches."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        _checks.floating(t, op, name)
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must be (..., length, dim), got shape {t.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"{op}: q {q.shape}, k {k.shape}, v {v.shape} need matching E (q, k) and S (k, v)"
        )
    batch = _checks.broadcast_shape(q.shape[:-2], k.shape[:-2], op)
    _checks.broadcast_shape(batch, v.shape[:-2], op)


def _attention_mask(
    mask: Any,
    scores: tuple[int, ...],
    op: str,
    dtype: np.dtype,
    name: str = "attn_mask",
    blocked_if: bool = False,
) -> tuple[Tensor | None, np.ndarray | None]:
    """A user's mask as (learned bias Tensor or None, constant additive array or None).

    bool: entries equal to `blocked_if` become -inf, the others 0 (F.scaled_dot_product_attention
    blocks False, nn.MultiheadAttention blocks True); float: added as it is; a float Tensor that
    requires grad is returned as the bias. Shapes: the mask must broadcast to `scores`; masks of
    rank < 2 get leading axes of size 1.
    """
    learned = isinstance(mask, Tensor) and mask.requires_grad
    array = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if array.dtype != np.bool_ and array.dtype.kind != "f":
        allowed = "True = blocked" if blocked_if else "True = may attend"
        raise TypeError(
            f"{op}: {name} must be bool or float, got {array.dtype} (bool: {allowed}; float: "
            "added to the scores)"
        )
    try:
        fits = array.ndim <= len(scores) and np.broadcast_shapes(array.shape, scores) == scores
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{op}: {name} of shape {array.shape} does not broadcast to the scores {scores}"
        )
    lead = (1,) * max(0, 2 - array.ndim)
    if learned:
        return (mask.reshape(lead + mask.shape) if lead else mask), None
    if array.dtype == np.bool_:
        array = np.where(array == blocked_if, -np.inf, 0.0)
    return None, array.astype(dtype, copy=False).reshape(lead + array.shape)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim.  Shapes: equal except along `dim`."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    d = _checks.dim(dim, tensors[0].ndim, "cat")
    first = tensors[0].shape
    for t in tensors[1:]:
        if t.ndim != len(first) or t.shape[:d] + t.shape[d + 1 :] != first[:d] + first[d + 1 :]:
            raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ outside dim {dim}")
    return mv.Cat.apply(*tensors, dim=d)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: all shapes must be equal, got {[t.shape for t in tensors]}")
    return mv.Stack.apply(*tensors, dim=_checks.dim(dim, tensors[0].ndim + 1, "stack"))


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """a where cond is True, else b (all three broadcast together; no gradient to cond)."""
    mask = _checks.as_array(cond)
    if mask.dtype != np.bool_:
        raise TypeError(f"where: cond must be boolean, got {mask.dtype}")
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    if like is None:
        like = Tensor(a)
    ta = a if isinstance(a, Tensor) else like._operand(a)
    tb = b if isinstance(b, Tensor) else like._operand(b)
    values = _checks.broadcast_shape(ta.shape, tb.shape, "where")
    _checks.broadcast_shape(mask.shape, values, "where")
    return selection.Where.apply(ta, tb, cond=mask)
