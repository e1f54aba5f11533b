"""Sinusoidal positional encoding: the "add position information" step
(docs/self_attention.md, section 7)."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_attn import Tensor, _checks, nn


def sinusoidal_table(max_len: int, d_model: int) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/E)), PE[pos, 2i+1] = cos(...).  -> (max_len, E) float32."""
    position = np.arange(max_len, dtype=np.float64)[:, None]  # (L, 1)
    frequency = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2) / d_model)  # (ceil(E/2),)
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(position * frequency)
    table[:, 1::2] = np.cos(position * frequency[: d_model // 2])
    return table.astype(np.float32)


class PositionalEncoding(nn.Module):
    """x + PE[:T], then dropout (Vaswani et al. 2017, section 3.5).  Shapes: (B, T, E) -> same.

    The table is a buffer (saved in state_dict, converted by .double()), not a parameter.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.max_len = max_len
        self.register_buffer("pe", sinusoidal_table(max_len, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """Add the encodings of positions offset .. offset+T-1 (offset > 0 when decoding)."""
        length = x.shape[1]
        if offset + length > self.max_len:
            raise ValueError(
                f"PositionalEncoding: sequence of length {offset + length} exceeds max_len "
                f"{self.max_len}; build the model with a larger max_len"
            )
        pe = _checks.as_array(self.pe)[offset : offset + length]  # (T, E)
        return self.dropout(x + Tensor(pe.astype(x.dtype, copy=False)))
