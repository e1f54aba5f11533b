"""`Embedding`: a lookup table of learned vectors, one row per token id."""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.nn import init
from tinygrad_attn.nn.module import Module
from tinygrad_attn.nn.parameter import Parameter
from tinygrad_attn.tensor import Tensor


class Embedding(Module):
    """Row `i` of `weight` for each index i.  Shapes: indices (...) ints -> (..., embedding_dim).

    weight (num_embeddings, embedding_dim) starts as N(0, 1). With `padding_idx` that row starts
    at zero and never receives a gradient, so it stays zero through training (as PyTorch).
    A negative padding_idx counts from the end.
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None
    ) -> None:
        super().__init__()
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(
                f"Embedding: num_embeddings and embedding_dim must be >= 1, "
                f"got {num_embeddings} and {embedding_dim}"
            )
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} is out of range for "
                    f"{num_embeddings} embeddings"
                )
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=np.float32))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, 1) rows; the padding row zeroed."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices: Any) -> Tensor:
        """The rows of `weight` at `indices`.  Shapes: indices (...) int -> (..., embedding_dim)."""
        return F.embedding(indices, self.weight, padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        """`Embedding(100, 16, padding_idx=0)` in repr, as PyTorch (padding_idx only when set)."""
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
