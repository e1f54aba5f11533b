"""Models built on tinygrad_attn: the encoder-decoder transformer (docs/self_attention.md)."""

from models.positional import PositionalEncoding, sinusoidal_table
from models.transformer import (
    FeedForward,
    Transformer,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    causal_mask,
)

__all__ = [
    "FeedForward",
    "PositionalEncoding",
    "Transformer",
    "TransformerDecoderLayer",
    "TransformerEncoderLayer",
    "causal_mask",
    "sinusoidal_table",
]
