"""`Dropout`: randomly zero activations while training (Srivastava et al. 2014)."""

from __future__ import annotations

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.nn.module import Module
from tinygrad_attn.tensor import Tensor


class Dropout(Module):
    """Zero each element with probability p and scale the rest by 1/(1-p) in training mode;
    the identity in eval mode (`.eval()`).  Shapes: any -> same.

    The mask is drawn from the framework's RNG, so `tg.manual_seed` makes it reproducible.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """`F.dropout(x, p, training=self.training)`: the identity in eval mode."""
        return F.dropout(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        """`Dropout(p=0.1)` in repr."""
        return f"p={self.p}"
