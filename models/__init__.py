"""Models built on tinygrad_attn: the encoder-decoder transformer (docs/self_attention.md)."""

from models.config import TransformerConfig
from models.positional import (
    ALiBi,
    LearnedPositionalEncoding,
    PositionalEncoding,
    RelativePositions,
    T5RelativeBias,
    sinusoidal_table,
)
from models.transformer import (
    FeedForward,
    Transformer,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    causal_mask,
)

__all__ = [
    "ALiBi",
    "LearnedPositionalEncoding",
    "FeedForward",
    "PositionalEncoding",
    "RelativePositions",
    "T5RelativeBias",
    "Transformer",
    "TransformerConfig",
    "TransformerDecoderLayer",
    "TransformerEncoderLayer",
    "causal_mask",
    "sinusoidal_table",
]
