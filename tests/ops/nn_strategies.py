"""Case strategies for the neural-network ops: embedding, cross-entropy, linear, attention."""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

from tinygrad_attn.testing import shapes, tensors

from .strategies import Case, ints

SIDE = st.integers(1, 3)


@st.composite
def embedding_case(draw: Any) -> Case:
    """weight (V, E) and int indices of rank 0-2 (repeats likely)."""
    num, dim = draw(st.integers(1, 5)), draw(SIDE)
    indices = draw(ints(draw(shapes(max_dims=2, max_side=4)), num))
    return Case((draw(tensors((num, dim))),), {"indices": indices})


@st.composite
def dropout_case(draw: Any) -> Case:
    """x and a fixed dropout mask of 0 and 1/(1-p), as F.dropout draws it."""
    x = draw(tensors(shapes(max_dims=4, max_side=3)))
    p = draw(st.sampled_from([0.1, 0.5]))
    keep = draw(hnp.arrays(np.bool_, x.shape))
    return Case((x,), {"mask": keep.astype(np.float64) / (1 - p)})


@st.composite
def cross_entropy_case(draw: Any) -> Case:
    """logits (N, C) or (B, T, C), targets with some ignored, smoothing and a reduction."""
    classes = draw(st.integers(1, 4))
    batch = draw(st.sampled_from([(1,), (3,), (4,), (2, 2), (1, 3)]))
    ignore_index = draw(st.sampled_from([-100, 0]))
    target = draw(ints(batch, classes))
    if ignore_index == -100:
        target = np.where(draw(hnp.arrays(np.bool_, batch)), -100, target)
    return Case(
        (draw(tensors(batch + (classes,))),),
        {
            "target": target,
            "ignore_index": ignore_index,
            "label_smoothing": draw(st.sampled_from([0.0, 0.1, 0.3])),
            "reduction": draw(st.sampled_from(["mean", "sum", "none"])),
        },
    )


@st.composite
def linear_case(draw: Any) -> Case:
    """x (..., in) of rank 1-3, weight (out, in) and maybe bias (out,)."""
    lead = draw(shapes(max_dims=2, max_side=3))
    n_in, n_out = draw(SIDE), draw(SIDE)
    parts = [draw(tensors(lead + (n_in,))), draw(tensors((n_out, n_in)))]
    if draw(st.booleans()):
        parts.append(draw(tensors((n_out,))))
    return Case(tuple(parts))


@st.composite
def attention_case(draw: Any, mask: str = "none") -> Case:
    """q (..., L, E), k (..., S, E), v (..., S, Ev), and a mask of the given kind.

    mask: "none", "bool" (True = may attend), "float" (added to the scores) or "causal".
    Batch dims have rank 0-2; masks are (L, S) or carry the batch dims too.
    """
    batch = draw(shapes(max_dims=2, max_side=2))
    length, source, embed, value = draw(SIDE), draw(SIDE), draw(SIDE), draw(SIDE)
    q = draw(tensors(batch + (length, embed)))
    k = draw(tensors(batch + (source, embed)))
    v = draw(tensors(batch + (source, value)))
    mask_shape = draw(st.sampled_from([(length, source), batch + (length, source)]))
    params: dict[str, Any] = {}
    if mask == "bool":
        params["attn_mask"] = draw(hnp.arrays(np.bool_, mask_shape))
    elif mask == "float":
        floats = st.floats(-2.0, 2.0)
        params["attn_mask"] = draw(hnp.arrays(np.float64, mask_shape, elements=floats))
    elif mask == "causal":
        params["is_causal"] = True
    return Case((q, k, v), params)


@st.composite
def fused_attention_case(draw: Any, layout: str = "plain", weights: bool = False) -> Case:
    """Inputs of the fused attention ops (ops/attention_fast.py) with every extra they take.

    layout: "plain" (q (B, L, D), k (B, S, D), v (B, S, Dv)), "heads" (q (B, L, H*D), k and v
    (B, S, H*D)) or "packed" (one (B, T, 3*H*D) tensor). `weights`: AttentionWeights' inputs
    (no v, no dropout). The tensors are q[, k[, v]] and maybe a learned bias last; params hold
    a constant 0 / -inf mask (rows may be fully blocked), a causal offset, a block size and a
    fixed dropout draw.
    """
    batch, heads = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    length, dim = draw(SIDE), draw(st.integers(1, 2))
    source = length if layout == "packed" else draw(SIDE)
    if layout == "plain":
        heads = 0
        scores: tuple = (batch, length, source)
        shapes_ = [(batch, length, dim), (batch, source, dim), (batch, source, draw(SIDE))]
    else:
        scores = (batch, heads, length, source)
        shapes_ = [(batch, length, heads * dim), (batch, source, heads * dim)] * 1
        shapes_.append((batch, source, heads * dim))
    if layout == "packed":
        shapes_ = [(batch, length, 3 * heads * dim)]
    elif weights:
        shapes_ = shapes_[:2]
    parts = [draw(tensors(shape)) for shape in shapes_]
    if draw(st.booleans()):  # a learned bias, broadcast along the batch (and heads) or not
        parts.append(draw(tensors(draw(st.sampled_from([scores[-2:], scores])))))
    params: dict[str, Any] = {"num_heads": heads, "packed": layout == "packed"}
    if draw(st.booleans()):
        key_mask = scores[:1] + (1,) * (len(scores) - 2) + scores[-1:]  # like key padding
        blocked = draw(hnp.arrays(np.bool_, draw(st.sampled_from([scores[-2:], key_mask]))))
        params["mask"] = np.where(blocked, -np.inf, 0.0)
    params["causal_offset"] = draw(st.sampled_from([None, 0, 1]))
    if not weights:
        params["block_size"] = draw(st.sampled_from([None, 1, 2]))
        if draw(st.booleans()):
            params["keep"] = draw(hnp.arrays(np.bool_, scores))
            params["dropout_p"] = draw(st.sampled_from([0.25, 0.5]))
    return Case(tuple(parts), params)


@st.composite
def exercise_attention_case(draw: Any) -> Case:
    """The learn package's attention exercise (CausalAttention): q, k, v of attention_case and
    its constant mask, 0 where key j <= query i (causal, top-left aligned) and -inf after."""
    q, k, v = draw(attention_case()).tensors
    rows, cols = np.indices((q.shape[-2], k.shape[-2]))
    return Case((q, k, v), {"mask": np.where(cols > rows, -np.inf, 0.0)})
