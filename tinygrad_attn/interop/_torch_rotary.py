"""Rotary self-attention for PyTorch's encoder and decoder layers, which have no rotary hook.

RotarySelfAttention replaces a layer's `self_attn` (an nn.MultiheadAttention): it keeps that
module's parameter names (in_proj_weight, in_proj_bias, out_proj.weight / .bias), initialisation
and call, so the layer's code and the state-dict keys do not change. It rotates q and k as our
nn.RotaryEmbedding does (tinygrad_attn/ops/position.py: the feature pairs (2i, 2i+1) of each
head, position t by t θ_i, θ_i = base^(-2i/D), positions from 0 as there is no cache here),
then runs F.scaled_dot_product_attention with the masks nn.MultiheadAttention would add.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch convention)
from torch import nn

from tinygrad_attn.functional import rotary_angles


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x'_{2i} = x_{2i} cos - x_{2i+1} sin, x'_{2i+1} = x_{2i} sin + x_{2i+1} cos.

    Shapes: x (..., T, D), cos and sin (T, D/2) -> (..., T, D).
    """
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., T, D/2)
    rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return rotated.flatten(-2)  # (..., T, D): pairs back in place


def _additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """nn.MultiheadAttention's mask convention as numbers: bool True (blocked) -> -inf, else 0;
    a float mask as it is."""
    if mask.dtype == torch.bool:
        return torch.zeros_like(mask, dtype=dtype).masked_fill(mask, float("-inf"))
    return mask.to(dtype)


class RotarySelfAttention(nn.Module):
    """Multi-head self-attention with rotary q and k, a drop-in `self_attn` for PyTorch's
    TransformerEncoderLayer / TransformerDecoderLayer (batch first).

    Shapes: query = key = value (B, T, E) -> ((B, T, E), None). attn_mask (T, T) or (B*H, T, T)
    and key_padding_mask (B, T), bool (True = blocked) or float (added), are summed as
    nn.MultiheadAttention sums them; a query that may see no key gets NaN, as there.
    """

    batch_first = True  # what the encoder layer's fast-path checks read (see TorchTransformer)
    _qkv_same_embed_dim = True

    def __init__(
        self, embed_dim: int, num_heads: int, dropout: float = 0.0, base: float = 10000.0
    ) -> None:
        super().__init__()
        if embed_dim % num_heads or (embed_dim // num_heads) % 2:
            raise ValueError(
                f"RotarySelfAttention: embed_dim {embed_dim} must split into {num_heads} heads "
                "of an even size"
            )
        self.embed_dim, self.num_heads, self.base = embed_dim, num_heads, base
        self.dropout = dropout  # on the weights, in training mode (nn.MultiheadAttention's)
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)  # nn.MultiheadAttention's initialisation
        nn.init.zeros_(self.out_proj.bias)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, None]:
        """(output, None); is_causal is only a hint that attn_mask is causal (as PyTorch's)."""
        if not (query is key and key is value) or query.dim() != 3:
            raise ValueError("RotarySelfAttention: self-attention on (B, T, E) only (q is k is v)")
        if need_weights:
            raise ValueError("RotarySelfAttention: need_weights=True is not supported")
        if is_causal and attn_mask is None:
            raise ValueError("RotarySelfAttention: is_causal needs the causal attn_mask")
        batch, length, _ = query.shape
        qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3E)
        heads = qkv.view(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        cos, sin = (
            torch.from_numpy(a).to(query.device, query.dtype)  # float64 angles, rounded once
            for a in rotary_angles(length, self.head_dim, 0, self.base)
        )  # (T, D/2) each
        q, k = rotate_pairs(heads[0], cos, sin), rotate_pairs(heads[1], cos, sin)  # (B, H, T, D)
        mask = self._mask(attn_mask, key_padding_mask, batch, length, query.dtype)
        dropout_p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, heads[2], mask, dropout_p)  # (B, H, T, D)
        out = out.transpose(1, 2).reshape(batch, length, self.embed_dim)  # (B, T, E)
        return self.out_proj(out), None

    def _mask(
        self,
        attn_mask: torch.Tensor | None,
        key_padding_mask: torch.Tensor | None,
        batch: int,
        length: int,
        dtype: torch.dtype,
    ) -> torch.Tensor | None:
        """attn_mask + key_padding_mask as one additive mask broadcasting to (B, H, T, T)."""
        mask = None
        if attn_mask is not None:
            mask = _additive(attn_mask, dtype)
            if mask.dim() == 3:
                mask = mask.view(batch, self.num_heads, length, length)
        if key_padding_mask is not None:
            padding = _additive(key_padding_mask, dtype).view(batch, 1, 1, length)
            mask = padding if mask is None else mask + padding
        return mask

    def extra_repr(self) -> str:
        """`embed_dim=8, num_heads=2, dropout=0.0, base=10000.0` in repr, above the projections."""
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"base={self.base}"
        )
