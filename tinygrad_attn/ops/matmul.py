"""Matrix product with `np.matmul` semantics: 1-D, 2-D and batched with broadcast batch dims."""

from __future__ import annotations

import numpy as np

from tinygrad_attn.autograd import Function


class MatMul(Function):
    """a @ b.  Shapes: (..., N, K) @ (..., K, M) -> (..., N, M); a 1-D a is (1, K), a 1-D b (K, 1).

    backward: da = g @ b^T, db = a^T @ g (summed over broadcast batch dims by the engine).
    """

    @staticmethod
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        a, b = ctx.saved_tensors
        # Promote 1-D operands to matrices, as the forward did, so one rule covers every case.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad_out
        if b.ndim == 1:  # first: for 1-D @ 1-D the 0-d g must become (1,) before (1, 1)
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = np.matmul(g, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                grad_a = grad_a[..., 0, :]
        if ctx.needs_input_grad[1]:
            if b.ndim == 2 and a2.ndim > 2 and a2.shape[:-2] == g.shape[:-2]:
                # A weight against batched activations: the batch sum of a_i^T g_i is one
                # product of the stacked rows, (B*N, K)^T @ (B*N, M), in a single BLAS call.
                grad_b = a2.reshape(-1, a2.shape[-1]).T @ g.reshape(-1, g.shape[-1])
            else:
                grad_b = np.matmul(np.swapaxes(a2, -1, -2), g)
            if b.ndim == 1:
                grad_b = grad_b[..., 0]
        return grad_a, grad_b
