"""`MultiheadAttention` (Vaswani et al. 2017, section 3.2.2), batch first, PyTorch's masks.

    head_i = softmax(q_i k_i^T / sqrt(D) + mask) v_i,   out = concat(head_1..head_H) W_o^T + b_o

with q_i, k_i, v_i the i-th D-wide slice of the projected query, key and value. The attention
itself is the fused op of ops/attention_fast.py (via F.attention): it views each head as a
strided slice of the (B, T, E) projections, so all heads and all batch entries run in the same
batched matmuls, with no copy to split or merge them and no Python loop over either.
Self-attention (query is key is value) projects q, k and v with one product against the three
weights stacked, as PyTorch's packed in_proj_weight does; the parameters stay q_proj, k_proj
and v_proj. `KVCache` keeps projected keys and values for decoding one token at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn import _checks
from tinygrad_attn._causal_mask import causal_offset_of
from tinygrad_attn.nn import init
from tinygrad_attn.nn.linear import Linear
from tinygrad_attn.nn.module import Module
from tinygrad_attn.tensor import Tensor


class MultiheadAttention(Module):
    """Multi-head attention over (B, T, E) tensors (batch first).

    Shapes: query (B, L, E), key (B, S, E), value (B, S, E) -> output (B, L, E) and weights
    (B, L, S) averaged over heads, (B, H, L, S) with average_attn_weights=False, or None with
    need_weights=False. Unbatched (L, E) / (S, E) inputs are accepted too (no B axis anywhere).

    Masks follow `torch.nn.MultiheadAttention` exactly, so code carries over:
      - key_padding_mask (B, S): bool True at PADDING positions (those keys are ignored); a
        float mask is added to the scores.
      - attn_mask (L, S) or (B*H, L, S) (row b*H + h for batch b, head h): bool True where
        attention is NOT allowed; a float mask is added to the scores.
      - is_causal=True blocks keys after the query (j > i), combined with any attn_mask.
    Note the bool convention is the OPPOSITE of F.scaled_dot_product_attention, whose bool mask
    is True where attention IS allowed: PyTorch's own inconsistency, kept on purpose.
    A query that may see no key gets zero weights and a zero attention output (PyTorch gives NaN).

    Differences from PyTorch: the arguments after `value` are keyword-only (PyTorch's fourth
    positional argument is key_padding_mask, ours would have been attn_mask: refusing positional
    masks makes a mix-up an error instead of a silent bug); the returned weights are taken
    before dropout, so they are always a distribution (PyTorch returns them after dropout).
    Set `store_attn_weights = True` to keep the per-head weights (B, H, L, S) of the last call,
    detached, in `last_attn_weights` (for plotting what a trained model attends to). The
    weights are the ones the attention computed (no second softmax) and read-only: clone() to
    edit them.

    Decoding: `cache=KVCache(capacity)` on a self-attention call appends the new positions'
    keys and values and attends over all of them (with is_causal, query i is position
    cache.length + i); `cache=KVCache()` on a cross-attention call projects the memory once.

    Initialisation (PyTorch's): q_proj, k_proj and v_proj weights are xavier-uniform as if
    stacked into PyTorch's (3E, E) in_proj_weight, i.e. U(-a, a) with a = sqrt(6 / (E + 3E));
    their biases and out_proj's bias are zero; out_proj's weight keeps Linear's default.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim {embed_dim} must be a positive multiple of "
                f"num_heads {num_heads}"
            )
        if not 0 <= dropout <= 1:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.store_attn_weights = False
        self.last_attn_weights: Tensor | None = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        bound = math.sqrt(6.0 / (self.embed_dim + 3 * self.embed_dim))
        for proj in (self.q_proj, self.k_proj, self.v_proj):
            init.uniform_(proj.weight, -bound, bound)
        for proj in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            if proj.bias is not None:
                init.zeros_(proj.bias)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        *,
        attn_mask: Any = None,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        average_attn_weights: bool = True,
        is_causal: bool = False,
        cache: KVCache | None = None,
        attn_bias: Any = None,
        rotary: Callable[..., Tensor] | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """(output, weights) of attending from `query` to `key`/`value` (see the class docs).

        Shapes: query (B, L, E), key and value (B, S, E) -> (B, L, E) and (B, L, S),
        (B, H, L, S) or None. Masks are numpy arrays or Tensors. With a `cache` (decoding, under
        no_grad), key and value are only the new positions (self-attention) or the memory the
        cache projects once (cross-attention); masks then cover every cached key.

        Position information (not in PyTorch's MultiheadAttention):
            attn_bias: a float array or Tensor added to the scores, broadcast to (B, H, L, S)
                ((H, L, S) for a per-head relative bias such as ALiBi or T5's). A Tensor that
                requires grad gets its gradient (a learned bias); anything else is constant.
            rotary: called as rotary(x, offset=..., width=...) on the q and k projections,
                e.g. nn.RotaryEmbedding(head_dim): rotates them by their positions, offset
                being the positions a self-attention cache holds already (0 without one).
        """
        batched = query.ndim == 3
        if not batched:  # unbatched (L, E): run as a batch of one
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = _checks.as_array(key_padding_mask)[None]
        self._check_inputs(query, key, value)
        q, k, v, offset = self._project(query, key, value, cache, rotary)  # or packed (B, T, 3E)
        scores = F._scores_shape(q, k, self.num_heads, k is None)  # (B, H, L, S)
        causal = offset if is_causal else None
        mask_causal = causal_offset_of(attn_mask, scores, blocked_if=True)
        if mask_causal is not None:  # a causal attn_mask array: the op skips the keys instead
            attn_mask = None
            causal = mask_causal if causal is None else min(causal, mask_causal)
        bias, mask = self._masks(attn_mask, key_padding_mask, attn_bias, scores, q.dtype)
        heads, weights = F.attention(
            q,
            k,
            v,
            num_heads=self.num_heads,
            packed=k is None,
            bias=bias,
            mask=mask,
            causal_offset=causal,
            dropout_p=self.dropout,
            training=self.training,
            need_weights=need_weights or self.store_attn_weights,
        )  # (B, L, E), (B, H, L, S)
        output = self.out_proj(heads)  # (B, L, E)
        if self.store_attn_weights:
            self.last_attn_weights = weights.detach()
        if not need_weights:
            weights = None
        elif average_attn_weights:
            weights = weights.mean(dim=1)  # (B, L, S)
        if not batched:
            output = output.squeeze(0)
            weights = None if weights is None else weights.squeeze(0)
        return output, weights

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> None:
        e = self.embed_dim
        if (
            query.ndim != 3
            or key.ndim != 3
            or value.ndim != 3
            or query.shape[2] != e
            or key.shape[2] != e
            or value.shape[2] != e
            or key.shape[:2] != value.shape[:2]
            or query.shape[0] != key.shape[0]
        ):
            raise ValueError(
                f"MultiheadAttention: expected query (B, L, {e}), key and value (B, S, {e}); "
                f"got query {query.shape}, key {key.shape}, value {value.shape}"
            )
        for name, t in (("query", query), ("key", key), ("value", value)):
            _checks.floating(t, "MultiheadAttention", name)

    def _project(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        cache: KVCache | None,
        rotary: Callable[..., Tensor] | None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None, int]:
        """(q, k, v, position of the first query) for the attention op.

        Self-attention (query is key is value) projects q, k and v with ONE product against the
        three weights stacked (PyTorch's packed in_proj_weight) and hands the (B, T, 3E) result
        to the op as it is (k = v = None); `rotary` rotates its q and k slots in one node. With a
        cache the new keys and values are appended to it (rotated: a key keeps its position)
        and the op reads all of them.
        """
        if cache is not None and cache.static:  # cross-attention: the memory, projected once
            if rotary is not None:
                raise ValueError("MultiheadAttention: rotary needs self-attention (static cache)")
            if cache.keys is None:
                cache.store(self.k_proj(key).data, self.v_proj(value).data)
            return self.q_proj(query), Tensor(cache.keys), Tensor(cache.values), 0
        offset = 0 if cache is None else cache.length
        e = self.embed_dim
        if query is key and key is value:
            qkv = self._packed_projection(query)  # (B, L, 3E)
            if rotary is not None:
                qkv = rotary(qkv, offset=offset, width=2 * e)  # q and k rotated, v copied
            if cache is None:
                return qkv, None, None, 0
            qkv = qkv.data
            q, new_k, new_v = Tensor(qkv[..., :e]), qkv[..., e : 2 * e], qkv[..., 2 * e :]
        else:
            q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
            if rotary is not None:
                q, k = rotary(q, offset=offset), rotary(k, offset=offset)
            if cache is None:
                return q, k, v, 0
            new_k, new_v = k.data, v.data
        keys, values = cache.append(new_k, new_v)  # (B, offset + L, E)
        return q, Tensor(keys), Tensor(values), offset

    def _packed_projection(self, x: Tensor) -> Tensor:
        """x @ [Wq; Wk; Wv]ᵀ + [bq; bk; bv], one GEMM.  Shapes: (B, T, E) -> (B, T, 3E)."""
        projections = (self.q_proj, self.k_proj, self.v_proj)
        weight = F.cat([p.weight for p in projections], dim=0)  # (3E, E)
        bias = None
        if self.q_proj.bias is not None:
            bias = F.cat([p.bias for p in projections], dim=0)  # (3E,)
        return F.linear(x, weight, bias)

    def _masks(
        self,
        attn_mask: Any,
        key_padding_mask: Any,
        attn_bias: Any,
        scores: tuple[int, ...],
        dtype: np.dtype,
    ) -> tuple[Tensor | None, np.ndarray | None]:
        """All masks and the attn_bias as (learned bias, constant additive mask), each broadcast
        to the scores (B, H, L, S) or None. The constant one is summed from the masks' own
        shapes, so no (B, H, L, S) array is made unless the user's mask has that shape already."""
        batch, heads, tgt_len, src_len = scores
        masks = []
        if key_padding_mask is not None:
            kpm = _tensor_or_array(key_padding_mask)
            if tuple(kpm.shape) != (batch, src_len):
                raise ValueError(
                    f"MultiheadAttention: key_padding_mask must be (B, S) = {(batch, src_len)}, "
                    f"got {tuple(kpm.shape)}"
                )
            masks.append(("key_padding_mask", kpm.reshape(batch, 1, 1, src_len)))
        if attn_mask is not None:
            attn_mask = _tensor_or_array(attn_mask)
            shape = tuple(attn_mask.shape)
            if shape == (batch * heads, tgt_len, src_len):
                attn_mask = attn_mask.reshape(batch, heads, tgt_len, src_len)
            elif shape != (tgt_len, src_len):
                raise ValueError(
                    f"MultiheadAttention: attn_mask must be (L, S) = {(tgt_len, src_len)} or "
                    f"(B*H, L, S) = {(batch * heads, tgt_len, src_len)}, got {shape}"
                )
            masks.append(("attn_mask", attn_mask))
        if attn_bias is not None:
            attn_bias = _tensor_or_array(attn_bias)
            if np.dtype(attn_bias.dtype).kind != "f":
                raise TypeError(
                    f"MultiheadAttention: attn_bias must be float (added to the scores), got "
                    f"{attn_bias.dtype}; use attn_mask for a bool mask"
                )
            masks.append(("attn_bias", attn_bias))
        bias, mask = None, None
        for name, m in masks:
            learned, constant = F._attention_mask(
                m, scores, "MultiheadAttention", dtype, name=name, blocked_if=True
            )
            if learned is not None:
                bias = learned if bias is None else bias + learned
            if constant is not None:
                mask = constant if mask is None else mask + constant
        return bias, mask

    def extra_repr(self) -> str:
        """`embed_dim=8, num_heads=2, dropout=0.0, bias=True` in repr, above the projections."""
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"bias={self.q_proj.bias is not None}"
        )


