"""PyTorch as the oracle for second derivatives, in float64: Hessian-vector products of every
kind of op (and of MHA / Transformer losses in tests/nn/test_second_order_blocks.py) equal
PyTorch's to 1e-8 relative.

Each check differentiates L = sum(tanh(f(*inputs)) * R), R random, so even a linear op has a
non-zero Hessian (Jᵀ diag(tanh'' R) J) that goes through its second-order rule, and compares
H v for a random direction v over all inputs with torch.autograd's double backward."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)

torch = pytest.importorskip("torch")
tF = torch.nn.functional  # noqa: N816 (torch's own alias)

TOL = 1e-8


def relative_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    """max |ours - theirs| / max |theirs| (absolute when theirs is ~0)."""
    return float(
        np.max(np.abs(ours - theirs), initial=0.0) / max(np.abs(theirs).max(initial=0), 1e-12)
    )


def hvp_pair(
    ours: Callable, theirs: Callable, arrays: Sequence[np.ndarray], seed: int = 0
) -> tuple:
    """(our H v, PyTorch's H v), one array per input, for L = sum(tanh(f) * R)."""
    rng = np.random.default_rng(seed)
    ts = [tg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    ps = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = ours(*ts)
    weights = rng.standard_normal(out.shape)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    loss = (out.tanh() * tg.Tensor(weights)).sum()
    grads = tg.autograd.grad(loss, ts, create_graph=True, allow_unused=True)
    terms = [(g * tg.Tensor(v)).sum() for g, v in zip(grads, vs) if g is not None]
    dot = terms[0]
    for term in terms[1:]:
        dot = dot + term
    hv = tg.autograd.grad(dot, ts, allow_unused=True)
    loss_t = (theirs(*ps).tanh() * torch.tensor(weights)).sum()
    grads_t = torch.autograd.grad(loss_t, ps, create_graph=True, allow_unused=True)
    dot_t = sum((g * torch.tensor(v)).sum() for g, v in zip(grads_t, vs) if g is not None)
    hv_t = torch.autograd.grad(dot_t, ps, allow_unused=True)
    mine = [np.zeros(a.shape) if h is None else h.data for h, a in zip(hv, arrays)]
    other = [np.zeros(a.shape) if h is None else h.numpy() for h, a in zip(hv_t, arrays)]
    return mine, other


def _normal(*shape: int, seed: int = 1, scale: float = 1.0) -> np.ndarray:
    return scale * np.random.default_rng(seed).normal(size=shape)


def _positive(*shape: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


IDX = np.array([0, 2, 0, 3, 2])
TARGET = np.array([2, -100, 0, 4, -100, 1])
MASK = np.random.default_rng(7).random((3, 4)) > 0.5
ALLOWED = np.random.default_rng(4).random((3, 5)) > 0.4
ALLOWED[:, 0] = True
ALLOWED_ROW = ALLOWED.copy()
ALLOWED_ROW[1] = False  # a query that sees no key
KEEP = np.where(np.random.default_rng(8).random((3, 4)) > 0.3, 1 / 0.7, 0.0)
COS, SIN = F.rotary_angles(3, 4, 1, 10.0, None)


def _torch_rotary(x: torch.Tensor, width: int) -> torch.Tensor:
    """RoPE in torch ops, head_dim 4, positions 1.. (as F.rotary_embedding(x, 4, 1, width))."""
    b, t, _ = x.shape
    c, s = torch.tensor(COS)[:, None, :], torch.tensor(SIN)[:, None, :]  # (T, 1, 2)
    pairs = x[..., :width].reshape(b, t, width // 4, 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated = torch.stack([even * c - odd * s, even * s + odd * c], dim=-1).reshape(b, t, width)
    return torch.cat([rotated, x[..., width:]], dim=-1)


def _bn(training: bool) -> tuple:
    mean, var = np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.7, 1.1])
    return (
        lambda x, w, b: F.batch_norm(x, mean.copy(), var.copy(), w, b, training=training),
        lambda x, w, b: tF.batch_norm(
            x, torch.tensor(mean), torch.tensor(var), w, b, training=training
        ),
    )


CASES = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, [_normal(3, 4), _normal(4, seed=2)]),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, [_normal(3, 4), _normal(3, 1, seed=2)]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [_normal(3, 4), _normal(3, 1, seed=2)]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [_normal(3, 4), _positive(4, seed=2)]),
    "pow": (lambda a, b: a**b, lambda a, b: a**b, [_positive(3, 3), _normal(3, 3, seed=2)]),
    "neg_exp_log": (
        lambda x: (-x).exp() + x.log(),
        lambda x: (-x).exp() + x.log(),
        [_positive(2, 3)],
    ),
    "sqrt": (lambda x: x.sqrt(), torch.sqrt, [_positive(2, 3)]),
    "tanh_sigmoid": (
        lambda x: x.tanh() * x.sigmoid(),
        lambda x: x.tanh() * x.sigmoid(),
        [_normal(2, 3)],
    ),
    "relu_abs_clip": (
        lambda x: F.relu(x) * x.abs() + x.clip(-0.5, 0.7) * x,
        lambda x: tF.relu(x) * x.abs() + x.clamp(-0.5, 0.7) * x,
        [_normal(3, 4)],
    ),
    "gelu": (F.gelu, tF.gelu, [_normal(3, 4, scale=2.0)]),
    "gelu_tanh": (
        lambda x: F.gelu(x, "tanh"),
        lambda x: tF.gelu(x, approximate="tanh"),
        [_normal(3, 4, scale=2.0)],
    ),
    "where_masked_fill": (
        lambda a, b: tg.where(MASK, a, b).masked_fill(~MASK[0], 0.0) * a,
        lambda a, b: (
            torch.where(torch.tensor(MASK), a, b).masked_fill(~torch.tensor(MASK[0]), 0.0) * a
        ),
        [_normal(3, 4), _normal(4, seed=2)],
    ),
    "sum_mean": (
        lambda x: x.sum(1, keepdim=True) * x.mean(0),
        lambda x: x.sum(1, keepdim=True) * x.mean(0),
        [_normal(3, 4)],
    ),
    "max_min": (
        lambda x: x.max(1) * x.min(0)[:3],
        lambda x: x.amax(1) * x.amin(0)[:3],
        [_normal(3, 4)],
    ),
    "var": (lambda x: x.var(1) * x.var(), lambda x: x.var(1) * x.var(), [_normal(3, 4)]),
    "movement": (
        lambda x: x.reshape(4, 3).permute(1, 0).unsqueeze(0).expand(2, 3, 4).squeeze() * x,
        lambda x: x.reshape(4, 3).permute(1, 0).unsqueeze(0).expand(2, 3, 4).squeeze() * x,
        [_normal(3, 4)],
    ),
    "getitem_repeated": (
        lambda x: x[IDX] * x[IDX[::-1]],
        lambda x: x[torch.tensor(IDX)] * x[torch.tensor(IDX[::-1].copy())],
        [_normal(4, 3)],
    ),
    "cat_stack": (
        lambda a, b: tg.cat([a, b * a], 0) * tg.stack([a, b, a], 0).sum(0).sum(0),
        lambda a, b: torch.cat([a, b * a], 0) * torch.stack([a, b, a], 0).sum(0).sum(0),
        [_normal(2, 3), _normal(2, 3, seed=2)],
    ),
    "matmul_batched": (
        lambda a, b: a @ b,
        torch.matmul,
        [_normal(2, 1, 3, 4), _normal(5, 4, 2, seed=2)],
    ),
    "matmul_vectors": (
        lambda a, b, c: (a @ b) * (b.T @ c) + (c @ c),
        lambda a, b, c: (a @ b) * (b.T @ c) + (c @ c),
        [_normal(4), _normal(4, 3, seed=2), _normal(4, seed=3)],
    ),
    "linear": (F.linear, tF.linear, [_normal(2, 3, 4), _normal(5, 4, seed=2), _normal(5, seed=3)]),
    "softmax": (
        lambda x: F.softmax(x * x, 1),
        lambda x: torch.softmax(x * x, 1),
        [_normal(3, 4, 2)],
    ),
    "log_softmax": (
        lambda x: F.log_softmax(x, -1),
        lambda x: torch.log_softmax(x, -1),
        [_normal(3, 4)],
    ),
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, (3, 4), w, b),
        lambda x, w, b: tF.layer_norm(x, (3, 4), w, b),
        [_normal(2, 3, 4), _normal(3, 4, seed=2), _normal(3, 4, seed=3)],
    ),
    "batch_norm_train": (*_bn(True), [_normal(4, 3, 2), _normal(3, seed=2), _normal(3, seed=3)]),
    "batch_norm_eval": (*_bn(False), [_normal(4, 3), _normal(3, seed=2), _normal(3, seed=3)]),
    "embedding_padding": (
        lambda w: F.embedding(np.array([[0, 2, 4], [2, 2, 1]]), w, padding_idx=2) * w[:2].sum(),
        lambda w: (
            tF.embedding(torch.tensor([[0, 2, 4], [2, 2, 1]]), w, padding_idx=2) * w[:2].sum()
        ),
        [_normal(5, 3)],
    ),
    "dropout_fixed_mask": (
        lambda x: x * tg.Tensor(KEEP) * x,
        lambda x: x * torch.tensor(KEEP) * x,
        [_normal(3, 4)],
    ),
    "rotary": (
        lambda x: F.rotary_embedding(x, 4, offset=1, width=8, base=10.0) * x,
        lambda x: _torch_rotary(x, 8) * x,
        [_normal(2, 3, 12)],
    ),
}
for reduction in ("mean", "sum", "none"):
    kw = dict(ignore_index=-100, label_smoothing=0.1, reduction=reduction)
    CASES[f"cross_entropy_{reduction}"] = (
        lambda t, kw=kw: F.cross_entropy(t, TARGET.reshape(2, 3), **kw) * 0.2,  # tanh unsaturated
        lambda t, kw=kw: (
            tF.cross_entropy(t.permute(0, 2, 1), torch.tensor(TARGET.reshape(2, 3)), **kw) * 0.2
        ),
        [_normal(2, 3, 5, scale=2.0)],
    )
