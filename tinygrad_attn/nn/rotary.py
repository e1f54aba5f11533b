"""`RotaryEmbedding`: the rotary position embedding (RoPE, Su et al. 2021) as a module."""

from __future__ import annotations

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.nn.module import Module
from tinygrad_attn.tensor import Tensor


class RotaryEmbedding(Module):
    """Rotate queries and keys by their positions, so that their scores depend on i - j only.

    Pass it to `nn.MultiheadAttention(..., rotary=rope)`, which rotates the q and k
    projections (positions offset .. offset + T - 1, offset being what a KVCache holds).
    No parameters: the angles (offset + t) base^(-2i/D) are fixed.
    Shapes: x (B, T, W) -> (B, T, W), the first `width` features (all by default) rotated in
    heads of `head_dim`; see F.rotary_embedding.
    """

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim < 2 or head_dim % 2:
            raise ValueError(f"RotaryEmbedding: head_dim must be even and >= 2, got {head_dim}")
        self.head_dim, self.base = head_dim, base

    def forward(
        self,
        x: Tensor,
        offset: int = 0,
        width: int | None = None,
        positions: np.ndarray | None = None,
    ) -> Tensor:
        """x with rows at positions offset.. (offset + positions[t] if given) rotated.
        Shapes: (B, T, W), positions (T,) -> (B, T, W)."""
        return F.rotary_embedding(x, self.head_dim, offset, width, self.base, positions)

    def extra_repr(self) -> str:
        """`RotaryEmbedding(head_dim=16, base=10000.0)` in repr."""
        return f"head_dim={self.head_dim}, base={self.base}"
