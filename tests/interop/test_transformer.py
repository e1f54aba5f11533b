"""models.Transformer <-> TorchTransformer (PyTorch's encoder and decoder layers): post-norm and
pre-norm, tied and untied output projection, every position scheme (sinusoidal, learned, rope,
alibi, t5); same logits (1e-5 in float32, 1e-10 in float64) on padded batches, in training
mode and in eval mode without autograd (PyTorch's fast path), same gradient for every
parameter (position and bias tables included), the same greedy tokens, and
from_torch(to_torch(m)) equal to m bit for bit. Replaced or modified layers (position layers
included) are errors naming the layer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import models
import tinygrad_attn as tg
from models.positional import POSITION_SCHEMES
from tests._tiny import tiny_model
from tinygrad_attn import nn

torch = pytest.importorskip("torch")

from tinygrad_attn import interop  # noqa: E402 (after the skip)

from .helpers import (  # noqa: E402
    assert_close,
    assert_grads_close,
    assert_same_state,
    randomised_transformer,
    torch_tensor,
)

PAD, BOS, EOS = 0, 1, 2
SCHEMES = list(POSITION_SCHEMES)  # models.Transformer's position schemes: interop maps them all
# The sizes of this file's models (tests/_tiny.py has the rest); a module-scoped fixture trains
# some of them, so they come from the factory itself rather than the function-scoped fixture.
SIZES = dict(src_vocab=13, tgt_vocab=17, d_model=16, nhead=4, dim_feedforward=32, max_len=24)
ARCHITECTURES = [
    pytest.param(dict(norm_first=False, tie_embeddings=False), id="post-norm"),
    pytest.param(dict(norm_first=True, tie_embeddings=False), id="pre-norm"),
    pytest.param(dict(norm_first=False, tie_embeddings=True, src_bos=BOS), id="post-norm-tied-bos"),
    pytest.param(dict(norm_first=True, tie_embeddings=True, activation="gelu"), id="pre-norm-tied"),
]
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def _model(arch: dict, dtype: type, scheme: str = "sinusoidal") -> models.Transformer:
    """A 2+2-layer Transformer with random weights everywhere (PAD rows kept zero), in eval
    mode."""
    model = tiny_model(**SIZES, num_encoder_layers=2, dropout=0.1, pos=scheme, **arch)
    return randomised_transformer(model, dtype, PAD).eval()


def _batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """src (4, 7), tgt_in (4, 6): BOS first, tokens, then PAD (row 0 unpadded)."""
    rng = np.random.default_rng(seed)
    src, tgt = rng.integers(3, 13, (4, 7)), rng.integers(3, 17, (4, 6))
    tgt[:, 0] = BOS
    for row, (s_len, t_len) in enumerate([(7, 6), (5, 4), (2, 2), (4, 6)]):
        src[row, s_len:], tgt[row, t_len:] = PAD, PAD
    return src, tgt


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_logits_and_every_gradient_match_pytorch(arch: dict, dtype: type, scheme: str) -> None:
    ours = _model(arch, dtype, scheme)
    theirs = interop.to_torch(ours)
    assert type(theirs).__name__ == "TorchTransformer" and not theirs.training
    src, tgt = _batch()
    logits = ours(src, tgt)  # (B, T, V)
    their_logits = theirs(torch_tensor(src), torch_tensor(tgt))
    assert_close(logits.data, their_logits.detach().numpy(), dtype, "logits")
    with torch.no_grad():  # eval without autograd: where PyTorch's encoder layer has a fast path
        inference = theirs(torch_tensor(src), torch_tensor(tgt))
    assert_close(logits.data, inference.numpy(), dtype, "logits under no_grad")
    cotangent = np.random.default_rng(1).standard_normal(logits.shape).astype(dtype)
    (logits * tg.Tensor(cotangent)).sum().backward()
    (their_logits * torch_tensor(cotangent)).sum().backward()
    assert_grads_close(ours, theirs, dtype)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_from_torch_of_to_torch_is_the_same_model_bit_for_bit(
    arch: dict, dtype: type, scheme: str
) -> None:
    ours = _model(arch, dtype, scheme).train()
    theirs = interop.to_torch(ours)
    assert theirs.training
    back = interop.from_torch(theirs)
    assert_same_state(back, ours)
    assert (back.tie_embeddings, back.norm_first) == (ours.tie_embeddings, ours.norm_first)
    assert back.pos_scheme == theirs.config.pos == scheme
    assert back.config == theirs.config == ours.config


def _torch_greedy(model, src: np.ndarray, max_len: int) -> np.ndarray:
    """Greedy decoding on the PyTorch side: the whole prefix each step, PAD after EOS."""
    model.eval()
    src = torch_tensor(src)
    with torch.no_grad():
        memory = model.encode(src)
        out = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
        done = torch.zeros(src.shape[0], dtype=torch.bool)
        while out.shape[1] < max_len and not bool(done.all()):
            token = model.decode(out, memory, src)[:, -1].argmax(-1)
            token = torch.where(done, torch.full_like(token, PAD), token)
            out = torch.cat([out, token[:, None]], dim=1)
            done |= token == EOS
    return out.numpy()


def _reversal_batch(rng: np.random.Generator, n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """src (n, 6) of 2-6 tokens; tgt (n, 8): BOS, the tokens reversed, EOS, then PAD."""
    src, tgt = np.zeros((n, 6), dtype=np.int64), np.zeros((n, 8), dtype=np.int64)
    for row, length in enumerate(rng.integers(2, 7, n)):
        tokens = rng.integers(3, 13, length)
        src[row, :length], tgt[row, 1 : length + 1] = tokens, tokens[::-1]
        tgt[row, 0], tgt[row, length + 1] = BOS, EOS
    return src, tgt


def _train_reverser(arch: dict, scheme: str) -> torch.nn.Module:
    """A 1+1-layer model trained 40 PyTorch Adam steps to reverse (about 0.5 s): random weights
    decode one token over and over, and would hide a mix-up."""
    ours = tiny_model(**SIZES, num_decoder_layers=1, pos=scheme, **arch)
    theirs = interop.to_torch(ours)
    opt = torch.optim.Adam(theirs.parameters(), lr=2e-2)
    rng = np.random.default_rng(0)
    for _ in range(40):
        src, tgt = (torch_tensor(a) for a in _reversal_batch(rng))
        logits = theirs(src, tgt[:, :-1])
        loss = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=PAD
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return theirs.eval()


@pytest.fixture(scope="module")
def reversers() -> Callable[[dict, str], torch.nn.Module]:
    """reversers(arch, scheme): the trained model, trained once for both dtypes' tests."""
    trained = {}

    def reverser(arch: dict, scheme: str) -> torch.nn.Module:
        key = (repr(sorted(arch.items())), scheme)
        if key not in trained:
            trained[key] = _train_reverser(arch, scheme)
        return trained[key]

    return reverser


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_greedy_decoding_gives_the_same_tokens(
    arch: dict, dtype: type, scheme: str, reversers
) -> None:
    """Ours decodes with its KV cache (rope's position offsets, the biases of later queries);
    PyTorch's side reruns the whole prefix at each step."""
    theirs = reversers(arch, scheme)
    ours = interop.from_torch(theirs)
    if dtype == np.float64:
        ours = ours.double()
        theirs = interop.to_torch(ours)
    src, _ = _reversal_batch(np.random.default_rng(5), 6)
    tokens = ours.greedy_decode(src, BOS, EOS, max_len=10)
    assert len(np.unique(tokens)) > 4 and (tokens == EOS).any(), tokens  # real sequences
    np.testing.assert_array_equal(tokens, _torch_greedy(theirs, src, 10))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_model_trained_in_pytorch_comes_back_with_its_weights(scheme: str) -> None:
    """A few PyTorch Adam steps, then from_torch: our logits are PyTorch's, not the old ones."""
    ours = _model(ARCHITECTURES[0].values[0], np.float32, scheme).train()
    theirs = interop.to_torch(ours)
    opt = torch.optim.Adam(theirs.parameters(), lr=1e-2)
    src, tgt = _batch()
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(
            theirs(torch_tensor(src), torch_tensor(tgt)).flatten(0, 1),
            torch_tensor(np.roll(tgt, -1, axis=1)).flatten(),
            ignore_index=PAD,
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    theirs.eval()
    back = interop.from_torch(theirs)
    assert not back.training
    expected = theirs(torch_tensor(src), torch_tensor(tgt)).detach().numpy()
    assert_close(back(src, tgt).data, expected, np.float32, "logits after PyTorch training")
    assert np.abs(back(src, tgt).data - ours.eval()(src, tgt).data).max() > 1e-2


class _LearnedPositions(nn.Module):
    """A position layer interop does not map."""

    def forward(self, x, offset=0):
        return x


def test_an_unmapped_position_layer_is_an_error_naming_it() -> None:
    model = _model(ARCHITECTURES[0].values[0], np.float32)
    model.pos = _LearnedPositions()
    with pytest.raises(ValueError, match="layer 'pos' \\(_LearnedPositions, position scheme"):
        interop.to_torch(model)


@pytest.mark.parametrize(
    "scheme, layer, replacement, named",
    [
        ("rope", "rotary", lambda: nn.RotaryEmbedding(4, base=500.0), "'rel_pos.rotary'.*500"),
        (
            "alibi",
            "decoder_bias",
            lambda: models.ALiBi(4, bidirectional=True),
            "'rel_pos.decoder_bias'.*True",
        ),
        (
            "t5",
            "encoder_bias",
            lambda: models.T5RelativeBias(4, True, num_buckets=16),
            "'rel_pos.encoder_bias'.*num_buckets=16",
        ),
        ("t5", None, lambda: nn.Module(), "layer 'rel_pos' \\(Module, position scheme 't5'"),
    ],
)
def test_a_modified_relative_position_layer_is_an_error_naming_it(
    scheme: str, layer: str | None, replacement: Callable, named: str
) -> None:
    """Settings models.Transformer does not take (a rotary base, T5's bucket count, ...):
    TorchTransformer could only approximate them."""
    model = _model(ARCHITECTURES[0].values[0], np.float32, scheme)
    if layer is None:
        model.rel_pos = replacement()
    else:
        setattr(model.rel_pos, layer, replacement())
    with pytest.raises(ValueError, match=named):
        interop.to_torch(model)


def test_rotary_attention_alone_is_an_error_naming_it() -> None:
    """Our layers take the rotation as a call argument: a PyTorch layer with a
    RotarySelfAttention maps only inside a TorchTransformer (pos="rope")."""
    theirs = interop.to_torch(_model(ARCHITECTURES[0].values[0], np.float32, "rope"))
    with pytest.raises(ValueError, match="layer '0.self_attn' has type RotarySelfAttention"):
        interop.from_torch(torch.nn.Sequential(theirs.encoder[0]))


def test_a_modified_layer_is_an_error_naming_it() -> None:
    model = _model(ARCHITECTURES[0].values[0], np.float32)
    model.decoder[1].norm3 = nn.LayerNorm(16, eps=1e-3)
    with pytest.raises(ValueError, match="norm3.*eps=0.001"):
        interop.to_torch(model)
    theirs = interop.to_torch(_model(ARCHITECTURES[0].values[0], np.float32))
    theirs.encoder[0].norm_first = True
    expected = "layer 'encoder.0' is TransformerEncoderLayer\\(\\) norm_first=True"
    with pytest.raises(ValueError, match=expected):
        interop.from_torch(theirs)
