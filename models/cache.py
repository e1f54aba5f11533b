"""Incremental decoding: a key/value cache so each decoding step feeds only the newest token.

Without a cache, step t of autoregressive decoding runs the decoder over the whole prefix, so
producing T tokens costs T(T+1)/2 token passes through every layer. The decoder is causal, so
the hidden states of earlier positions never change once computed: only the newest position's
query is new. The cache keeps, per decoder layer, the self-attention keys and values of every
position decoded so far (written once, at the step that computed them), and projects the
encoder memory to cross-attention keys and values once, at the first step. Each step then runs
the layers on one position per sequence, and decoding costs grow linearly with length (apart
from the attention reading t cached keys, a small term here).

The step is the decoder itself: `Transformer.decode(prefix, memory, src, cache=...)` runs the
same layers (`nn.MultiheadAttention(..., cache=...)`) on the positions the cache does not hold
yet, with the same masks (decoded positions holding pad_id are ignored as keys, as the
full-prefix decoder does, and so are the memory's padding positions). Tests check both paths
give the same logits and tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_attn import Tensor, nn


class DecoderLayerCache:
    """One decoder layer's caches: self-attention keys so far, the memory's projected once."""

    def __init__(self, capacity: int) -> None:
        self.self_attn = nn.KVCache(capacity)
        self.cross_attn = nn.KVCache()

    def reorder(self, rows: np.ndarray) -> None:
        """Beam search: row i continues old row rows[i]. The memory is the same for every beam
        of a source (rows only move within their source's group), so only self-attention's
        keys and values move."""
        self.self_attn.reorder(rows)


class DecoderCache:
    """Runs a `models.Transformer` decoder one position at a time, keeping keys and values.

    Call it with the whole prefix decoded so far, (N, t) ints, one column longer than at the
    previous call; only the last column is run through the decoder (the prefix gives the
    padding), and it returns the logits of the next token, (N, V). Use it under `no_grad` in
    eval mode (as `models.decoding` does). Beam search reorders the rows between steps with
    `reorder`.

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
        self.model, self.memory, self.src = model, memory, src
        self.capacity, self.group_size = capacity, group_size
        self.layers = [DecoderLayerCache(capacity) for _ in model.decoder]

    @property
    def length(self) -> int:
        """Positions decoded so far."""
        return self.layers[0].self_attn.length

    def __call__(self, prefix: np.ndarray) -> np.ndarray:
        """Logits of the token after `prefix`.  Shapes: prefix (N, t) -> (N, V)."""
        t = prefix.shape[1]
        if t != self.length + 1 or t > self.capacity:
            raise ValueError(
                f"DecoderCache: expected a prefix of length {self.length + 1} (capacity "
                f"{self.capacity}), got {prefix.shape}"
            )
        logits = self.model.decode(prefix, self.memory, self.src, cache=self.layers)  # (N, 1, V)
        return logits.data[:, -1, :]  # (N, V)

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
        for layer in self.layers:
            layer.reorder(rows)
