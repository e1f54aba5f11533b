"""One multi-head self-attention block, forward + backward: ours, a numpy floor, and PyTorch.

The floor is a hand-written numpy forward + backward of the block: what the engine computes
for nn.MultiheadAttention (no mask, no dropout), written out once by hand with no graph, no
Python objects per op and no checks, in float32 with the cheapest forms we know: every
projection is one GEMM over the (B*T, E) rows, the heads are batched matmuls, and the softmax's
row max and row sums avoid numpy's slow short-axis reductions (a transposed copy for the max
of short rows, a product with a ones vector for the sums). A framework can only add overhead to
this, so our_time / floor_time is the overhead factor.

    q = (x Wq^T + bq) / sqrt(D), k = x Wk^T + bk, v = x Wv^T + bv    split into H heads
    P = softmax(q k^T), heads = P v, out = merge(heads) Wo^T + bo
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tinygrad_attn as tg
from tinygrad_attn import nn


def _row_max(x: np.ndarray) -> np.ndarray:
    """max over the last axis, keepdims; short rows through a transposed copy (long axis)."""
    if x.shape[-1] > 256:  # long rows: numpy's own reduction is fast, the copy would not be
        return x.max(axis=-1, keepdims=True)
    columns = np.ascontiguousarray(x.reshape(-1, x.shape[-1]).T)  # (N, R)
    return columns.max(axis=0).reshape(x.shape[:-1] + (1,))


def _row_sum(x: np.ndarray) -> np.ndarray:
    """sum over the last axis, keepdims, as a BLAS product with ones."""
    return x @ np.ones((x.shape[-1], 1), dtype=x.dtype)


def mha_forward_backward(
    x: np.ndarray, params: dict[str, np.ndarray], grad_out: np.ndarray, num_heads: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Output and all gradients of self-attention.

    Shapes: x (B, T, E); params wq, wk, wv, wo (E, E) and bq, bk, bv, bo (E,);
    grad_out (B, T, E) -> out (B, T, E), grads {"x": (B, T, E), "wq": ..., "bo": ...}.
    """
    batch, length, embed = x.shape
    head_dim = embed // num_heads
    scale = np.float32(1.0 / math.sqrt(head_dim))
    rows = x.reshape(-1, embed)  # (R, E), R = B*T

    def split(a: np.ndarray) -> np.ndarray:  # (R, E) -> (B, H, T, D)
        return a.reshape(batch, length, num_heads, head_dim).transpose(0, 2, 1, 3)

    def merge(a: np.ndarray) -> np.ndarray:  # (B, H, T, D) -> (R, E)
        return a.transpose(0, 2, 1, 3).reshape(-1, embed)

    q = split((rows @ params["wq"].T + params["bq"]) * scale)  # (B, H, T, D)
    k = split(rows @ params["wk"].T + params["bk"])
    v = split(rows @ params["wv"].T + params["bv"])
    scores = q @ k.transpose(0, 1, 3, 2)  # (B, H, T, T)
    e = np.exp(scores - _row_max(scores))
    probs = e / _row_sum(e)
    merged = merge(probs @ v)  # (R, E)
    out = merged @ params["wo"].T + params["bo"]  # (R, E)

    g = grad_out.reshape(-1, embed)  # (R, E)
    ones = np.ones(g.shape[0], dtype=g.dtype)
    grads = {"wo": g.T @ merged, "bo": ones @ g}
    d_heads = split(g @ params["wo"])  # (B, H, T, D)
    d_probs = d_heads @ v.transpose(0, 1, 3, 2)  # (B, H, T, T)
    d_v = probs.transpose(0, 1, 3, 2) @ d_heads  # (B, H, T, D)
    gp = d_probs * probs
    d_scores = gp - probs * _row_sum(gp)  # softmax backward
    d_q = merge(d_scores @ k) * scale  # (R, E), through the 1/sqrt(D) scale
    d_k = merge(d_scores.transpose(0, 1, 3, 2) @ q)
    d_v = merge(d_v)
    grad_x = d_q @ params["wq"] + d_k @ params["wk"] + d_v @ params["wv"]
    for name, d in (("q", d_q), ("k", d_k), ("v", d_v)):
        grads["w" + name] = d.T @ rows
        grads["b" + name] = ones @ d
    grads["x"] = grad_x.reshape(x.shape)
    return out.reshape(x.shape), grads


def params_of(attn: object) -> dict[str, np.ndarray]:
    """The arrays of a tinygrad_attn nn.MultiheadAttention, under the floor's names."""
    out = {}
    for name in ("q", "k", "v"):
        proj = getattr(attn, f"{name}_proj")
        out["w" + name], out["b" + name] = proj.weight.data, proj.bias.data
    out["wo"], out["bo"] = attn.out_proj.weight.data, attn.out_proj.bias.data
    return out


def mha_contenders(torch: Any, b: int, t: int, e: int, h: int) -> dict:
    """Forward + backward of one self-attention block: ours, the numpy floor and torch.

    Shapes: x (b, t, e) with h heads; every contender gets the same x, weights and upstream
    gradient, and computes dx and all parameter gradients.
    """
    tg.manual_seed(0)
    attn = nn.MultiheadAttention(e, h)
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((b, t, e), dtype=np.float32), requires_grad=True)
    grad_out = rng.standard_normal((b, t, e), dtype=np.float32)
    params = params_of(attn)

    def ours() -> None:
        x.grad = None
        attn.zero_grad()
        out, _ = attn(x, x, x, need_weights=False)
        out.backward(grad_out)

    contenders = {
        "ours": ours,
        "numpy floor": lambda: mha_forward_backward(x.data, params, grad_out, h),
    }
    if torch is not None:
        contenders["torch"] = _torch_mha(torch, attn, x.data, grad_out)
    ours()
    _, floor_grads = mha_forward_backward(x.data, params, grad_out, h)
    error = np.abs(floor_grads["x"] - x.grad.data).max() / np.abs(x.grad.data).max()
    if error > 1e-4:
        raise AssertionError(f"MHA floor's dx differs from ours (max rel err {error:.1e})")
    return contenders


def _torch_mha(torch: Any, attn: Any, x: np.ndarray, grad_out: np.ndarray) -> Any:
    """PyTorch's MultiheadAttention of the same sizes (its own init: timing only)."""
    module = torch.nn.MultiheadAttention(attn.embed_dim, attn.num_heads, batch_first=True)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    gt = torch.from_numpy(grad_out)

    def run() -> None:
        xt.grad = None
        module.zero_grad(set_to_none=True)
        out, _ = module(xt, xt, xt, need_weights=False)
        out.backward(gt)

    return run
