"""Hessian-vector products of whole models against PyTorch (math attention backend, the only
one with a double backward), in float64: a models.Transformer's cross-entropy loss over all its
parameters, and an nn.MultiheadAttention block, with the interop key mapping for the packed
in_proj. Equal to 1e-8 relative, tensor by tensor."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn import nn

torch = pytest.importorskip("torch")

from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

from tinygrad_attn import interop  # noqa: E402 (after the skip)

from .helpers import randomised, randomised_transformer, torch_tensor  # noqa: E402

PAD, BOS = 0, 1
TOL = 1e-8


def _hvp_ours(loss_fn, params: list[tg.Tensor], vs: list[np.ndarray]) -> list[np.ndarray]:
    grads = tg.autograd.grad(loss_fn(), params, create_graph=True)
    dot = (grads[0] * tg.Tensor(vs[0])).sum()
    for g, v in zip(grads[1:], vs[1:]):
        dot = dot + (g * tg.Tensor(v)).sum()
    return [h.data for h in tg.autograd.grad(dot, params)]


def _hvp_theirs(loss_fn, params: list, vs: list[np.ndarray]) -> list[np.ndarray]:
    with sdpa_kernel([SDPBackend.MATH]):
        grads = torch.autograd.grad(loss_fn(), params, create_graph=True)
        dot = sum((g * torch.tensor(v)).sum() for g, v in zip(grads, vs))
        return [h.numpy() for h in torch.autograd.grad(dot, params)]


def compare_hvp(ours: nn.Module, theirs, our_loss, their_loss, seed: int = 0) -> float:
    """H v over every parameter on both sides (q/k/v stacked as PyTorch's in_proj); returns the
    largest relative difference after asserting each is within TOL."""
    named = dict(ours.named_parameters())
    pairs = [(keys, key) for keys, key in interop.key_mapping(ours) if keys[0] in named]
    rng = np.random.default_rng(seed)
    vs = {k: rng.standard_normal(named[k].shape) for keys, _ in pairs for k in keys}
    params = [named[k] for keys, _ in pairs for k in keys]
    mine = dict(
        zip(
            [k for keys, _ in pairs for k in keys],
            _hvp_ours(our_loss, params, [vs[k] for keys, _ in pairs for k in keys]),
        )
    )
    their_named = dict(theirs.named_parameters())
    their_params = [their_named[key] for _, key in pairs]
    their_vs = [np.concatenate([vs[k] for k in keys]) for keys, _ in pairs]
    assert len(their_params) == len(their_named), "every PyTorch parameter is compared"
    other = _hvp_theirs(their_loss, their_params, their_vs)
    worst = 0.0
    for (keys, key), theirs_hv in zip(pairs, other):
        ours_hv = np.concatenate([mine[k] for k in keys])
        scale = max(np.abs(theirs_hv).max(), 1e-12)
        error = float(np.abs(ours_hv - theirs_hv).max() / scale)
        assert error <= TOL, f"H v of {key}: relative difference {error:.3g}"
        worst = max(worst, error)
    return worst


def _batch() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """src (3, 5), tgt_in and tgt_out (3, 4), padded rows."""
    rng = np.random.default_rng(0)
    src, tgt = rng.integers(3, 11, (3, 5)), rng.integers(3, 13, (3, 5))
    tgt[:, 0] = BOS
    for row, (s_len, t_len) in enumerate([(5, 5), (3, 4), (2, 3)]):
        src[row, s_len:], tgt[row, t_len:] = PAD, PAD
    return src, tgt[:, :-1], tgt[:, 1:]


@pytest.mark.parametrize(
    "arch",
    [
        pytest.param(dict(norm_first=False, tie_embeddings=False), id="post-norm"),
        pytest.param(
            dict(norm_first=True, tie_embeddings=True, activation="gelu"), id="pre-norm-tied-gelu"
        ),
        pytest.param(dict(pos="rope"), id="rope"),  # rotary q and k in the packed projection
        pytest.param(dict(pos="t5"), id="t5"),  # a learned position bias inside attention
    ],
)
def test_transformer_loss_hvp_over_all_parameters_matches_pytorch(arch: dict, tiny_model) -> None:
    model = tiny_model(num_decoder_layers=1, dim_feedforward=16, max_len=8, **arch)
    ours = randomised_transformer(model, np.float64, PAD)
    theirs = interop.to_torch(ours)
    src, tgt_in, tgt_out = _batch()

    def our_loss() -> tg.Tensor:
        logits = ours(src, tgt_in)
        return F.cross_entropy(logits, tgt_out, ignore_index=PAD, label_smoothing=0.1)

    def their_loss():
        logits = theirs(torch_tensor(src), torch_tensor(tgt_in))
        return torch.nn.functional.cross_entropy(
            logits.permute(0, 2, 1), torch_tensor(tgt_out), ignore_index=PAD, label_smoothing=0.1
        )

    compare_hvp(ours, theirs, our_loss, their_loss)


@pytest.mark.parametrize("need_weights", [False, True], ids=["output", "output-and-weights"])
def test_multihead_attention_block_hvp_matches_pytorch(need_weights: bool) -> None:
    """With need_weights the loss also uses the per-head weights (the AttentionWeights op)."""
    tg.manual_seed(1)
    ours = randomised(nn.MultiheadAttention(8, 2), np.float64)
    theirs = interop.to_torch(ours)
    rng = np.random.default_rng(3)
    q, kv = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 4, 8))
    padding = np.array([[False] * 4, [False, False, True, True]])
    weights, on_probs = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 2, 3, 4))
    kw = dict(need_weights=need_weights, average_attn_weights=False)

    def our_loss() -> tg.Tensor:
        out, probs = ours(
            tg.Tensor(q), tg.Tensor(kv), tg.Tensor(kv), key_padding_mask=padding, **kw
        )
        loss = (out.tanh() * tg.Tensor(weights)).sum()
        return loss + (probs * probs * tg.Tensor(on_probs)).sum() if need_weights else loss

    def their_loss():
        out, probs = theirs(
            torch_tensor(q),
            torch_tensor(kv),
            torch_tensor(kv),
            key_padding_mask=torch.tensor(padding),
            **kw,
        )
        loss = (out.tanh() * torch_tensor(weights)).sum()
        return loss + (probs * probs * torch_tensor(on_probs)).sum() if need_weights else loss

    compare_hvp(ours, theirs, our_loss, their_loss)
