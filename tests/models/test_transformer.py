"""models.Transformer: shapes, masks, gradients, and that it learns a copy task."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
import tinygrad_attn.functional as F
from models import (
    PositionalEncoding,
    Transformer,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    sinusoidal_table,
)
from tests import _tiny
from tinygrad_attn import optim
from tinygrad_attn.nn.utils import functional_call

PAD, BOS, EOS = 0, 1, 2


def _tokens(rng: np.random.Generator, shape: tuple, vocab: int) -> np.ndarray:
    return rng.integers(3, vocab, size=shape)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("tie", [False, True])
def test_forward_shape_is_batch_time_vocab(norm_first: bool, tie: bool, tiny_model) -> None:
    model = tiny_model(norm_first=norm_first, tie_embeddings=tie)
    rng = np.random.default_rng(0)
    logits = model(_tokens(rng, (3, 5), 11), _tokens(rng, (3, 4), 13))
    assert logits.shape == (3, 4, 13) and logits.dtype == np.float32
    assert np.isfinite(logits.data).all()


def test_sinusoidal_table_matches_the_paper_formula() -> None:
    table = sinusoidal_table(7, 6)
    pos, i = 5, 1
    assert table[pos, 2 * i] == pytest.approx(np.sin(pos / 10000 ** (2 * i / 6)), abs=1e-6)
    assert table[pos, 2 * i + 1] == pytest.approx(np.cos(pos / 10000 ** (2 * i / 6)), abs=1e-6)
    with pytest.raises(ValueError, match="max_len"):
        PositionalEncoding(6, max_len=4)(tg.zeros(1, 5, 6))


@given(st.integers(1, 4), st.integers(0, 1000))
def test_changing_future_target_tokens_leaves_earlier_logits_unchanged(cut: int, seed: int) -> None:
    model = _tiny.tiny_model(seed=1)  # hypothesis: the factory itself, not the fixture
    model.eval()
    rng = np.random.default_rng(seed)
    src, tgt = _tokens(rng, (2, 5), 11), _tokens(rng, (2, 5), 13)
    changed = tgt.copy()
    changed[:, cut:] = _tokens(rng, changed[:, cut:].shape, 13)
    a, b = model(src, tgt).data, model(src, changed).data
    np.testing.assert_allclose(a[:, :cut], b[:, :cut], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("norm_first", [False, True])
def test_appending_source_padding_leaves_outputs_unchanged(norm_first: bool, tiny_model) -> None:
    model = tiny_model(seed=2, norm_first=norm_first)
    model.eval()
    rng = np.random.default_rng(3)
    src, tgt = _tokens(rng, (2, 4), 11), _tokens(rng, (2, 5), 13)
    padded = np.concatenate([src, np.full((2, 3), PAD)], axis=1)
    np.testing.assert_allclose(model(src, tgt).data, model(padded, tgt).data, rtol=1e-5, atol=1e-6)
    memory, memory_padded = model.encode(src).data, model.encode(padded).data
    np.testing.assert_allclose(memory, memory_padded[:, :4], rtol=1e-5, atol=1e-6)


def test_fully_padded_source_gives_finite_logits(tiny_model) -> None:
    model = tiny_model(seed=4)
    logits = model(np.full((2, 3), PAD), np.array([[BOS, 5], [BOS, 6]]))
    assert np.isfinite(logits.data).all()


def _double(model):
    model.double()
    return model


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_gradient_matches_finite_differences(norm_first: bool) -> None:
    tg.manual_seed(5)
    layer = _double(TransformerEncoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first))
    padding = np.array([[False, False, True], [False, False, False]])
    x = tg.randn(2, 3, 4, dtype=np.float64, requires_grad=True)
    assert tg.gradcheck(lambda t: layer(t, src_key_padding_mask=padding), [x])


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_gradient_matches_finite_differences(norm_first: bool) -> None:
    tg.manual_seed(6)
    layer = _double(TransformerDecoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first))
    mask = np.triu(np.ones((3, 3), dtype=bool), k=1)
    tgt = tg.randn(2, 3, 4, dtype=np.float64, requires_grad=True)
    memory = tg.randn(2, 2, 4, dtype=np.float64, requires_grad=True)
    assert tg.gradcheck(lambda t, m: layer(t, m, tgt_mask=mask), [tgt, memory])


@pytest.mark.parametrize("norm_first", [False, True])
def test_whole_transformer_gradient_on_parameters(norm_first: bool, tiny_model) -> None:
    """A few parameter tensors of a tiny float64 Transformer, through a random cotangent."""
    model = _double(tiny_model(seed=7, norm_first=norm_first))
    rng = np.random.default_rng(8)
    src, tgt = _tokens(rng, (2, 3), 11), _tokens(rng, (2, 3), 13)
    src[1, -1] = PAD
    params = dict(model.named_parameters())
    names = [
        "encoder.0.self_attn.q_proj.weight",
        "decoder.1.cross_attn.v_proj.bias",
        "decoder.0.norm2.weight",
        "tgt_embed.weight",
    ]
    copies = [tg.Tensor(params[n].data.copy(), requires_grad=True) for n in names]

    def fn(*values):
        return functional_call(model, dict(zip(names, values)), (src, tgt))

    assert tg.gradcheck(fn, copies)


def _copy_batch(rng: np.random.Generator, batch: int, length: int, vocab: int):
    src = rng.integers(3, vocab, size=(batch, length))
    tgt_in = np.concatenate([np.full((batch, 1), BOS), src], axis=1)
    tgt_out = np.concatenate([src, np.full((batch, 1), EOS)], axis=1)
    return src, tgt_in, tgt_out


def test_overfits_a_copy_task_and_greedy_then_reproduces_the_inputs(tiny_model) -> None:
    model = tiny_model(
        src_vocab=12, tgt_vocab=12, d_model=32, nhead=4, num_decoder_layers=1, dim_feedforward=64
    )
    opt = optim.Adam(model.parameters(), lr=1e-3)
    src, tgt_in, tgt_out = _copy_batch(np.random.default_rng(0), 16, 6, 12)
    for _ in range(600):  # converges in ~270 steps (about 1 s)
        logits = model(src, tgt_in)
        loss = F.cross_entropy(logits, tgt_out, ignore_index=PAD)
        if (logits.data.argmax(-1) == tgt_out).all() and loss.item() < 0.02:
            break  # every token right, and confidently: beam search has nothing else to find
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model(src, tgt_in).data.argmax(-1) == tgt_out).mean() == 1.0
    decoded = model.greedy_decode(src, BOS, EOS, max_len=9)
    np.testing.assert_array_equal(decoded[:, 1:7], src)
    assert (decoded[:, 7] == EOS).all()
    np.testing.assert_array_equal(model.beam_search(src, 1, BOS, EOS, max_len=9), decoded)
    np.testing.assert_array_equal(model.beam_search(src, 3, BOS, EOS, max_len=9), decoded)


@given(st.integers(0, 10_000))
def test_beam_size_one_equals_greedy_on_an_untrained_model(seed: int) -> None:
    model = _tiny.tiny_model(seed=seed % 7)
    src = _tokens(np.random.default_rng(seed), (3, 4), 11)
    greedy = model.greedy_decode(src, BOS, EOS, max_len=7)
    np.testing.assert_array_equal(model.beam_search(src, 1, BOS, EOS, max_len=7), greedy)


def test_decoding_output_format_and_mode_restored(tiny_model) -> None:
    model = tiny_model(seed=9, dropout=0.1)
    model.train()
    out = model.greedy_decode(np.array([[4, 5, 6]]), BOS, EOS, max_len=6)
    assert out.dtype == np.int64 and out[0, 0] == BOS and out.shape[1] <= 6
    assert model.training  # decoding switched to eval and back
    ended = np.cumsum(out == EOS, axis=1) > 0
    after_eos = ended & (np.cumsum(ended, axis=1) > 1)
    assert (out[after_eos] == PAD).all()


def test_bad_inputs_raise_clear_errors(tiny_model) -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match="src must be a \\(B, length\\) integer array"):
        model(np.array([1.0, 2.0]), np.array([[1]]))
    with pytest.raises(ValueError, match="exceeds max_len"):
        model(np.ones((1, 17), dtype=np.int64), np.ones((1, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="not divisible"):
        Transformer(5, 5, d_model=6, nhead=4)
    with pytest.raises(ValueError, match="max_len"):
        model.greedy_decode(np.array([[3]]), BOS, EOS, max_len=1)


def test_parameter_count_of_the_default_translation_size() -> None:
    model = Transformer(
        200,
        350,
        d_model=128,
        nhead=4,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=512,
    )
    expected_layers = 2 * (4 * 128 * 128 + 4 * 128 + 2 * 128 * 512 + 512 + 128 + 4 * 128) + 2 * (
        8 * 128 * 128 + 8 * 128 + 2 * 128 * 512 + 512 + 128 + 6 * 128
    )
    expected = (200 + 350) * 128 + expected_layers + 128 * 350 + 350
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("pad_id", [0, 3])
def test_embeddings_start_at_the_size_of_the_positional_encoding(pad_id: int) -> None:
    """N(0, 1/E) embeddings: after the sqrt(E) scaling they are N(0, 1), like the positions."""
    tg.manual_seed(0)
    model = Transformer(300, 400, d_model=128, pad_id=pad_id)
    for embedding in (model.src_embed, model.tgt_embed):
        weight = embedding.weight.data
        assert np.all(weight[pad_id] == 0.0)
        rest = np.delete(weight, pad_id, axis=0)
        assert 0.95 < float(rest.std()) * np.sqrt(128) < 1.05
        assert abs(float(rest.mean())) * np.sqrt(128) < 0.02


@pytest.mark.parametrize("decode", ["greedy", "beam"])
def test_decoding_that_raises_restores_every_mode_and_grad(
    decode: str, monkeypatch, tiny_model
) -> None:
    model = tiny_model(seed=9, dropout=0.1)
    model.decoder[1].eval()  # a submodule in its own mode must get it back too
    before = [m.training for m in model.modules()]

    def broken_decode(*args, **kwargs):
        assert not model.training and not tg.is_grad_enabled()  # inside: eval + no_grad
        raise RuntimeError("stop")

    monkeypatch.setattr(model, "decode", broken_decode)
    src = np.array([[4, 5, 6]])
    with pytest.raises(RuntimeError, match="stop"):
        if decode == "greedy":
            model.greedy_decode(src, BOS, EOS, max_len=6, use_cache=False)
        else:
            model.beam_search(src, 2, BOS, EOS, max_len=6, use_cache=False)
    assert [m.training for m in model.modules()] == before
    assert tg.is_grad_enabled()
