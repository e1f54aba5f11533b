"""The single ops bench_ops.py times: ours, the same math in plain numpy, and PyTorch.

Each case is forward + backward with a fixed random upstream gradient, on small float32
inputs (rows x cols) so that the arithmetic costs little and the rest is framework overhead.
The numpy column is the floor: the forward and the hand-written gradients, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import tinygrad_attn as tg
import tinygrad_attn.functional as F


@dataclass
class OpCase:
    """One op: three zero-argument callables doing forward + backward (torch may be None)."""

    name: str
    ours: Callable[[], Any]
    numpy: Callable[[], Any]
    torch: Callable[[], Any] | None


def _row_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_layer_norm(x, w, b, g):
    mean = x.mean(-1, keepdims=True)
    centered = x - mean
    inv_std = 1 / np.sqrt((centered * centered).mean(-1, keepdims=True) + np.float32(1e-5))
    x_hat = centered * inv_std
    _ = x_hat * w + b
    d = g * w
    dx = inv_std * (d - d.mean(-1, keepdims=True) - x_hat * (d * x_hat).mean(-1, keepdims=True))
    return dx, (g * x_hat).sum(0), g.sum(0)


def _np_cross_entropy(x, target, g):
    rows = np.arange(x.shape[0])
    probs = _row_softmax(x)
    _ = -np.log(probs[rows, target]).mean()
    probs[rows, target] -= 1
    return probs * (g / x.shape[0])


def _np_slice(x, g):
    _ = x[:, : x.shape[1] // 2]
    dx = np.zeros_like(x)
    dx[:, : x.shape[1] // 2] = g
    return dx


def _np_embedding(w, idx, g):
    _ = w[idx]
    dw = np.zeros_like(w)
    np.add.at(dw, idx, g)
    return dw


def _np_softmax(x, g):
    y = _row_softmax(x)
    return y * (g - (g * y).sum(-1, keepdims=True))


def _np_log_softmax(x, g):
    shifted = x - x.max(-1, keepdims=True)
    y = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return g - np.exp(y) * g.sum(-1, keepdims=True)


def _specs(rows: int, cols: int, rng: np.random.Generator) -> list[tuple]:
    """(name, float inputs, ours fn, numpy fwd+bwd fn(*inputs, g), torch fn(torch, *inputs))."""
    x, y = (rng.standard_normal((rows, cols), dtype=np.float32) for _ in range(2))
    w = rng.standard_normal((cols, cols), dtype=np.float32)
    bias, ln_w = (rng.standard_normal(cols, dtype=np.float32) for _ in range(2))
    target, idx = rng.integers(0, cols, rows), rng.integers(0, 100, rows)
    table = rng.standard_normal((100, cols), dtype=np.float32)
    half = cols // 2
    return [
        ("add", [x, y], lambda a, b: a + b, lambda a, b, g: (a + b, g, g), lambda t, a, b: a + b),
        ("mul", [x, y], lambda a, b: a * b, lambda a, b, g: (a * b, g * b, g * a),
         lambda t, a, b: a * b),
        ("matmul", [x, w], lambda a, b: a @ b, lambda a, b, g: (a @ b, g @ b.T, a.T @ g),
         lambda t, a, b: a @ b),
        ("linear", [x, w, bias], F.linear,
         lambda a, m, c, g: (a @ m.T + c, g @ m, g.T @ a, g.sum(0)),
         lambda t, a, m, c: t.nn.functional.linear(a, m, c)),
        ("relu", [x], lambda a: a.relu(), lambda a, g: (np.maximum(a, 0), g * (a > 0)),
         lambda t, a: a.relu()),
        ("exp", [x], lambda a: a.exp(), lambda a, g: g * np.exp(a), lambda t, a: a.exp()),
        ("sum(dim=-1)", [x], lambda a: a.sum(-1),
         lambda a, g: (a.sum(-1), np.broadcast_to(g[:, None], a.shape).copy()),
         lambda t, a: a.sum(-1)),
        ("softmax", [x], lambda a: a.softmax(-1), _np_softmax, lambda t, a: a.softmax(-1)),
        ("log_softmax", [x], lambda a: a.log_softmax(-1), _np_log_softmax,
         lambda t, a: a.log_softmax(-1)),
        ("layer_norm", [x, ln_w, bias], lambda a, m, c: F.layer_norm(a, cols, m, c),
         _np_layer_norm, lambda t, a, m, c: t.nn.functional.layer_norm(a, (cols,), m, c)),
        ("reshape+transpose", [x], lambda a: a.reshape(rows, 4, cols // 4).transpose(0, 1),
         lambda a, g: g.transpose(1, 0, 2).reshape(rows, cols),
         lambda t, a: a.reshape(rows, 4, cols // 4).transpose(0, 1)),
        ("slice [:, :C/2]", [x], lambda a: a[:, :half], _np_slice, lambda t, a: a[:, :half]),
        ("cross_entropy", [x], lambda a: F.cross_entropy(a, target),
         lambda a, g: _np_cross_entropy(a, target, g),
         lambda t, a: t.nn.functional.cross_entropy(a, t.from_numpy(target))),
        ("embedding", [table], lambda m: F.embedding(idx, m),
         lambda m, g: _np_embedding(m, idx, g),
         lambda t, m: t.nn.functional.embedding(t.from_numpy(idx), m)),
    ]  # fmt: skip


def cases(torch: Any, rows: int = 16, cols: int = 32) -> list[OpCase]:
    """Every op of the table, ready to time."""
    rng = np.random.default_rng(0)
    out = []
    for name, inputs, ours_fn, numpy_fn, torch_fn in _specs(rows, cols, rng):
        leaves = [tg.Tensor(a, requires_grad=True) for a in inputs]
        grad = rng.standard_normal(ours_fn(*leaves).shape).astype(np.float32)
        out.append(
            OpCase(
                name,
                _ours(ours_fn, leaves, grad),
                lambda f=numpy_fn, a=inputs, g=grad: f(*a, g),
                None if torch is None else _torch(torch, torch_fn, inputs, grad),
            )
        )
    return out


def _ours(fn: Callable, leaves: list, grad: np.ndarray) -> Callable[[], None]:
    def run() -> None:
        for leaf in leaves:
            leaf.grad = None
        fn(*leaves).backward(grad)

    return run


def _torch(torch: Any, fn: Callable, inputs: list, grad: np.ndarray) -> Callable[[], None]:
    leaves = [torch.from_numpy(a.copy()).requires_grad_(True) for a in inputs]
    grad_t = torch.from_numpy(grad)

    def run() -> None:
        for leaf in leaves:
            leaf.grad = None
        fn(torch, *leaves).backward(grad_t)

    return run
