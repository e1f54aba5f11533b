"""Stand-ins: where the model calls a fused library op that an exercise's op computes part of,
a Function with the fused op's signature that runs the learner's op inside.

- `linear_standin(MatMul)` for `Linear` (x Wᵀ + b): the learner's matmul forward and backward
  on (x, Wᵀ); the bias gradient is the sum of g over the rows (not an exercise).
- `attention_op.standin_for(CausalAttention)` for `ScaledDotProductAttention`; with
  `softmax_attention(Softmax)` as its CausalAttention when the learner did softmax but not
  attention (the learner's softmax computes the weights, the rest is the library's math).
- `cross_entropy_standin(LogSoftmax)` for `CrossEntropy` when the learner did log_softmax but
  not cross_entropy.
"""

from __future__ import annotations

import numpy as np

from tinygrad_attn.autograd import Function


def linear_standin(learner_cls: type[Function]) -> type[Function]:
    """A Function with Linear's signature running the learner's MatMul on (x, Wᵀ).

    Shapes: x (..., I), weight (O, I), bias (O,) or None -> (..., O).
    backward: dx, dWᵀ from the learner's matmul backward; dW = (dWᵀ)ᵀ; db = sum of g's rows.
    """

    class LinearStandIn(Function):
        """Linear's arguments -> the learner's MatMul.

        Shapes: as Linear.  backward: the learner's dx and dWᵀ, plus the bias's row sum."""

        @staticmethod
        def forward(ctx: Function, x: np.ndarray, weight: np.ndarray, bias) -> np.ndarray:
            inner = learner_cls()
            inner.needs_input_grad = (True, True)
            ctx.inner = inner
            out = learner_cls.forward(inner, x, weight.T)
            return out if bias is None else out + bias

        @staticmethod
        def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
            grad_x, grad_wt = type(ctx.inner).backward(ctx.inner, grad_out)
            grad_b = grad_out.reshape(-1, grad_out.shape[-1]).sum(axis=0)
            return grad_x, np.asarray(grad_wt).T, grad_b

    LinearStandIn.__name__ = LinearStandIn.__qualname__ = f"{learner_cls.__name__}LinearStandIn"
    return LinearStandIn


def softmax_attention(softmax_cls: type[Function]) -> type[Function]:
    """An attention op in CausalAttention's form whose softmax is the learner's Softmax: the
    rest (the scores, P V and their gradients) is the library's math.

    Shapes: q (..., L, D), k (..., S, D), v (..., S, Dv), mask (..., L, S) -> (..., L, Dv).
    backward: dV = Pᵀ g, dP = g Vᵀ, dA = the learner's softmax backward of dP, dQ = s dA K,
    dK = s dAᵀ Q.
    """

    class SoftmaxAttention(Function):
        """softmax(s q kᵀ + mask) v with the learner's softmax.

        Shapes: as CausalAttention.  backward: around the learner's softmax backward."""

        @staticmethod
        def forward(ctx: Function, q, k, v, *, mask: np.ndarray) -> np.ndarray:
            scale = 1.0 / np.sqrt(q.shape[-1])
            inner = softmax_cls()
            inner.needs_input_grad = (True,)
            p = softmax_cls.forward(inner, scale * (q @ np.swapaxes(k, -1, -2)) + mask, dim=-1)
            ctx.save_for_backward(q, k, v, p)
            ctx.scale, ctx.inner = scale, inner
            return p @ v

        @staticmethod
        def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
            q, k, v, p = ctx.saved_tensors
            grad_p = grad_out @ np.swapaxes(v, -1, -2)
            grad_a = type(ctx.inner).backward(ctx.inner, grad_p)
            grad_q = ctx.scale * (grad_a @ k)
            grad_k = ctx.scale * (np.swapaxes(grad_a, -1, -2) @ q)
            return grad_q, grad_k, np.swapaxes(p, -1, -2) @ grad_out

    SoftmaxAttention.__name__ = SoftmaxAttention.__qualname__ = f"{softmax_cls.__name__}Attention"
    return SoftmaxAttention


def cross_entropy_standin(log_softmax_cls: type[Function]) -> type[Function]:
    """A Function with CrossEntropy's signature whose log-probabilities come from the learner's
    LogSoftmax: loss = -(1 - s) log p[target] - s mean(log p), ignored rows 0.

    Shapes: logits (..., C), target (...) -> () or target's shape ("none").
    backward: dlog p = -((1 - s) onehot + s / C) * g per row, then the learner's backward.
    """

    class CrossEntropyStandIn(Function):
        """CrossEntropy's arguments -> the learner's LogSoftmax inside.

        Shapes: as CrossEntropy.  backward: the learner's log-softmax backward."""

        @staticmethod
        def forward(ctx: Function, logits, *, target, ignore_index, label_smoothing, reduction):
            flat_target = target.reshape(-1)
            valid = flat_target != ignore_index
            rows, safe = np.arange(flat_target.size), np.where(valid, flat_target, 0)
            inner = log_softmax_cls()
            inner.needs_input_grad = (True,)
            log_p = log_softmax_cls.forward(inner, logits.reshape(-1, logits.shape[-1]), dim=1)
            s = label_smoothing
            loss = np.where(valid, -(1 - s) * log_p[rows, safe] - s * log_p.mean(axis=1), 0)
            ctx.inner, ctx.rows, ctx.target, ctx.valid, ctx.smoothing = inner, rows, safe, valid, s
            ctx.shape, ctx.reduction, ctx.count = logits.shape, reduction, max(int(valid.sum()), 1)
            loss = loss.astype(logits.dtype, copy=False)
            if reduction == "none":
                return loss.reshape(target.shape)
            total = np.sum(loss)
            return (
                total / np.asarray(ctx.count, dtype=logits.dtype) if reduction == "mean" else total
            )

        @staticmethod
        def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
            g = (
                grad_out.reshape(-1)
                if ctx.reduction == "none"
                else np.full(ctx.rows.size, grad_out)
            )
            if ctx.reduction == "mean":
                g = g / ctx.count
            grad = np.full((ctx.rows.size, ctx.shape[-1]), -ctx.smoothing / ctx.shape[-1])
            grad[ctx.rows, ctx.target] -= 1 - ctx.smoothing
            grad *= (g * ctx.valid)[:, None]
            return np.asarray(type(ctx.inner).backward(ctx.inner, grad)).reshape(ctx.shape)

    CrossEntropyStandIn.__name__ = f"{log_softmax_cls.__name__}CrossEntropyStandIn"
    CrossEntropyStandIn.__qualname__ = CrossEntropyStandIn.__name__
    return CrossEntropyStandIn
