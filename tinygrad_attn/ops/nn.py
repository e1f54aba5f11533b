"""Neural-network ops: embedding lookup, dropout and the fused cross-entropy loss."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import constant, derived_output
from tinygrad_attn.ops.movement import IndexAdd
from tinygrad_attn.ops.selection import MaskedFill
from tinygrad_attn.ops.softmax import Softmax

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


class Embedding(Function):
    """Rows of `weight` picked by integer `indices` (F.embedding, nn.Embedding)."""

    @staticmethod
    def forward(
        ctx: Function, weight: np.ndarray, *, indices: np.ndarray, padding_idx: int | None
    ) -> np.ndarray:
        """out = weight[indices]; keeps the indices, the number of rows and padding_idx.
        Shapes: weight (V, E), indices (...) ints in [0, V) -> (..., E)."""
        ctx.indices, ctx.num_embeddings, ctx.padding_idx = indices, weight.shape[0], padding_idx
        return weight[indices]

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dW[v] = sum of g over the positions holding v, a scatter-add (run as a sort and
        one segmented sum); the `padding_idx` row gets no gradient."""
        dim = grad_out.shape[-1]
        grad_w = np.zeros((ctx.num_embeddings, dim), dtype=grad_out.dtype)
        flat, rows = ctx.indices.reshape(-1), grad_out.reshape(-1, dim)
        if flat.size:
            # Scatter-add as a sort and one segmented sum (np.add.reduceat): 2x np.add.at.
            order = np.argsort(flat, kind="stable")
            picked = flat[order]
            starts = np.flatnonzero(np.r_[True, picked[1:] != picked[:-1]])  # each run's first
            grad_w[picked[starts]] = np.add.reduceat(rows[order], starts, axis=0)
        if ctx.padding_idx is not None:
            grad_w[ctx.padding_idx] = 0
        return grad_w

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dW = IndexAdd(g) at the indices (a differentiable scatter-add), padding row zeroed."""
        shape = (ctx.num_embeddings, grad_out.shape[-1])
        grad_w = IndexAdd.apply(grad_out, index=(ctx.indices,), shape=shape)
        if ctx.padding_idx is None:
            return grad_w
        padding = np.zeros((shape[0], 1), dtype=bool)
        padding[ctx.padding_idx] = True
        return MaskedFill.apply(grad_w, mask=padding, value=0.0)


class Dropout(Function):
    """Dropout by a given mask of 0 (dropped) and 1/(1-p) (kept) entries, which F.dropout draws."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, *, mask: np.ndarray) -> np.ndarray:
        """out = x * mask; keeps the mask.  Shapes: x, mask of x's shape -> x's shape."""
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g * mask: the same elements dropped, the rest scaled the same."""
        return grad_out * ctx.mask

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = g * mask, the mask a constant."""
        return grad_out * constant(ctx.mask, grad_out)


class CrossEntropy(Function):
    """Cross entropy of logits against integer targets, softmax and loss fused in one node, with
    ignore_index and label smoothing (F.cross_entropy)."""

    @staticmethod
    def forward(
        ctx: Function,
        logits: np.ndarray,
        *,
        target: np.ndarray,
        ignore_index: int,
        label_smoothing: float,
        reduction: str,
    ) -> np.ndarray:
        """Per row, loss = -sum_c q_c log softmax(logits)_c with q = (1 - s) onehot(target) + s / C
        for smoothing s (-log p[target] when s = 0), 0 on ignored rows; "mean" averages over the
        non-ignored rows (0 if there are none). Saves the softmax.

        Shapes: logits (..., C), target (...) int -> () for "mean"/"sum", target's shape for "none".
        """
        num_classes = logits.shape[-1]
        flat = logits.reshape(-1, num_classes)
        flat_target = target.reshape(-1)
        valid = flat_target != ignore_index
        safe_target = np.where(valid, flat_target, 0)
        shifted = flat - np.max(flat, axis=1, keepdims=True)  # max shift: no overflow at 1e4
        rows = np.arange(flat.shape[0])
        picked = shifted[rows, safe_target]  # (N,) read before exp overwrites shifted
        mean_shifted = np.mean(shifted, axis=1) if label_smoothing > 0 else None
        probs = np.exp(shifted, out=shifted)  # in place: the shifted logits are not needed now
        sum_exp = np.sum(probs, axis=1)  # (N,)
        probs *= (1 / sum_exp)[:, None]  # softmax, kept for backward (no exp there)
        log_sum_exp = np.log(sum_exp)  # log p = shifted - log_sum_exp
        loss = log_sum_exp - picked
        if label_smoothing > 0:
            smooth = log_sum_exp - mean_shifted  # -mean log p over the classes
            loss = (1 - label_smoothing) * loss + label_smoothing * smooth
        loss = np.where(valid, loss, 0).astype(logits.dtype, copy=False)
        ctx.save_for_backward(probs)
        ctx.rows, ctx.target, ctx.valid = rows, safe_target, valid
        ctx.logits_shape, ctx.target_shape = logits.shape, target.shape
        ctx.smoothing, ctx.reduction = label_smoothing, reduction
        # With every target ignored, "mean" is 0 (PyTorch gives NaN, which would surface later).
        ctx.count = max(int(valid.sum()), 1)
        if reduction == "none":
            return loss.reshape(target.shape)
        total = np.sum(loss)
        return total / np.asarray(ctx.count, dtype=logits.dtype) if reduction == "mean" else total

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dlogits = (softmax(logits) - q) * g per row, 0 on ignored rows; "mean" also
        divides by the number of non-ignored targets."""
        (probs,) = ctx.saved_tensors
        grad = probs - ctx.smoothing / probs.shape[1]  # a new array: probs stays for retain_graph
        grad[ctx.rows, ctx.target] -= 1 - ctx.smoothing
        if ctx.reduction == "none":
            scale = grad_out.reshape(-1, 1) * ctx.valid[:, None]
        elif ctx.reduction == "mean":
            scale = (grad_out / ctx.count) * ctx.valid[:, None]
        else:
            scale = grad_out * ctx.valid[:, None]
        return (grad * scale).reshape(ctx.logits_shape)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dlogits = (p - target distribution) * scale in Tensor ops, where p, the saved
        softmax, is handed over as the output of a Softmax node on the logits: its own
        derivative (diag(p) - p pᵀ per row) is then the Hessian of the loss."""
        (probs,) = ctx.saved_tensors
        shape = ctx.logits_shape
        p = derived_output(
            Softmax,
            (ctx.inputs[0],),
            (probs.reshape(shape),),
            probs.reshape(shape),
            ctx,
            dim=len(shape) - 1,
        )
        target = np.full(probs.shape, ctx.smoothing / probs.shape[1], dtype=probs.dtype)
        target[ctx.rows, ctx.target] += 1 - ctx.smoothing
        valid = constant(ctx.valid.reshape(shape[:-1] + (1,)), grad_out)
        if ctx.reduction == "none":
            scale = grad_out.reshape(ctx.target_shape + (1,)) * valid
        elif ctx.reduction == "mean":
            scale = grad_out * valid * (1.0 / ctx.count)
        else:
            scale = grad_out * valid
        return (p - constant(target.reshape(shape), grad_out)) * scale