for kind, kw in {
    "none": {},
    "bool": dict(attn_mask=ALLOWED),
    "fully_masked_row": dict(attn_mask=ALLOWED_ROW),
    "causal": dict(is_causal=True),
}.items():
    torch_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    CASES[f"attention_{kind}"] = (
        lambda a, b, c, kw=kw: F.scaled_dot_product_attention(a, b, c, **kw),
        lambda a, b, c, kw=torch_kw: tF.scaled_dot_product_attention(a, b, c, **kw),
        [_normal(2, 2, 3, 4), _normal(2, 2, 5, 4, seed=2), _normal(2, 2, 5, 3, seed=3)],
    )
CASES["attention_float_bias_with_grad"] = (
    lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
    lambda a, b, c, m: tF.scaled_dot_product_attention(a, b, c, attn_mask=m),
    [
        _normal(2, 2, 3, 4),
        _normal(2, 2, 5, 4, seed=2),
        _normal(2, 2, 5, 3, seed=3),
        _normal(2, 1, 3, 5, seed=5),
    ],
)


@pytest.mark.parametrize("name", list(CASES))
def test_hessian_vector_product_matches_torch(name: str) -> None:
    ours, theirs, arrays = CASES[name]
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel([SDPBackend.MATH]):  # the backend with a double backward
        mine, other = hvp_pair(ours, theirs, arrays)
    for i, (a, b) in enumerate(zip(mine, other)):
        assert np.abs(b).max() > 1e-6, f"{name}: input {i} has a zero H v, a check that cannot fail"
        error = relative_error(a, b)
        assert error <= TOL, f"{name}: H v of input {i} differs by {error:.3g} (relative)"
