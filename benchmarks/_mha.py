"""One multi-head attention block, forward + backward: ours, a numpy floor, and PyTorch.

The floor is attention written out by hand in numpy, float32, with no graph, no checks and every
trick we know that numpy allows; a framework can only add overhead to it, so our time / floor
time is the overhead factor:
- self-attention projects q, k and v with ONE product against the stacked (E, 3E) weights
  (cross-attention: q alone, k and v with one (E, 2E) product), and each head is a strided
  view of that product: no transposed copies of the projections;
- the 1/sqrt(D) scale multiplies q (L·D numbers), not the scores (L·S);
- masks are one additive array of the masks' own broadcast shape ((L, S) or (B, 1, L, S)),
  added in place to the one (B, H, L, S) score buffer, where the softmax runs in place too
  (row max, subtract, exp, multiply by the reciprocal of the row sums, which are a product
  with a ones vector);
- P V is written with `out=` straight into the merged-heads (B, L, H, D) layout;
- backward uses rowsum(dP ⊙ P) = rowsum(dO ⊙ O) (an (L, D) product instead of an (L, S) one),
  forms dS = P ⊙ (dP − that) in dP's buffer, and writes dq, dk and dv with `out=` into their
  slots of one (B, T, 3E) gradient, so one product gives dx and one the stacked weights'.

    q = (x Wq^T + bq) / sqrt(D), k = x Wk^T + bk, v = x Wv^T + bv    split into H heads
    P = softmax(q k^T + mask), heads = P v, out = merge(heads) Wo^T + bo

KINDS are the masks a real model uses: "self" (none: the encoder without padding), "causal"
(a bool (T, T) attn_mask, as a decoder written against nn.MultiheadAttention passes it),
"decoder" (causal plus key padding) and "cross" (queries against a padded memory).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tinygrad_attn as tg
from tinygrad_attn import nn

KINDS = ("self", "causal", "decoder", "cross")


class FloorMHA:
    """Multi-head attention forward + backward by hand.  x (B, L, E), memory (B, S, E)."""

    def __init__(self, params: dict[str, np.ndarray], num_heads: int) -> None:
        embed = params["wo"].shape[0]
        self.heads, self.head_dim = num_heads, embed // num_heads
        self.scale = np.float32(1.0 / math.sqrt(self.head_dim))
        stacked = [params[f"w{n}"] for n in "qkv"]
        self.w_in = np.ascontiguousarray(np.concatenate(stacked).T)  # (E, 3E) = [Wq^T Wk^T Wv^T]
        self.b_in = np.concatenate([params[f"b{n}"] for n in "qkv"])  # (3E,)
        self.w_out, self.b_out = params["wo"], params["bo"]

    def _split(self, a: np.ndarray, batch: int, parts: int) -> list[np.ndarray]:
        """(B*T, parts*E) -> `parts` strided head views (B, H, T, D)."""
        split = a.reshape(batch, -1, parts, self.heads, self.head_dim)  # (B, T, parts, H, D)
        return [split[:, :, i].transpose(0, 2, 1, 3) for i in range(parts)]

    def run(
        self, x: np.ndarray, memory: np.ndarray | None, mask: np.ndarray | None, g: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(output, dx) for upstream gradient g; self-attention when memory is None."""
        batch, length, embed = x.shape
        rows = x.reshape(-1, embed)  # (B*L, E)
        if memory is None:
            qkv = rows @ self.w_in
            qkv += self.b_in
            q, k, v = self._split(qkv, batch, 3)
        else:
            memory_rows = memory.reshape(-1, embed)
            q_rows = rows @ self.w_in[:, :embed]
            q_rows += self.b_in[:embed]
            kv = memory_rows @ self.w_in[:, embed:]
            kv += self.b_in[embed:]
            (q,), (k, v) = self._split(q_rows, batch, 1), self._split(kv, batch, 2)
        q = q * self.scale  # (B, H, L, D), contiguous
        probs = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2))  # (B, H, L, S)
        if mask is not None:
            probs += mask
        probs -= _row_max(probs)
        np.exp(probs, out=probs)
        probs *= 1 / (probs @ np.ones((probs.shape[-1], 1), np.float32))
        heads = np.empty((batch, length, self.heads, self.head_dim), np.float32)  # (B, L, H, D)
        np.matmul(probs, v, out=heads.transpose(0, 2, 1, 3))
        merged = heads.reshape(-1, embed)  # (B*L, E)
        out = merged @ self.w_out.T
        out += self.b_out

        g2 = g.reshape(-1, embed)
        d_heads = (g2 @ self.w_out).reshape(heads.shape).transpose(0, 2, 1, 3)  # (B, H, L, D)
        o_heads = heads.transpose(0, 2, 1, 3)
        delta = (d_heads * o_heads) @ np.ones((self.head_dim, 1), np.float32)  # (B, H, L, 1)
        d_probs = d_heads @ np.ascontiguousarray(v.transpose(0, 1, 3, 2))  # (B, H, L, S)
        d_probs -= delta
        d_probs *= probs  # dS
        if memory is None:
            d_in = np.empty((batch, length, 3, self.heads, self.head_dim), np.float32)
            dq, dk, dv = self._split(d_in.reshape(batch * length, -1), batch, 3)
        else:
            d_q = np.empty((batch, length, self.heads, self.head_dim), np.float32)
            d_kv = np.empty((batch, memory.shape[1], 2, self.heads, self.head_dim), np.float32)
            (dq,), (dk, dv) = [d_q.transpose(0, 2, 1, 3)], self._split(d_kv, batch, 2)
        np.matmul(probs.transpose(0, 1, 3, 2), d_heads, out=dv)
        np.matmul(d_probs, k, out=dq)
        dq *= self.scale
        np.matmul(d_probs.transpose(0, 1, 3, 2), q, out=dk)
        # Weight gradients: what a framework computes too, though no one reads them here.
        _ = merged.T @ g2, np.ones(len(g2), np.float32) @ g2
        if memory is None:
            d_in2 = d_in.reshape(batch * length, -1)
            _ = rows.T @ d_in2, np.ones(len(d_in2), np.float32) @ d_in2
            dx = d_in2 @ self.w_in.T
        else:
            d_q2 = d_q.reshape(batch * length, -1)
            d_kv2 = d_kv.reshape(-1, 2 * embed)
            _ = rows.T @ d_q2, memory_rows.T @ d_kv2
            dx = d_q2 @ self.w_in[:, :embed].T
            _ = d_kv2 @ self.w_in[:, embed:].T  # d memory
        return out.reshape(x.shape), dx.reshape(x.shape)


