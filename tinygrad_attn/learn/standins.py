"""Stand-ins: where the model calls a fused library op that an exercise's op computes part of,
a Function with the fused op's signature that runs the learner's op inside.

- `linear_standin(MatMul)` for `Linear` (x Wᵀ + b): the learner's matmul forward and backward
  on (x, Wᵀ); the bias gradient is the sum of g over the rows (not an exercise).
- `attention_op.standin_for(CausalAttention)` for `ScaledDotProductAttention`.
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
