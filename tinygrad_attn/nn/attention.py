"""`MultiheadAttention` (Vaswani et al. 2017, section 3.2.2), batch first, PyTorch's masks.

    head_i = softmax(q_i k_i^T / sqrt(D) + mask) v_i,   out = concat(head_1..head_H) W_o^T + b_o

with q_i, k_i, v_i the i-th D-wide slice of the projected query, key and value. The heads are
split by reshape + transpose, (B, T, E) -> (B, H, T, D), so all heads and all batch entries run
in the same batched matmuls: there is no Python loop over either.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
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
    detached, in `last_attn_weights` (for plotting what a trained model attends to).

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
    ) -> tuple[Tensor, Tensor | None]:
        """(output, weights) of attending from `query` to `key`/`value` (see the class docs).

        Shapes: query (B, L, E), key and value (B, S, E) -> (B, L, E) and (B, L, S),
        (B, H, L, S) or None. Masks are numpy arrays or Tensors.
        """
        batched = query.ndim == 3
        if not batched:  # unbatched (L, E): run as a batch of one
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = _array(key_padding_mask)[None]
        self._check_inputs(query, key, value)
        batch, tgt_len, src_len = query.shape[0], query.shape[1], key.shape[1]
        q = self._project_heads(query, self.q_proj)  # (B, H, L, D)
        k = self._project_heads(key, self.k_proj)  # (B, H, S, D)
        v = self._project_heads(value, self.v_proj)  # (B, H, S, D)
        blocked, additive = self._masks(
            attn_mask, key_padding_mask, is_causal, batch, tgt_len, src_len, q.dtype
        )
        heads, weights = self._attend(q, k, v, blocked, additive)  # (B,H,L,D), (B,H,L,S)
        output = self.out_proj(self._merge_heads(heads))  # (B, L, E)
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

    def _project_heads(self, x: Tensor, proj: Linear) -> Tensor:
        """Project and split into heads.  Shapes: (B, T, E) -> (B, H, T, D)."""
        batch, length, _ = x.shape
        heads = proj(x).reshape(batch, length, self.num_heads, self.head_dim)  # (B, T, H, D)
        return heads.transpose(1, 2)  # (B, H, T, D)

    def _attend(
        self, q: Tensor, k: Tensor, v: Tensor, blocked: np.ndarray | None, additive: Any
    ) -> tuple[Tensor, Tensor]:
        """Scaled dot-product attention per head.  Shapes: q (B, H, L, D), k and v (B, H, S, D)
        -> heads (B, H, L, D), weights (B, H, L, S) (before dropout)."""
        q = q * (1.0 / math.sqrt(self.head_dim))  # scale q, not the scores: L*D < L*S work
        scores = q @ k.transpose(-2, -1)  # (B, H, L, S)
        if additive is not None:
            scores = scores + additive
        if blocked is not None:
            # -inf, not a large negative number: the engine's softmax returns 0 weights (not
            # NaN) for a row that is all -inf, i.e. a query that may see no key.
            scores = scores.masked_fill(blocked, -np.inf)
        weights = scores.softmax(-1)  # (B, H, L, S)
        dropped = F.dropout(weights, self.dropout, training=self.training)
        return dropped @ v, weights  # (B, H, L, D)

    def _merge_heads(self, heads: Tensor) -> Tensor:
        """Concatenate the heads.  Shapes: (B, H, L, D) -> (B, L, E)."""
        batch, _, length, _ = heads.shape
        return heads.transpose(1, 2).reshape(batch, length, self.embed_dim)  # (B, L, E)

    def _masks(
        self,
        attn_mask: Any,
        key_padding_mask: Any,
        is_causal: bool,
        batch: int,
        tgt_len: int,
        src_len: int,
        dtype: np.dtype,
    ) -> tuple[np.ndarray | None, Any]:
        """All masks as (blocked, additive), both broadcastable to (B, H, L, S).

        blocked: a bool array, True where a score becomes -inf (or None); additive: the sum of
        the float masks, an array or a Tensor (a learned bias keeps its gradient), or None.
        """
        masks = []
        if key_padding_mask is not None:
            kpm = _mask(key_padding_mask, "key_padding_mask")
            if kpm.shape != (batch, src_len):
                raise ValueError(
                    f"MultiheadAttention: key_padding_mask must be (B, S) = {(batch, src_len)}, "
                    f"got {tuple(kpm.shape)}"
                )
            masks.append(kpm.reshape(batch, 1, 1, src_len))  # (B, 1, 1, S)
        if attn_mask is not None:
            masks.append(self._attn_mask(_mask(attn_mask, "attn_mask"), batch, tgt_len, src_len))
        if is_causal:
            masks.append(np.triu(np.ones((tgt_len, src_len), dtype=bool), k=1))  # (L, S)
        blocked, additive = None, None
        for m in masks:
            if m.dtype == np.bool_:
                blocked = m if blocked is None else blocked | m
            else:
                m = m.astype(dtype) if isinstance(m, Tensor) else Tensor(m.astype(dtype))
                additive = m if additive is None else additive + m
        return blocked, additive

    def _attn_mask(self, mask: Any, batch: int, tgt_len: int, src_len: int) -> Any:
        """attn_mask (L, S) or (B*H, L, S) -> broadcastable to (B, H, L, S)."""
        heads = self.num_heads
        if tuple(mask.shape) == (tgt_len, src_len):
            return mask
        if tuple(mask.shape) == (batch * heads, tgt_len, src_len):
            return mask.reshape(batch, heads, tgt_len, src_len)
        raise ValueError(
            f"MultiheadAttention: attn_mask must be (L, S) = {(tgt_len, src_len)} or "
            f"(B*H, L, S) = {(batch * heads, tgt_len, src_len)}, got {tuple(mask.shape)}"
        )

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"bias={self.q_proj.bias is not None}"
        )


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _mask(x: Any, name: str) -> Any:
    """A mask as a bool or float array; a float Tensor that requires grad stays a Tensor."""
    if isinstance(x, Tensor) and x.requires_grad:
        return x
    array = _array(x)
    if array.dtype != np.bool_ and array.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: {name} must be bool or float, got {array.dtype}")
    return array
