"""Position information as a choice (models/positional.py, Transformer(pos=...)): what makes the
relative schemes relative, how every scheme composes with padding and causal masks, and float64
gradchecks of a whole tiny Transformer for each scheme."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest

import tinygrad_attn as tg
from models import (
    ALiBi,
    LearnedPositionalEncoding,
    T5RelativeBias,
    Transformer,
    sinusoidal_table,
)
from models.cache import DecoderLayerCache
from models.positional import POSITION_SCHEMES, alibi_slopes, relative_positions, t5_buckets
from tinygrad_attn import nn
from tinygrad_attn.nn.utils import functional_call

PAD, BOS, EOS = 0, 1, 2
E, H, T = 8, 2, 6


def _mha(seed: int = 0) -> nn.MultiheadAttention:
    tg.manual_seed(seed)
    mha = nn.MultiheadAttention(E, H).double()
    rng = np.random.default_rng(seed)
    for p in mha.parameters():
        p.data = rng.standard_normal(p.shape) * 0.5
    return mha


def _positioned(scheme: str, x: tg.Tensor, start: int, causal: bool) -> tuple[tg.Tensor, dict]:
    """Self-attention's input and keywords for a sequence whose positions are start..start+T-1."""
    if scheme == "sinusoidal":
        return x + tg.Tensor(sinusoidal_table(32, E)[start : start + T].astype(np.float64)), {}
    if scheme == "learned":
        tg.manual_seed(1)
        return LearnedPositionalEncoding(E, 32).double()(x, offset=start), {}
    if scheme == "rope":
        rope = nn.RotaryEmbedding(E // H)
        return x, {"rotary": lambda t, offset=0, width=None: rope(t, offset + start, width)}
    tg.manual_seed(1)
    module = ALiBi(H, not causal) if scheme == "alibi" else T5RelativeBias(H, not causal).double()
    return x, {"attn_bias": module(T, T, query_offset=start, key_offset=start)}


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("scheme", POSITION_SCHEMES)
def test_shifting_every_position_leaves_relative_self_attention_unchanged(
    scheme: str, causal: bool
) -> None:
    """Positions 0..5 and 7..12 (and 20..25): the same output for rope, alibi and t5; a
    different one for the absolute schemes. With key padding and (or not) a causal mask."""
    mha = _mha()
    x = tg.Tensor(np.random.default_rng(2).standard_normal((2, T, E)))
    padding = np.zeros((2, T), dtype=bool)
    padding[0, 4:] = True
    outputs = []
    for start in (0, 7, 20):
        inputs, position = _positioned(scheme, x, start, causal)
        out, _ = mha(inputs, inputs, inputs, key_padding_mask=padding, is_causal=causal, **position)
        outputs.append(out.data)
    without, _ = mha(x, x, x, key_padding_mask=padding, is_causal=causal)
    assert np.abs(outputs[0] - without.data).max() > 1e-3, "the scheme adds no position at all"
    for shifted in outputs[1:]:
        change = np.abs(shifted - outputs[0]).max()
        if scheme in ("sinusoidal", "learned"):
            assert change > 1e-2, f"{scheme}: absolute positions should change the output"
        else:
            assert change < 1e-12, f"{scheme}: a shift changed the output by {change:.3g}"


def test_alibi_bias_is_minus_slope_times_distance() -> None:
    slopes = alibi_slopes(4)
    np.testing.assert_allclose(slopes, [2**-2, 2**-4, 2**-6, 2**-8])
    both, causal = ALiBi(4, True)(3, 5, query_offset=2), ALiBi(4, False)(3, 5, query_offset=2)
    assert both.shape == causal.shape == (4, 3, 5)
    assert both[1, 0, 0] == -slopes[1] * 2 and both[1, 0, 4] == -slopes[1] * 2
    assert causal[1, 0, 0] == -slopes[1] * 2 and causal[1, 0, 4] == 0  # the future: masked
    np.testing.assert_array_equal(relative_positions(2, 3, 1), [[-1, 0, 1], [-2, -1, 0]])


def test_t5_buckets_are_exact_near_and_logarithmic_far() -> None:
    distance = -np.arange(0, 200)  # keys further and further back
    causal = t5_buckets(distance, bidirectional=False)
    np.testing.assert_array_equal(causal[:16], np.arange(16))  # one bucket per distance < 16
    assert (np.diff(causal) >= 0).all() and (causal[128:] == 31).all()
    # 16 + 16 log(d / 16) / log(128 / 16), rounded down: the mesh-tensorflow formula
    np.testing.assert_array_equal(causal[[16, 32, 64, 100]], [16, 21, 26, 30])
    both = t5_buckets(np.concatenate([distance, -distance[1:]]), bidirectional=True)
    assert set(both[:200]) <= set(range(16)) and set(both[200:]) <= set(range(16, 32))
    np.testing.assert_array_equal(both[:8], np.arange(8))
    np.testing.assert_array_equal(t5_buckets(np.array([3, 5]), bidirectional=False), [0, 0])


@pytest.fixture
def tiny_model(tiny_model: Callable[..., Transformer]) -> Callable[..., Transformer]:
    """The shared tiny model (tests/conftest.py) with two encoder layers here: the position
    information goes through a stack."""
    return partial(tiny_model, num_encoder_layers=2)


@pytest.mark.parametrize("pos", POSITION_SCHEMES)
def test_source_padding_and_future_targets_are_invisible(pos: str, tiny_model) -> None:
    """Every scheme composes with the padding mask (appended PAD changes nothing) and the causal
    mask (changing later target tokens leaves earlier logits alone)."""
    model = tiny_model(pos=pos).eval()
    rng = np.random.default_rng(3)
    src, tgt = rng.integers(3, 11, (2, 4)), rng.integers(3, 13, (2, 5))
    padded = np.concatenate([src, np.full((2, 3), PAD)], axis=1)
    np.testing.assert_allclose(model(padded, tgt).data, model(src, tgt).data, atol=1e-6)
    changed = tgt.copy()
    changed[:, 3:] = rng.integers(3, 13, (2, 2))
    np.testing.assert_allclose(model(src, changed).data[:, :3], model(src, tgt).data[:, :3], 1e-5)


@pytest.mark.parametrize("pos", POSITION_SCHEMES)
def test_word_order_reaches_the_output(pos: str, tiny_model) -> None:
    """Swapping two source tokens changes the logits: position information gets through."""
    model = tiny_model(seed=4, pos=pos).eval()
    src, tgt = np.array([[3, 4, 5, 6, 7]]), np.array([[BOS, 5, 6]])
    swapped = src[:, [1, 0, 2, 3, 4]]
    assert np.abs(model(src, tgt).data - model(swapped, tgt).data).max() > 1e-4


@pytest.mark.parametrize("pos", POSITION_SCHEMES)
def test_given_positions_replace_zero_one_two(pos: str, tiny_model) -> None:
    """src_positions / tgt_positions (randomized positions in training): arange is the default;
    one shift of every position changes only the absolute schemes; gaps change every scheme."""
    model = tiny_model(seed=5, pos=pos).double().eval()
    rng = np.random.default_rng(6)
    src, tgt = rng.integers(3, 11, (2, 5)), rng.integers(3, 13, (2, 4))
    default = model(src, tgt).data
    same = model(src, tgt, src_positions=np.arange(5), tgt_positions=np.arange(4)).data
    assert np.array_equal(same, default)
    shifted = model(src, tgt, src_positions=np.arange(5) + 4, tgt_positions=np.arange(4) + 7)
    change = np.abs(shifted.data - default).max()
    if pos in ("sinusoidal", "learned"):
        assert change > 1e-3
    else:
        assert change < 1e-12, f"{pos}: a shift of every position changed the logits"
    gaps = model(src, tgt, src_positions=np.array([0, 2, 3, 7, 9]), tgt_positions=np.arange(4))
    assert np.abs(gaps.data - default).max() > 1e-4, "the gaps between positions are ignored"


def test_bad_positions_are_named(tiny_model) -> None:
    model = tiny_model(pos="sinusoidal").eval()
    src, tgt = np.array([[3, 4, 5]]), np.array([[BOS, 5]])
    with pytest.raises(ValueError, match="PositionalEncoding: position 16 exceeds max_len 16"):
        model(src, tgt, src_positions=np.array([0, 1, 16]))
    with pytest.raises(ValueError, match="positions must be 2 non-negative integers"):
        model(src, tgt, tgt_positions=np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="relative_positions: positions must be 3"):
        tiny_model(pos="t5").eval()(src, tgt, src_positions=np.array([0.0, 1.0, 2.0]))
    cache = [DecoderLayerCache(4) for _ in model.decoder]
    with pytest.raises(ValueError, match="positions= cannot be combined with a cache"):
        model.decode(tgt, model.encode(src), src, cache=cache, positions=np.arange(2))


def test_alibi_encoder_cannot_tell_a_source_from_its_mirror_image(tiny_model) -> None:
    """|i - j| is the same read left to right or right to left, and nothing else in the encoder
    knows a direction: a reversed source gives the reversed memory, and (cross-attention
    being blind to order) the same translation. An end marker (EOS) in the source breaks the
    tie; the toy translation data has none."""
    model = tiny_model(seed=5, pos="alibi").double().eval()
    src, tgt = np.array([[3, 4, 5, 6, 7]]), np.array([[BOS, 5, 6]])
    mirror = src[:, ::-1].copy()
    np.testing.assert_allclose(model.encode(mirror).data, model.encode(src).data[:, ::-1], 1e-10)
    np.testing.assert_allclose(model(mirror, tgt).data, model(src, tgt).data, 1e-10)


PARAMETERS = {
    "sinusoidal": [],
    "learned": ["pos.embedding.weight"],
    "rope": [],
    "alibi": [],
    "t5": [
        "rel_pos.encoder_bias.relative_attention_bias.weight",
        "rel_pos.decoder_bias.relative_attention_bias.weight",
    ],
}


@pytest.mark.parametrize("pos", POSITION_SCHEMES)
def test_whole_transformer_gradient_for_every_scheme(pos: str, tiny_model) -> None:
    """float64 gradcheck through a random cotangent: the self-attention projections (whose
    gradient passes through the Rotary node for rope) and the scheme's own parameters."""
    model = tiny_model(seed=7, pos=pos).double()
    rng = np.random.default_rng(8)
    src, tgt = rng.integers(3, 11, (2, 4)), rng.integers(3, 13, (2, 3))
    src[1, -1] = PAD
    names = ["encoder.0.self_attn.k_proj.weight", "decoder.1.self_attn.q_proj.bias"]
    names += PARAMETERS[pos]
    params = dict(model.named_parameters())
    copies = [tg.Tensor(params[n].data.copy(), requires_grad=True) for n in names]

    def fn(*values: Any) -> tg.Tensor:
        return functional_call(model, dict(zip(names, values)), (src, tgt))

    assert tg.gradcheck(fn, copies)


def test_parameters_and_state_of_each_scheme(tiny_model) -> None:
    counts = {
        pos: sum(p.numel() for p in tiny_model(pos=pos).parameters()) for pos in POSITION_SCHEMES
    }
    base = counts["sinusoidal"]
    assert counts["rope"] == counts["alibi"] == base
    assert counts["learned"] == base + 16 * 8  # max_len x E
    assert counts["t5"] == base + 2 * 32 * 2  # two (num_buckets, H) tables, shared by layers
    assert "pos.pe" in tiny_model(pos="sinusoidal").state_dict()  # old checkpoints still load
    with pytest.raises(ValueError, match="pos must be one of"):
        tiny_model(pos="relative")
    with pytest.raises(ValueError, match="rope needs an even head dim"):
        Transformer(5, 5, d_model=6, nhead=2, pos="rope")


@pytest.mark.parametrize("pos", POSITION_SCHEMES)
def test_a_source_start_token_is_an_anchor_in_the_encoder_and_absent_from_the_memory(
    pos, tiny_model
):
    """src_bos: the encoder runs over BOS + source (for a relative scheme the distance to BOS is
    the absolute position), the memory keeps one row per source token; the token changes the
    output; padding stays invisible; decoding with and without the cache agree."""
    sizes = dict(src_vocab=13, tgt_vocab=15, num_encoder_layers=1, num_decoder_layers=1)
    model = tiny_model(seed=7, **sizes, pos=pos, src_bos=BOS).eval()
    rng = np.random.default_rng(8)
    src, tgt = rng.integers(3, 11, (2, 4)), rng.integers(3, 13, (2, 5))
    assert model.encode(src).shape == (2, 4, 8)
    padded = np.concatenate([src, np.full((2, 3), PAD)], axis=1)
    np.testing.assert_allclose(model(padded, tgt).data, model(src, tgt).data, atol=1e-6)
    plain = Transformer(dataclasses.replace(model.config, src_bos=None)).eval()
    plain.load_state_dict(model.state_dict())
    assert np.abs(plain(src, tgt).data - model(src, tgt).data).max() > 1e-4
    given = model(src, tgt, src_positions=np.arange(4), tgt_positions=np.arange(5)).data
    np.testing.assert_array_equal(given, model(src, tgt).data)  # the start at 0, source at 1..
    cached = model.greedy_decode(padded, BOS, EOS, 9)
    assert np.array_equal(cached, model.greedy_decode(padded, BOS, EOS, 9, use_cache=False))


def test_whole_transformer_gradient_with_a_source_start_token(tiny_model) -> None:
    """float64 gradcheck through the start token's embedding row and the encoder around it."""
    sizes = dict(src_vocab=9, tgt_vocab=11, d_model=4, dim_feedforward=6, max_len=12)
    sizes.update(num_encoder_layers=1, num_decoder_layers=1)
    model = tiny_model(seed=9, **sizes, pos="rope", src_bos=BOS).double()
    src = np.array([[3, 4, 5, PAD], [6, 7, 3, 4]])
    tgt = np.array([[BOS, 4, 5], [BOS, 6, PAD]])
    names = ["src_embed.weight", "encoder.0.self_attn.q_proj.weight"]
    params = dict(model.named_parameters())
    copies = [tg.Tensor(params[n].data.copy(), requires_grad=True) for n in names]

    def fn(*values: Any) -> tg.Tensor:
        return functional_call(model, dict(zip(names, values)), (src, tgt))

    assert tg.gradcheck(fn, copies)


@pytest.mark.parametrize("bad", [PAD, 13, -1])
def test_a_start_token_must_be_a_source_id_other_than_pad(bad: int) -> None:
    with pytest.raises(ValueError, match="TransformerConfig: src_bos must be a source token id"):
        Transformer(13, 15, 8, 2, 1, 1, 12, src_bos=bad)
