"""Models built on tinygrad_attn: the encoder-decoder transformer of the lecture notes."""

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
