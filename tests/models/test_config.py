"""models.TransformerConfig: a Transformer built from a config is the one built from keywords,
parameter for parameter and draw for draw (so seeded runs keep their numbers); its parameters
come in the order Transformer.__init__ builds its modules; every out-of-range field is a
ValueError naming the field and the value; model.config gives the config back."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import tinygrad_attn as tg
from models import (
    PositionalEncoding,
    RelativePositions,
    Transformer,
    TransformerConfig,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)
from models.positional import POSITION_SCHEMES
from tinygrad_attn import nn
from tinygrad_attn.nn import init

VARIANTS = [
    dict(pos=pos, norm_first=norm_first, tie_embeddings=tie, src_bos=bos, activation=activation)
    for pos in POSITION_SCHEMES
    for norm_first, tie, bos, activation in [
        (False, False, None, "relu"),
        (True, True, 1, "gelu"),
    ]
]


def _same_state(a: Transformer, b: Transformer) -> None:
    state_a, state_b = a.state_dict(), b.state_dict()
    assert list(state_a) == list(state_b)
    for name in state_a:
        np.testing.assert_array_equal(state_a[name], state_b[name], err_msg=name)
        assert state_a[name].dtype == state_b[name].dtype, name


@pytest.mark.parametrize("fields", VARIANTS, ids=lambda f: "-".join(map(str, f.values())))
def test_a_config_builds_the_model_the_keywords_build(fields: dict, tiny_config) -> None:
    config = tiny_config(dropout=0.1, **fields)
    tg.manual_seed(0)
    from_keywords = Transformer(**dataclasses.asdict(config))
    tg.manual_seed(0)
    from_config = Transformer(config)
    _same_state(from_keywords, from_config)
    assert from_config.config is config and from_keywords.config == config
    tg.manual_seed(0)
    positional = Transformer(*dataclasses.astuple(config))  # every field by position
    _same_state(positional, from_config)


def _attention(prefix: str) -> list[str]:
    return [f"{prefix}.{p}_proj.{w}" for p in ("q", "k", "v", "out") for w in ("weight", "bias")]


def _affine(prefix: str) -> list[str]:
    return [f"{prefix}.weight", f"{prefix}.bias"]


def test_parameters_come_in_the_order_transformer_init_builds_its_modules(tiny_model) -> None:
    """src_embed, tgt_embed, the position layer, the encoder layers (self_attn, ff, norm1,
    norm2), the decoder layers (self_attn, cross_attn, ff, norm1-3), the final norms, out_proj:
    the order of Transformer.__init__ in models/transformer.py, which is also the order their
    initial values are drawn from the RNG."""
    model = tiny_model(pos="t5", norm_first=True, num_encoder_layers=1, num_decoder_layers=1)
    ff = lambda layer: _affine(f"{layer}.ff.linear1") + _affine(f"{layer}.ff.linear2")
    expected = ["src_embed.weight", "tgt_embed.weight"]
    expected += [f"rel_pos.{s}_bias.relative_attention_bias.weight" for s in ("encoder", "decoder")]
    expected += _attention("encoder.0.self_attn") + ff("encoder.0")
    expected += _affine("encoder.0.norm1") + _affine("encoder.0.norm2")
    expected += _attention("decoder.0.self_attn") + _attention("decoder.0.cross_attn")
    expected += ff("decoder.0") + [n for i in (1, 2, 3) for n in _affine(f"decoder.0.norm{i}")]
    expected += _affine("encoder_norm") + _affine("decoder_norm") + _affine("out_proj")
    assert [name for name, _ in model.named_parameters()] == expected
    assert list(model.state_dict()) == expected  # no buffers with t5


@pytest.mark.parametrize(
    "fields",
    [dict(), dict(pos="t5", norm_first=True, num_encoder_layers=2, activation="gelu")],
    ids=["sinusoidal-post-norm", "t5-pre-norm"],
)
def test_initial_values_are_the_building_blocks_drawn_in_that_order(fields, tiny_config) -> None:
    """The reference draws each block by hand, in the order above, then the embeddings'
    N(0, 1/E) redraw with a zero PAD row: what Transformer.__init__ did before the config."""
    cfg = tiny_config(**fields)
    tg.manual_seed(3)
    model = Transformer(cfg)
    tg.manual_seed(3)
    E, blocks = cfg.d_model, {}
    blocks["src_embed"] = nn.Embedding(cfg.src_vocab, E, padding_idx=cfg.pad_id)
    blocks["tgt_embed"] = nn.Embedding(cfg.tgt_vocab, E, padding_idx=cfg.pad_id)
    if cfg.pos == "sinusoidal":
        blocks["pos"] = PositionalEncoding(E, cfg.max_len, cfg.dropout)
    else:
        blocks["rel_pos"] = RelativePositions(cfg.pos, E, cfg.nhead)
    layer = (E, cfg.nhead, cfg.dim_feedforward, cfg.dropout, cfg.activation, cfg.norm_first)
    for i in range(cfg.num_encoder_layers):
        blocks[f"encoder.{i}"] = TransformerEncoderLayer(*layer)
    for i in range(cfg.num_decoder_layers):
        blocks[f"decoder.{i}"] = TransformerDecoderLayer(*layer)
    if cfg.norm_first:
        blocks["encoder_norm"], blocks["decoder_norm"] = nn.LayerNorm(E), nn.LayerNorm(E)
    blocks["out_proj"] = nn.Linear(E, cfg.tgt_vocab)
    for name in ("src_embed", "tgt_embed"):
        init.normal_(blocks[name].weight, std=E**-0.5)
        blocks[name].weight.data[cfg.pad_id] = 0.0
    expected = {
        f"{prefix}.{name}": value
        for prefix, block in blocks.items()
        for name, value in block.state_dict().items()
    }
    state = model.state_dict()
    assert sorted(state) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(state[name], value, err_msg=name)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(src_vocab=0), "src_vocab must be >= 1, got 0"),
        (dict(tgt_vocab=-2), "tgt_vocab must be >= 1, got -2"),
        (dict(d_model=0), "d_model must be >= 1, got 0"),
        (dict(nhead=0), "nhead must be >= 1, got 0"),
        (dict(dim_feedforward=0), "dim_feedforward must be >= 1, got 0"),
        (dict(max_len=0), "max_len must be >= 1, got 0"),
        (dict(num_encoder_layers=-1), "num_encoder_layers must be >= 0, got -1"),
        (dict(num_decoder_layers=-1), "num_decoder_layers must be >= 0, got -1"),
        (dict(d_model=6, nhead=4), "d_model 6 is not divisible by nhead 4"),
        (dict(dropout=1.5), r"dropout must be in \[0, 1\], got 1.5"),
        (dict(pad_id=11), r"pad_id must be a token id of both vocabularies \(0 .. 10\), got 11"),
        (dict(pad_id=-1), r"pad_id must be a token id of both vocabularies \(0 .. 10\), got -1"),
        (dict(activation="tanh"), "activation must be one of .*, got 'tanh'"),
        (dict(pos="relative"), "pos must be one of .*, got 'relative'"),
        (dict(pos="rope", d_model=6, nhead=2), "rope needs an even head dim, got 3"),
        (dict(src_bos=0), "src_bos must be a source token id other than pad_id 0 .*, got 0"),
        (dict(src_bos=11), r"src_bos must be .* \(0 .. 10\), got 11"),
    ],
)
def test_each_bad_field_is_an_error_naming_it_and_its_value(fields: dict, message: str) -> None:
    good = TransformerConfig(11, 13, d_model=8, nhead=2)
    with pytest.raises(ValueError, match=f"^TransformerConfig: {message}"):
        TransformerConfig(**{**dataclasses.asdict(good), **fields})
    with pytest.raises(ValueError, match=f"^TransformerConfig: {message}"):
        dataclasses.replace(good, **fields)  # a changed config is checked again
    with pytest.raises(ValueError, match=f"^TransformerConfig: {message}"):
        Transformer(**{**dataclasses.asdict(good), **fields})


def test_the_config_is_frozen_and_comes_alone(tiny_config, tiny_model) -> None:
    config = tiny_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.d_model = 16  # type: ignore[misc]
    model = tiny_model()
    assert model.config == config and model.d_model == 8 and model.max_len == 16
    assert (model.pad_id, model.pos_scheme, model.src_bos) == (0, "sinusoidal", None)
    with pytest.raises(TypeError, match="a TransformerConfig comes alone"):
        Transformer(config, d_model=16)
    with pytest.raises(TypeError, match="a TransformerConfig comes alone"):
        Transformer(config, 13)
    rebuilt = Transformer(model.config)
    rebuilt.load_state_dict(model.state_dict())
    src, tgt = np.array([[3, 4, 5]]), np.array([[1, 6]])
    np.testing.assert_array_equal(rebuilt(src, tgt).data, model(src, tgt).data)
