"""models/positional.py's position layers written with torch.nn, for interop.TorchTransformer.

Absolute (added to the scaled embeddings, then dropout): TorchPositionalEncoding (the
sinusoidal table, buffer `pe`) and TorchLearnedPositionalEncoding (a learned table,
`embedding.weight`). Relative biases for the self-attention scores (ALiBi's constants, T5's
learned buckets): TorchRelativeBias holds one per stack (`encoder_bias`, `decoder_bias`) under
the names of our RelativePositions. The constants and the bucket indices come from our own
numpy functions, so both sides add the same numbers; only T5's table is a torch Parameter, and
its gradient flows back through the gather. Rotary embeddings live in the attention layers
instead (_torch_rotary.py).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from models.positional import ALiBi, relative_positions, sinusoidal_table, t5_buckets


def _check_length(module: nn.Module, offset: int, length: int) -> None:
    """ValueError naming the module when positions offset.. pass its max_len (as ours)."""
    if offset + length > module.max_len:
        raise ValueError(
            f"{type(module).__name__}: sequence of length {offset + length} exceeds "
            f"max_len {module.max_len}"
        )


class TorchPositionalEncoding(nn.Module):
    """x + PE[offset : offset + T], then dropout; PE is the buffer `pe` (max_len, E), the same
    table as models.PositionalEncoding.  Shapes: (B, T, E) -> same."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.max_len = max_len
        self.register_buffer("pe", torch.from_numpy(sinusoidal_table(max_len, d_model)))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Add the encodings of positions offset .. offset+T-1."""
        length = x.shape[1]
        _check_length(self, offset, length)
        return self.dropout(x + self.pe[offset : offset + length])  # (B, T, E)


class TorchLearnedPositionalEncoding(nn.Module):
    """x + P[offset : offset + T], then dropout, P the learned (max_len, E) table
    `embedding.weight` (models.LearnedPositionalEncoding, same init).  Shapes: (B, T, E) -> same."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=math.sqrt(0.5))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Add the rows of positions offset .. offset+T-1."""
        length = x.shape[1]
        _check_length(self, offset, length)
        positions = torch.arange(offset, offset + length, device=x.device)  # (T,)
        return self.dropout(x + self.embedding(positions))  # (B, T, E)


class TorchALiBi(nn.Module):
    """ALiBi's constant bias -slope_h * distance (models.ALiBi computes it: the same float32
    numbers). No parameters.  Shapes: -> (H, L, S) float32."""

    def __init__(self, num_heads: int, bidirectional: bool) -> None:
        super().__init__()
        self.num_heads, self.bidirectional = num_heads, bidirectional
        self.constants = ALiBi(num_heads, bidirectional)  # ours, numpy only

    def forward(
        self, query_len: int, key_len: int, query_offset: int = 0, key_offset: int = 0
    ) -> torch.Tensor:
        """The bias of queries query_offset.. against keys key_offset..  -> (H, L, S)."""
        return torch.from_numpy(self.constants(query_len, key_len, query_offset, key_offset))

    def extra_repr(self) -> str:
        """`TorchALiBi(num_heads=2, bidirectional=True)` in repr, as models.ALiBi prints."""
        return f"num_heads={self.num_heads}, bidirectional={self.bidirectional}"


class TorchT5RelativeBias(nn.Module):
    """T5's learned bias table[bucket(j - i), h] (models.T5RelativeBias): the (num_buckets, H)
    table is the Embedding `relative_attention_bias`, gathered at the buckets our t5_buckets
    gives, so its gradient is the scatter-add of the scores' gradient.  Shapes: -> (H, L, S)."""

    def __init__(
        self, num_heads: int, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
    ) -> None:
        super().__init__()
        self.num_heads, self.bidirectional = num_heads, bidirectional
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.relative_attention_bias = nn.Embedding(num_buckets, num_heads)
        nn.init.normal_(self.relative_attention_bias.weight, std=0.5)

    def forward(
        self, query_len: int, key_len: int, query_offset: int = 0, key_offset: int = 0
    ) -> torch.Tensor:
        """The bias of queries query_offset.. against keys key_offset..  -> (H, L, S)."""
        relative = relative_positions(query_len, key_len, query_offset, key_offset)  # (L, S)
        buckets = t5_buckets(relative, self.bidirectional, self.num_buckets, self.max_distance)
        buckets = torch.from_numpy(buckets).to(self.relative_attention_bias.weight.device)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)  # (H, L, S)

    def extra_repr(self) -> str:
        """`num_heads=2, bidirectional=True, num_buckets=32, max_distance=128` in repr, above its
        table, as models.T5RelativeBias prints."""
        return (
            f"num_heads={self.num_heads}, bidirectional={self.bidirectional}, "
            f"num_buckets={self.num_buckets}, max_distance={self.max_distance}"
        )


class TorchRelativeBias(nn.Module):
    """The self-attention biases of a Transformer with pos="alibi" or "t5": bidirectional for
    the encoder, causal for the decoder, one per stack shared by its layers (as our
    RelativePositions, same child names).  Shapes: -> (H, L, L)."""

    def __init__(self, scheme: str, nhead: int) -> None:
        super().__init__()
        if scheme == "alibi":
            self.encoder_bias, self.decoder_bias = TorchALiBi(nhead, True), TorchALiBi(nhead, False)
        elif scheme == "t5":
            self.encoder_bias = TorchT5RelativeBias(nhead, bidirectional=True)
            self.decoder_bias = TorchT5RelativeBias(nhead, bidirectional=False)
        else:
            raise ValueError(f"TorchRelativeBias: scheme must be 'alibi' or 't5', got {scheme!r}")
        self.scheme = scheme

    def forward(self, length: int, causal: bool) -> torch.Tensor:
        """The decoder's (causal) or the encoder's bias over `length` positions.  -> (H, L, L)."""
        return (self.decoder_bias if causal else self.encoder_bias)(length, length)

    def extra_repr(self) -> str:
        """`TorchRelativeBias(scheme='t5')` in repr, above its two biases."""
        return f"scheme={self.scheme!r}"