def _row_max(x: np.ndarray) -> np.ndarray:
    """max over the last axis, keepdims; rows shorter than 64 are folded in halves."""
    if x.shape[-1] >= 64:
        return x.max(axis=-1, keepdims=True)
    folded = x
    while folded.shape[-1] > 1:
        half = folded.shape[-1] // 2
        rest = folded[..., 2 * half :]
        folded = np.maximum(folded[..., :half], folded[..., half : 2 * half])
        if rest.shape[-1]:
            np.maximum(folded[..., :1], rest, out=folded[..., :1])
    return folded


def params_of(attn: Any) -> dict[str, np.ndarray]:
    """The arrays of a tinygrad_attn nn.MultiheadAttention, under the floor's names."""
    out = {}
    for name in ("q", "k", "v"):
        proj = getattr(attn, f"{name}_proj")
        out["w" + name], out["b" + name] = proj.weight.data, proj.bias.data
    out["wo"], out["bo"] = attn.out_proj.weight.data, attn.out_proj.bias.data
    return out


def masks_of(kind: str, batch: int, length: int, rng: np.random.Generator) -> dict[str, Any]:
    """The bool masks of one kind, nn.MultiheadAttention's convention (True = blocked)."""
    masks: dict[str, Any] = {}
    if kind in ("causal", "decoder"):
        masks["attn_mask"] = np.triu(np.ones((length, length), dtype=bool), k=1)
    if kind in ("decoder", "cross"):
        lengths = rng.integers(length // 2, length + 1, size=batch)  # half to none padded
        masks["key_padding_mask"] = np.arange(length)[None, :] >= lengths[:, None]
    return masks


def _additive(masks: dict[str, Any], batch: int, length: int) -> np.ndarray | None:
    """The masks as one -inf / 0 float32 array, (L, S) or (B, 1, L, S)."""
    total = None
    if "attn_mask" in masks:
        total = np.where(masks["attn_mask"], -np.inf, 0).astype(np.float32)  # (L, S)
    if "key_padding_mask" in masks:
        padding = np.where(masks["key_padding_mask"], -np.inf, 0).astype(np.float32)
        padding = padding.reshape(batch, 1, 1, length)
        total = padding if total is None else total + padding
    return total


def mha_contenders(torch: Any, b: int, t: int, e: int, h: int, kind: str = "self") -> dict:
    """Forward + backward of one attention block of `kind`: ours, the numpy floor and torch.

    Shapes: x (b, t, e) (and a memory of the same shape for "cross") with h heads; every
    contender gets the same inputs, weights, masks and upstream gradient. The floor's output
    and dx are checked against ours first.
    """
    tg.manual_seed(0)
    attn = nn.MultiheadAttention(e, h)
    rng = np.random.default_rng(0)
    for p in attn.parameters():  # random biases too: zero ones would hide a missing bias
        p.data = (rng.standard_normal(p.shape) / math.sqrt(e)).astype(np.float32)
    x = tg.Tensor(rng.standard_normal((b, t, e), dtype=np.float32), requires_grad=True)
    memory = tg.Tensor(rng.standard_normal((b, t, e), dtype=np.float32), requires_grad=True)
    grad_out = rng.standard_normal((b, t, e), dtype=np.float32)
    masks = masks_of(kind, b, t, rng)
    key = memory if kind == "cross" else x

    def ours() -> None:
        x.grad = memory.grad = None
        attn.zero_grad()
        out, _ = attn(x, key, key, need_weights=False, **masks)
        out.backward(grad_out)

    floor = FloorMHA(params_of(attn), h)
    additive = _additive(masks, b, t)
    floor_memory = memory.data if kind == "cross" else None
    contenders = {
        "ours": ours,
        "numpy floor": lambda: floor.run(x.data, floor_memory, additive, grad_out),
    }
    if torch is not None:
        contenders["torch"] = _torch_mha(torch, attn, x.data, floor_memory, masks, grad_out)
    ours()
    out, dx = floor.run(x.data, floor_memory, additive, grad_out)
    error = np.abs(dx - x.grad.data).max() / np.abs(x.grad.data).max()
    if error > 1e-4:
        raise AssertionError(f"MHA floor's dx differs from ours (max rel err {error:.1e})")
    return contenders


def _torch_mha(
    torch: Any, attn: Any, x: np.ndarray, memory: np.ndarray | None, masks: dict, grad_out: Any
) -> Any:
    """PyTorch's MultiheadAttention with our weights (packed into its in_proj_weight)."""
    module = torch.nn.MultiheadAttention(attn.embed_dim, attn.num_heads, batch_first=True)
    params = params_of(attn)
    with torch.no_grad():
        module.in_proj_weight.copy_(
            torch.from_numpy(np.concatenate([params[f"w{n}"] for n in "qkv"]))
        )
        module.in_proj_bias.copy_(
            torch.from_numpy(np.concatenate([params[f"b{n}"] for n in "qkv"]))
        )
        module.out_proj.weight.copy_(torch.from_numpy(params["wo"]))
        module.out_proj.bias.copy_(torch.from_numpy(params["bo"]))
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    kt = xt if memory is None else torch.from_numpy(memory.copy()).requires_grad_(True)
    tmasks = {name: torch.from_numpy(m) for name, m in masks.items()}
    gt = torch.from_numpy(grad_out)

    def run() -> None:
        xt.grad = kt.grad = None
        module.zero_grad(set_to_none=True)
        out, _ = module(xt, kt, kt, need_weights=False, **tmasks)
        out.backward(gt)

    return run
