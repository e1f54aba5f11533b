"""Activation layers: `ReLU` and `GELU` (module wrappers of the functional forms)."""

from __future__ import annotations

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.nn.module import Module
from tinygrad_attn.tensor import Tensor


class ReLU(Module):
    """max(x, 0).  Shapes: any -> same."""

    def forward(self, x: Tensor) -> Tensor:
        """`F.relu(x)`."""
        return F.relu(x)


class GELU(Module):
    """x * Phi(x) (Hendrycks & Gimpel 2016); approximate="tanh" uses the tanh formula.

    Shapes: any -> same.
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        """`F.gelu(x, approximate=self.approximate)`."""
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        """`GELU(approximate='tanh')` in repr; nothing for the exact one (as PyTorch)."""
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"
