"""Incremental decoding: a key/value cache so each decoding step feeds only the newest token.

Without a cache, step t of autoregressive decoding runs the decoder over the whole prefix, so
producing T tokens costs T(T+1)/2 token passes through every layer. The decoder is causal, so
the hidden states of earlier positions never change once computed: only the newest position's
query is new. The cache keeps, per decoder layer, the self-attention keys and values of every
position decoded so far (written once, at the step that computed them), and projects the
encoder memory to cross-attention keys and values once, before the first step. Each step then
runs the layers on one position per sequence, and decoding costs grow linearly with length
(apart from the attention reading t cached keys, a small term here).

The step mirrors `TransformerDecoderLayer.forward` in eval mode (dropout is the identity) with
the same masks: decoded positions holding pad_id are ignored as keys, as the full-prefix decoder
does, and so are the memory's padding positions. Tests check both paths give equal outputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_attn import Tensor, nn


class _LayerCache:
    """One decoder layer's cached keys and values.

    Shapes: self_k, self_v (N, H, capacity, D), filled for positions < length;
    cross_k, cross_v (N, H, S, D), the projected encoder memory.
    """

    def __init__(self, layer: Any, memory: Tensor, capacity: int) -> None:
        attn = layer.self_attn
        rows = memory.shape[0]
        shape = (rows, attn.num_heads, capacity, attn.head_dim)
        self.self_k = np.zeros(shape, dtype=memory.dtype)
        self.self_v = np.zeros(shape, dtype=memory.dtype)
        self.cross_k = _heads(layer.cross_attn, layer.cross_attn.k_proj(memory))  # (N, H, S, D)
        self.cross_v = _heads(layer.cross_attn, layer.cross_attn.v_proj(memory))  # (N, H, S, D)


class DecoderCache:
    """Runs a `models.Transformer` decoder one position at a time, keeping keys and values.

    Call it with the whole prefix decoded so far, (N, t) ints, one column longer than at the
    previous call; it reads only the last column (and the prefix's padding), and returns the
    logits of the next token, (N, V). Use it under `no_grad` in eval mode (as `models.decoding`
    does). Beam search reorders the rows between steps with `reorder`.

    Args:
        memory: the encoder output (N, S, E) for the N rows being decoded.
        src: the source tokens (N, S) whose pad_id positions the cross-attention ignores, or
            None to attend to every memory position.
        capacity: the longest prefix that will be decoded (the cache is allocated once).
        group_size: rows come in blocks of this many copies of one source (beam search's
            beams); `reorder` may only move rows within their block.
    """

    def __init__(
        self,
        model: Any,
        memory: Tensor,
        src: np.ndarray | None,
        capacity: int,
        group_size: int = 1,
    ) -> None:
        if memory.shape[0] % group_size:
            raise ValueError(
                f"DecoderCache: {memory.shape[0]} rows do not split into groups of {group_size}"
            )
        self.model, self.capacity, self.group_size = model, capacity, group_size
        self.length = 0  # positions decoded so far
        self.layers = [_LayerCache(layer, memory, capacity) for layer in model.decoder]
        self.memory_mask = None if src is None else _key_mask(src == model.pad_id, memory.dtype)

    def __call__(self, prefix: np.ndarray) -> np.ndarray:
        """Logits of the token after `prefix`.  Shapes: prefix (N, t) -> (N, V)."""
        t = prefix.shape[1]
        if t != self.length + 1 or t > self.capacity:
            raise ValueError(
                f"DecoderCache: expected a prefix of length {self.length + 1} (capacity "
                f"{self.capacity}), got {prefix.shape}"
            )
        model = self.model
        token = prefix[:, -1:]  # (N, 1)
        x = model.pos(model.tgt_embed(token) * math.sqrt(model.d_model), offset=t - 1)  # (N, 1, E)
        self_mask = _key_mask(prefix == model.pad_id, x.dtype)  # (N, 1, 1, t)
        for layer, cache in zip(model.decoder, self.layers):
            x = self._layer_step(layer, cache, x, self_mask)  # (N, 1, E)
        if model.norm_first:
            x = model.decoder_norm(x)
        self.length = t
        return model.project(x).data[:, -1, :]  # (N, V)

    def reorder(self, rows: np.ndarray) -> None:
        """Row i continues from old row rows[i] (beam search keeps its best beams).

        Only the self-attention keys and values move: a row never leaves its group, and the
        cross-attention ones are the same for every row of a group.
        """
        rows = np.asarray(rows)
        block = np.arange(rows.shape[0]) // self.group_size
        if rows.shape != block.shape or not np.array_equal(rows // self.group_size, block):
            raise ValueError(
                f"DecoderCache.reorder: rows must stay within their group of {self.group_size}, "
                f"got {rows.tolist()}"
            )
        filled = slice(0, self.length)
        for cache in self.layers:
            cache.self_k[:, :, filled] = cache.self_k[rows, :, filled]
            cache.self_v[:, :, filled] = cache.self_v[rows, :, filled]

    def _layer_step(
        self, layer: Any, cache: _LayerCache, x: Tensor, self_mask: np.ndarray | None
    ) -> Tensor:
        """TransformerDecoderLayer.forward for the newest position.  Shapes: (N, 1, E) -> same."""
        if layer.norm_first:
            x = x + self._self_attend(layer.self_attn, cache, layer.norm1(x), self_mask)
            x = x + self._cross_attend(layer.cross_attn, cache, layer.norm2(x))
            return x + layer.ff(layer.norm3(x))
        x = layer.norm1(x + self._self_attend(layer.self_attn, cache, x, self_mask))
        x = layer.norm2(x + self._cross_attend(layer.cross_attn, cache, x))
        return layer.norm3(x + layer.ff(x))

    def _self_attend(
        self, attn: nn.MultiheadAttention, cache: _LayerCache, x: Tensor, mask: np.ndarray | None
    ) -> Tensor:
        """Store the newest position's key and value, then attend over positions 0..t-1."""
        position = self.length
        cache.self_k[:, :, position : position + 1] = _heads(attn, attn.k_proj(x))  # (N, H, 1, D)
        cache.self_v[:, :, position : position + 1] = _heads(attn, attn.v_proj(x))
        keys = cache.self_k[:, :, : position + 1]  # (N, H, t, D)
        values = cache.self_v[:, :, : position + 1]
        return _attend(attn, x, keys, values, mask)

    def _cross_attend(self, attn: nn.MultiheadAttention, cache: _LayerCache, x: Tensor) -> Tensor:
        """Attend over the encoder memory's precomputed keys and values."""
        return _attend(attn, x, cache.cross_k, cache.cross_v, self.memory_mask)


def _heads(attn: nn.MultiheadAttention, projected: Tensor) -> np.ndarray:
    """Split a projection into heads.  Shapes: (N, L, E) -> (N, H, L, D), contiguous."""
    rows, length, _ = projected.shape
    split = projected.data.reshape(rows, length, attn.num_heads, attn.head_dim)  # (N, L, H, D)
    return np.ascontiguousarray(split.transpose(0, 2, 1, 3))  # (N, H, L, D)


def _attend(
    attn: nn.MultiheadAttention,
    x: Tensor,
    keys: np.ndarray,
    values: np.ndarray,
    mask: np.ndarray | None,
) -> Tensor:
    """attn's output for query x against given keys and values, as MultiheadAttention computes it.

    Shapes: x (N, 1, E), keys and values (N, H, S, D), mask (N, 1, 1, S) or None -> (N, 1, E).
    """
    rows = x.shape[0]
    q = _heads(attn, attn.q_proj(x)) * (1.0 / math.sqrt(attn.head_dim))  # (N, H, 1, D)
    scores = q @ keys.swapaxes(-1, -2)  # (N, H, 1, S)
    if mask is not None:
        scores += mask  # -inf at ignored keys: the same scores as MultiheadAttention's fill
    # The engine's softmax, so a fully masked row gets zero weights exactly as in the full pass.
    weights = Tensor(scores).softmax(-1).data  # (N, H, 1, S)
    heads = weights @ values  # (N, H, 1, D)
    merged = heads.transpose(0, 2, 1, 3).reshape(rows, 1, attn.embed_dim)  # (N, 1, E)
    return attn.out_proj(Tensor(merged))  # (N, 1, E)


def _key_mask(padding: np.ndarray, dtype: np.dtype) -> np.ndarray | None:
    """Key padding (N, S), True at pad, as an additive mask: -inf there, else 0.

    Shapes: (N, S) -> (N, 1, 1, S), or None when no key is padding (nothing to add).
    """
    if not padding.any():
        return None
    additive = np.where(padding, -np.inf, 0.0).astype(dtype)  # (N, S)
    return additive[:, None, None, :]
