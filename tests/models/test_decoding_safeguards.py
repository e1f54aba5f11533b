"""The decoding safeguards of models/decoding.py: a length bound from the source and no n-gram
three times in a row, for greedy decoding and beam search."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import Transformer
from models.decoding import (
    LENGTH_EXTRA,
    LENGTH_RATIO,
    ban_repeats,
    has_loop,
    length_limits,
    safeguards,
)

PAD, BOS, EOS = 0, 1, 2
VOCAB = 6  # few tokens: an untrained model repeats itself at once


def _ends_with_loop(tokens: list[int]) -> bool:
    """Brute force: the sequence ends with some n-gram three times in a row."""
    return any(
        tokens[-n:] == tokens[-2 * n : -n] == tokens[-3 * n : -2 * n]
        for n in range(1, len(tokens) // 3 + 1)
    )


@pytest.fixture
def tiny_model(tiny_model: Callable[..., Transformer]) -> Callable[..., Transformer]:
    """The shared tiny model (tests/conftest.py) with VOCAB tokens on both sides, d_model 16,
    1+1 layers and max_len 40 (room for the length bounds)."""
    sizes = dict(d_model=16, num_decoder_layers=1, dim_feedforward=16, max_len=40)
    return partial(tiny_model, src_vocab=VOCAB, tgt_vocab=VOCAB, **sizes)


def _source(seed: int, batch: int = 8, length: int = 6) -> np.ndarray:
    """Random sources, padded on half of the rows; all but the first row loop-free."""
    rng = np.random.default_rng(seed)
    src = np.full((batch, length), PAD)
    src[0, :3] = 4  # a source that loops itself: its row is left unguarded
    for row in range(1, batch):
        size = int(rng.integers(1, length + 1)) if row % 2 else length
        tokens = [5]
        while len(tokens) < size:
            tokens.append(int(rng.choice([t for t in (3, 4, 5) if not has_loop(tokens + [t])])))
        src[row, :size] = tokens
    return src


def _generated(row: np.ndarray) -> list[int]:
    """The tokens after BOS up to EOS, or without the trailing padding of a row that ended at
    its bound (an untrained model may write PAD itself, mid-row)."""
    tokens = row[1:].tolist()
    if EOS in tokens:
        return tokens[: tokens.index(EOS)]
    while tokens and tokens[-1] == PAD:
        tokens.pop()
    return tokens


def test_has_loop_finds_an_n_gram_three_times_in_a_row_and_nothing_else() -> None:
    assert has_loop([7, 7, 7]) and has_loop([1, 5, 6, 5, 6, 5, 6, 2])
    assert has_loop("in the park in the park in the park".split())
    assert not has_loop([7, 7, 3, 7]) and not has_loop([5, 6, 5, 6, 5]) and not has_loop([])
    assert not has_loop("the teacher 's teacher".split())


def test_length_limits_count_the_non_pad_source_tokens() -> None:
    src = np.array([[5, 6, 7, PAD], [5, PAD, PAD, PAD], [5, 6, 7, 8]])
    assert length_limits(src, PAD).tolist() == [LENGTH_RATIO * n + LENGTH_EXTRA for n in (3, 1, 4)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(3, 5), min_size=0, max_size=12), min_size=1, max_size=4),
    st.integers(0, 2**31 - 1),
)
def test_ban_repeats_bans_exactly_the_tokens_that_would_end_a_loop(rows, seed) -> None:
    length = min(len(r) for r in rows)
    generated = np.array([r[:length] for r in rows], dtype=np.int64).reshape(len(rows), length)
    logits = np.random.default_rng(seed).normal(size=(len(rows), VOCAB)).astype(np.float32)
    guarded = np.arange(len(rows)) % 2 == 0  # odd rows unguarded
    banned = ban_repeats(logits, generated, guarded)
    for b, row in enumerate(generated.tolist()):
        for token in range(VOCAB):
            loop = guarded[b] and _ends_with_loop(row + [token])
            assert banned[b, token] == (-np.inf if loop else logits[b, token]), (row, token)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("beam", [1, 3])
def test_guarded_decoding_never_loops_and_stops_within_the_bound(
    seed: int, beam: int, tiny_model
) -> None:
    model, src = tiny_model(seed), _source(seed)
    guards = safeguards(src, PAD)
    max_len = int(guards["limits"].max()) + 1
    if beam == 1:
        out = model.greedy_decode(src, BOS, EOS, max_len, **guards)
        plain = model.greedy_decode(src, BOS, EOS, max_len)
    else:
        out = model.beam_search(src, beam, BOS, EOS, max_len, **guards)
        plain = model.beam_search(src, beam, BOS, EOS, max_len)
    assert any(has_loop(_generated(row)) for row in plain)  # the untrained model does loop
    assert guards["no_repeat"].tolist() == [False] + [True] * 7
    for row, limit, guarded in zip(out, guards["limits"], guards["no_repeat"]):
        tokens = _generated(row)
        assert len(tokens) + (EOS in row) <= limit, (tokens, limit)
        assert not (guarded and has_loop(tokens)), tokens


def test_rows_without_the_guard_decode_as_before_and_the_bound_still_holds(tiny_model) -> None:
    model, src = tiny_model(0), _source(0)
    limits = length_limits(src, PAD)
    off = np.zeros(src.shape[0], dtype=bool)
    max_len = int(limits.max()) + 1
    guarded = model.greedy_decode(src, BOS, EOS, max_len, limits=limits, no_repeat=off)
    plain = model.greedy_decode(src, BOS, EOS, max_len)
    for row, ref, limit in zip(guarded, plain, limits):
        tokens, ref_tokens = row[1:].tolist(), ref[1:].tolist()
        assert row.shape[0] - 1 <= limit or tokens[limit:] == [PAD] * (len(tokens) - limit)
        assert tokens[:limit] == ref_tokens[:limit]


def test_a_source_that_loops_itself_leaves_its_row_unguarded() -> None:
    src = np.array([[5, 5, 5, PAD], [3, 4, 5, PAD], [3, 4, 3, 4]])
    assert safeguards(src, PAD)["no_repeat"].tolist() == [False, True, True]


@pytest.mark.parametrize("seed", range(2))
def test_beam_of_one_with_safeguards_is_greedy_with_safeguards(seed: int, tiny_model) -> None:
    model, src = tiny_model(seed), _source(seed + 10)
    guards = safeguards(src, PAD)
    max_len = int(guards["limits"].max()) + 1
    greedy = model.greedy_decode(src, BOS, EOS, max_len, **guards)
    beam = model.beam_search(src, 1, BOS, EOS, max_len, **guards)
    for g, b in zip(greedy, beam):
        assert _generated(g) == _generated(b)
