"""examples/train_translation.build_model: the run settings that are TransformerConfig fields
size the model (the ten of MODEL_FIELDS); the example adds PAD and, with src_bos on, BOS as the
start token."""

from __future__ import annotations

from dataclasses import replace

import _config
import train_translation as tt
from toydata import BOS, PAD

from models import TransformerConfig


def test_the_model_is_built_from_the_run_settings_it_shares_with_transformer_config() -> None:
    assert sorted(tt.MODEL_FIELDS) == sorted(
        "d_model nhead num_encoder_layers num_decoder_layers dim_feedforward dropout max_len "
        "norm_first pos src_bos".split()
    )
    cfg = replace(_config.Config(), d_model=16, nhead=2, num_decoder_layers=1, dim_feedforward=24)
    cfg = replace(cfg, dropout=0.1, max_len=20, norm_first=True, pos="alibi", src_bos=True)
    expected = TransformerConfig(
        src_vocab=7,
        tgt_vocab=9,
        d_model=16,
        nhead=2,
        num_encoder_layers=2,
        num_decoder_layers=1,
        dim_feedforward=24,
        dropout=0.1,
        max_len=20,
        norm_first=True,
        pad_id=PAD,
        pos="alibi",
        src_bos=BOS,
    )
    assert tt.build_model(cfg, 7, 9).config == expected
    without = tt.build_model(replace(cfg, src_bos=False), 7, 9).config
    assert without == replace(expected, src_bos=None)
