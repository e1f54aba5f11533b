"""The tiny Transformer the tests share: one small TransformerConfig, seeded, each test changing
the fields its property needs (`tiny_model(pos="rope", norm_first=True)`).

tests/conftest.py hands these out as the `tiny_config` and `tiny_model` fixtures; a hypothesis
test, which cannot take a function-scoped fixture, imports them from here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import tinygrad_attn as tg
from models import Transformer, TransformerConfig

TINY = TransformerConfig(
    src_vocab=11,
    tgt_vocab=13,
    d_model=8,
    nhead=2,
    num_encoder_layers=1,
    num_decoder_layers=2,
    dim_feedforward=12,
    dropout=0.0,
    max_len=16,
)


def tiny_config(**fields: Any) -> TransformerConfig:
    """TINY with `fields` changed (and checked again)."""
    return dataclasses.replace(TINY, **fields)


def tiny_model(seed: int = 0, **fields: Any) -> Transformer:
    """A Transformer(tiny_config(**fields)) drawn after tg.manual_seed(seed)."""
    tg.manual_seed(seed)
    return Transformer(tiny_config(**fields))
