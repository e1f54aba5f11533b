"""`Parameter`: a Tensor that a Module registers as trainable."""

from __future__ import annotations

from typing import Any

from tinygrad_attn.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that always requires grad and that a Module registers as trainable.

    `Parameter(data)`: data is a Tensor (its array is shared, as PyTorch), an ndarray (dtype
    kept) or Python data (floats become float32).
    """

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.requires_grad_(True)  # raises TypeError for an integer array

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
