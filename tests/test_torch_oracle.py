"""PyTorch as an independent oracle, in float64: forward values and gradients (through a random
upstream gradient) of the primitives and the functional compositions built on them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)

torch = pytest.importorskip("torch")
tF = torch.nn.functional  # noqa: N816 (torch's own alias)

RNG_SEED = 0


def _compare(
    ours: Callable[..., tg.Tensor],
    theirs: Callable[..., object],
    arrays: Sequence[np.ndarray],
    tol: float = 1e-10,
) -> None:
    """Same output and same gradient for every input, under one random upstream gradient."""
    ts = [tg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    ps = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, expected = ours(*ts), theirs(*ps)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=tol, atol=tol)
    upstream = np.random.default_rng(RNG_SEED).normal(size=out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    for i, (t, p) in enumerate(zip(ts, ps)):
        want = np.zeros(t.shape) if p.grad is None else p.grad.numpy()
        got = np.zeros(t.shape) if t.grad is None else t.grad.data
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"gradient of input {i}")


def _normal(*shape: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((4,), (4,)), ((4,), (4, 3)), ((2, 4), (4,)), ((2, 4), (4, 3)), ((2, 1, 3, 4), (5, 4, 2))],
)
def test_matmul_matches_torch(a_shape: tuple, b_shape: tuple) -> None:
    _compare(lambda a, b: a @ b, torch.matmul, [_normal(*a_shape), _normal(*b_shape, seed=2)])


@pytest.mark.parametrize("dim", [0, -1, 1])
def test_softmax_and_log_softmax_match_torch(dim: int) -> None:
    x = _normal(3, 4, 2) * 5
    _compare(lambda t: F.softmax(t, dim), lambda t: torch.softmax(t, dim), [x])
    _compare(lambda t: F.log_softmax(t, dim), lambda t: torch.log_softmax(t, dim), [x])


def test_layer_norm_matches_torch() -> None:
    arrays = [_normal(2, 3, 4), _normal(3, 4, seed=2), _normal(3, 4, seed=3)]
    _compare(
        lambda x, w, b: F.layer_norm(x, (3, 4), w, b),
        lambda x, w, b: tF.layer_norm(x, (3, 4), w, b),
        arrays,
    )
    _compare(lambda x: F.layer_norm(x, 4), lambda x: tF.layer_norm(x, (4,)), arrays[:1])


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2)])
def test_batch_norm_train_and_eval_with_running_stats_match_torch(shape: tuple) -> None:
    ours_stats = [np.zeros(3), np.ones(3)]
    torch_stats = [torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)]
    affine = [_normal(3, seed=2), _normal(3, seed=3)]
    for step in range(3):
        x = _normal(*shape, seed=10 + step) * 2 + step
        _compare(
            lambda t, w, b: F.batch_norm(t, *ours_stats, w, b, training=True, momentum=0.2),
            lambda t, w, b: tF.batch_norm(t, *torch_stats, w, b, training=True, momentum=0.2),
            [x, *affine],
        )
    for ours, theirs in zip(ours_stats, torch_stats):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12)
    _compare(
        lambda t, w, b: F.batch_norm(t, *ours_stats, w, b, training=False),
        lambda t, w, b: tF.batch_norm(t, *torch_stats, w, b, training=False),
        [_normal(*shape, seed=20), *affine],
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_with_ignore_index_and_smoothing_matches_torch(
    reduction: str, smoothing: float
) -> None:
    target = np.array([2, -100, 0, 4, -100, 1])
    kw = dict(ignore_index=-100, label_smoothing=smoothing, reduction=reduction)
    _compare(
        lambda t: F.cross_entropy(t, target, **kw),
        lambda t: tF.cross_entropy(t, torch.tensor(target), **kw),
        [_normal(6, 5) * 3],
    )
    # (B, T, C) logits with the class dim last are PyTorch's (B, C, T)
    _compare(
        lambda t: F.cross_entropy(t, target.reshape(2, 3), **kw),
        lambda t: tF.cross_entropy(t.permute(0, 2, 1), torch.tensor(target.reshape(2, 3)), **kw),
        [_normal(2, 3, 5) * 3],
    )


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal", "fully_masked_row"])
def test_scaled_dot_product_attention_matches_torch(mask_kind: str) -> None:
    q, k, v = _normal(2, 2, 3, 4), _normal(2, 2, 5, 4, seed=2), _normal(2, 2, 5, 3, seed=3)
    kw: dict = {}
    if mask_kind in ("bool", "fully_masked_row"):
        allowed = np.random.default_rng(4).random((3, 5)) > 0.4
        allowed[:, 0] = True
        if mask_kind == "fully_masked_row":
            allowed[1] = False
        kw["attn_mask"] = allowed
    elif mask_kind == "float":
        kw["attn_mask"] = _normal(2, 1, 3, 5, seed=5)
    elif mask_kind == "causal":
        kw["is_causal"] = True  # L = 3 < S = 5: top-left aligned in both
    torch_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    _compare(
        lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **kw),
        lambda a, b, c: tF.scaled_dot_product_attention(a, b, c, **torch_kw),
        [q, k, v],
    )


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(approximate: str) -> None:
    # our erf (numpy has none) is accurate to ~1e-7, so the exact form matches to that
    tol = 1e-6 if approximate == "none" else 1e-10
    _compare(
        lambda t: F.gelu(t, approximate),
        lambda t: tF.gelu(t, approximate=approximate),
        [np.linspace(-4, 4, 17)],
        tol=tol,
    )


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_matches_torch(padding_idx: int | None) -> None:
    idx = np.array([[0, 2, 4], [2, 2, 1]])
    _compare(
        lambda w: F.embedding(idx, w, padding_idx=padding_idx),
        lambda w: tF.embedding(torch.tensor(idx), w, padding_idx=padding_idx),
        [_normal(5, 3)],
    )


def test_linear_and_relu_match_torch() -> None:
    arrays = [_normal(2, 3, 4), _normal(5, 4, seed=2), _normal(5, seed=3)]
    _compare(
        lambda x, w, b: F.relu(F.linear(x, w, b)),
        lambda x, w, b: tF.relu(tF.linear(x, w, b)),
        arrays,
    )