class KVCache:
    """Keys and values an attention layer has projected already, for decoding step by step.

    Self-attention (`KVCache(capacity)`): each call appends the new positions' keys and values
    after the earlier ones, and attention reads all of them. Cross-attention (`KVCache()`,
    static): the first call projects key and value (the encoder memory) once; later calls reuse
    them. The cache holds arrays, not Tensors: decoding runs under no_grad, and no gradient
    flows into cached keys. Shapes: keys, values (N, capacity, E) (static: (N, S, E)).
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity, self.static = capacity, capacity is None
        self.keys: np.ndarray | None = None
        self.values: np.ndarray | None = None
        self.length = 0  # positions held

    def store(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Keep a static cache's keys and values.  Shapes: (N, S, E) each."""
        self.keys, self.values, self.length = keys, values, keys.shape[1]

    def append(self, keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add new positions; return all keys and values so far.  (N, n, E) -> (N, length, E)."""
        rows, new, width = keys.shape
        if self.keys is None:
            self.keys = np.zeros((rows, self.capacity, width), dtype=keys.dtype)
            self.values = np.zeros((rows, self.capacity, values.shape[2]), dtype=values.dtype)
        if self.length + new > self.capacity:
            raise ValueError(
                f"KVCache: {self.length} + {new} positions exceed the capacity {self.capacity}"
            )
        self.keys[:, self.length : self.length + new] = keys
        self.values[:, self.length : self.length + new] = values
        self.length += new
        return self.keys[:, : self.length], self.values[:, : self.length]

    def reorder(self, rows: np.ndarray) -> None:
        """Row i continues from old row rows[i] (beam search keeps its best beams)."""
        if self.keys is not None:
            filled = slice(0, self.length)
            self.keys[:, filled] = self.keys[rows, filled]
            self.values[:, filled] = self.values[rows, filled]


def _tensor_or_array(x: Any) -> Any:
    """A Tensor as it is (a learned mask keeps its gradient), anything else as an array."""
    return x if isinstance(x, Tensor) else np.asarray(x)
