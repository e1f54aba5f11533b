"""The key/value cache (models/cache.py): same logits and tokens as re-running the full prefix,
and one decoder pass per new token instead of one per prefix position."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pytest

import tinygrad_attn as tg
from models import Transformer
from models.cache import DecoderCache
from models.positional import POSITION_SCHEMES

PAD, BOS, EOS = 0, 1, 2
CONFIGS = [(False, False), (False, True), (True, False), (True, True)]  # (norm_first, tie)


@pytest.fixture
def tiny_model(tiny_model: Callable[..., Transformer]) -> Callable[..., Transformer]:
    """The shared tiny model (tests/conftest.py) at this file's sizes: vocab 17 on both sides,
    4 heads, 2+2 layers, FFN 24, max_len 24, and dropout 0.1 (off while decoding; on here so a
    forgotten eval() would show)."""
    sizes = dict(d_model=16, nhead=4, num_encoder_layers=2, dim_feedforward=24, max_len=24)
    return partial(tiny_model, src_vocab=17, tgt_vocab=17, dropout=0.1, **sizes)


def _source(seed: int, vocab: int = 17, batch: int = 6, length: int = 7) -> np.ndarray:
    """Random source tokens with trailing padding on half of the rows."""
    rng = np.random.default_rng(seed)
    src = rng.integers(3, vocab, size=(batch, length))
    for row in range(0, batch, 2):
        src[row, rng.integers(1, length) :] = PAD
    return src


@pytest.mark.parametrize(
    ("norm_first", "tie", "pos"),
    [(*config, "sinusoidal") for config in CONFIGS]
    + [(True, False, pos) for pos in POSITION_SCHEMES[1:]],
)
def test_cached_logits_match_the_full_prefix_decoder_at_every_step(
    norm_first: bool, tie: bool, pos: str, tiny_model
) -> None:
    """Every position scheme: the cache's step t sees positions (rope's angles, alibi's and
    t5's biases, the learned table) from cache.length on, as the full prefix does."""
    model = tiny_model(norm_first=norm_first, tie_embeddings=tie, pos=pos).eval()
    src = _source(1)
    rng = np.random.default_rng(2)
    prefix = rng.integers(3, 17, size=(src.shape[0], 9))
    prefix[:, 0] = BOS
    prefix[1, 4:] = PAD  # a pad inside the prefix is ignored as a key by both paths
    with tg.no_grad():
        memory = model.encode(src)
        full = model.decode(prefix, memory, src).data  # (B, T, V)
        cache = DecoderCache(model, memory, src, capacity=prefix.shape[1])
        for t in range(1, prefix.shape[1] + 1):
            np.testing.assert_allclose(cache(prefix[:, :t]), full[:, t - 1], atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize(
    ("norm_first", "tie", "pos"),
    [(*config, "sinusoidal") for config in CONFIGS]
    + [(False, False, pos) for pos in POSITION_SCHEMES[1:]],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_tokens_are_equal_with_and_without_the_cache(
    norm_first: bool, tie: bool, pos: str, seed: int, tiny_model
) -> None:
    # A 7-token vocabulary makes EOS likely, so some rows end early and are padded.
    model = tiny_model(
        seed, src_vocab=7, tgt_vocab=7, norm_first=norm_first, tie_embeddings=tie, pos=pos
    )
    src = _source(seed, vocab=7, batch=8)
    cached = model.greedy_decode(src, BOS, EOS, max_len=16)
    plain = model.greedy_decode(src, BOS, EOS, max_len=16, use_cache=False)
    np.testing.assert_array_equal(cached, plain)


@pytest.mark.parametrize(
    ("norm_first", "tie", "pos"),
    [(*config, "sinusoidal") for config in CONFIGS]
    + [(False, True, pos) for pos in POSITION_SCHEMES[1:]],
)
@pytest.mark.parametrize("beam_size", [2, 4])
def test_beam_search_is_equal_with_and_without_the_cache(
    norm_first: bool, tie: bool, pos: str, beam_size: int, tiny_model
) -> None:
    model = tiny_model(
        3, src_vocab=7, tgt_vocab=7, norm_first=norm_first, tie_embeddings=tie, pos=pos
    )
    src = _source(4, vocab=7, batch=5)
    cached = model.beam_search(src, beam_size, BOS, EOS, max_len=14)
    plain = model.beam_search(src, beam_size, BOS, EOS, max_len=14, use_cache=False)
    np.testing.assert_array_equal(cached, plain)


@pytest.mark.parametrize("use_cache", [True, False])
def test_beam_size_one_is_greedy_with_either_path(use_cache: bool, tiny_model) -> None:
    model = tiny_model(5, src_vocab=7, tgt_vocab=7)
    src = _source(6, vocab=7)
    greedy = model.greedy_decode(src, BOS, EOS, max_len=12, use_cache=use_cache)
    beam = model.beam_search(src, 1, BOS, EOS, max_len=12, use_cache=use_cache)
    np.testing.assert_array_equal(beam, greedy)


def test_the_cache_keeps_float64_and_matches_the_full_decoder_closely(tiny_model) -> None:
    model = tiny_model(norm_first=True).double().eval()
    src = _source(7)
    prefix = np.full((src.shape[0], 1), BOS)
    with tg.no_grad():
        memory = model.encode(src)
        logits = DecoderCache(model, memory, src, capacity=4)(prefix)
        full = model.decode(prefix, memory, src).data[:, -1]
    assert logits.dtype == np.float64
    np.testing.assert_allclose(logits, full, atol=1e-12)


def _rows_through_self_attention(model: Transformer, use_cache: bool, max_len: int) -> int:
    """Query rows the first decoder layer's self-attention ran during a greedy decode."""
    rows = []
    attention = model.decoder[0].self_attn
    handle = attention.register_forward_hook(
        lambda m, inputs, out: rows.append(out[0].shape[0] * out[0].shape[1])
    )
    # eos_id=-1 never comes out of argmax, so every sequence runs to max_len.
    model.greedy_decode(_source(8), BOS, -1, max_len=max_len, use_cache=use_cache)
    handle.remove()
    return sum(rows)


def test_cached_decoding_does_work_linear_in_length_and_the_plain_one_quadratic(tiny_model) -> None:
    model = tiny_model()
    batch, steps = _source(8).shape[0], 15  # max_len 16: BOS + 15 generated tokens
    assert _rows_through_self_attention(model, True, 16) == batch * steps
    assert _rows_through_self_attention(model, False, 16) == batch * steps * (steps + 1) // 2


def test_cache_rejects_a_prefix_of_the_wrong_length(tiny_model) -> None:
    model = tiny_model().eval()
    src = _source(9)
    with tg.no_grad():
        cache = DecoderCache(model, model.encode(src), src, capacity=4)
        cache(np.full((src.shape[0], 1), BOS))
        with pytest.raises(ValueError, match="expected a prefix of length 2"):
            cache(np.full((src.shape[0], 3), BOS))


def test_reorder_refuses_to_move_a_row_into_another_group(tiny_model) -> None:
    model = tiny_model().eval()
    src = np.repeat(_source(10, batch=2), 2, axis=0)  # 2 sources x 2 beams
    with tg.no_grad():
        cache = DecoderCache(model, model.encode(src), src, capacity=4, group_size=2)
        cache(np.full((4, 1), BOS))
        cache.reorder(np.array([1, 1, 2, 3]))  # within groups: fine
        with pytest.raises(ValueError, match="within their group of 2"):
            cache.reorder(np.array([0, 2, 2, 3]))


def test_reorder_moves_cached_keys_with_their_beam(tiny_model) -> None:
    model = tiny_model().eval()
    src = np.repeat(_source(11, batch=1), 2, axis=0)  # one source, 2 beams
    prefixes = np.array([[BOS, 5, 6], [BOS, 9, 4]])
    with tg.no_grad():
        memory = model.encode(src)
        cache = DecoderCache(model, memory, src, capacity=4, group_size=2)
        cache(prefixes[:, :1])
        cache(prefixes[:, :2])
        cache.reorder(np.array([1, 1]))  # both beams now continue beam 1
        moved = prefixes[[1, 1]]
        expected = model.decode(moved, memory, src).data[:, -1]
        np.testing.assert_allclose(cache(moved), expected, atol=2e-5, rtol=1e-4)
