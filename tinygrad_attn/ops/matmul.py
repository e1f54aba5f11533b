"""Matrix product with `np.matmul` semantics: 1-D, 2-D and batched with broadcast batch dims."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import saved_input

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


class MatMul(Function):
    """The matrix product `a @ b` (Tensor `@`)."""

    @staticmethod
    def forward(ctx: Function, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """out = a @ b; saves a and b. A batch of a times a matrix b runs as one GEMM.
        Shapes: (..., N, K) @ (..., K, M) -> (..., N, M), batch dims broadcast; a 1-D a is (1, K)
        and a 1-D b is (K, 1), that axis dropped from out."""
        ctx.save_for_backward(a, b)
        if a.ndim > 2 and b.ndim == 2:
            # Batched activations @ a matrix: one (B*N, K) @ (K, M) GEMM instead of B small ones.
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + (b.shape[-1],))
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: da = g @ bᵀ, db = aᵀ @ g, 1-D operands promoted as in forward (the engine
        sums each over its broadcast batch dims)."""
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
            if g.ndim > 2 and b.ndim == 2:
                grad_a = (g.reshape(-1, g.shape[-1]) @ b.T).reshape(g.shape[:-1] + (b.shape[0],))
            else:
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

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """da = g @ bᵀ, db = aᵀ @ g in Tensor ops (1-D operands promoted as in forward)."""
        a, b = ctx.saved_tensors
        g = grad_out
        if b.ndim == 1:
            g = g.unsqueeze(-1)
        if a.ndim == 1:
            g = g.unsqueeze(-2)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            b_t = saved_input(ctx, 1, b)
            b2 = b_t.unsqueeze(-1) if b.ndim == 1 else b_t
            grad_a = g @ b2.transpose(-1, -2)
            grad_a = grad_a[..., 0, :] if a.ndim == 1 else grad_a
        if ctx.needs_input_grad[1]:
            a_t = saved_input(ctx, 0, a)
            a2 = a_t.unsqueeze(0) if a.ndim == 1 else a_t
            grad_b = a2.transpose(-1, -2) @ g
            grad_b = grad_b[..., 0] if b.ndim == 1 else grad_b
        return grad_a, grad_b


class Linear(Function):
    """`x @ weight.T + bias` as one node (nn.Linear, F.linear)."""

    @staticmethod
    def forward(
        ctx: Function, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None
    ) -> np.ndarray:
        """out = rows @ weight.T + bias on x's rows flattened to (R, I), one GEMM; saves the rows
        and weight.  Shapes: x (..., I), weight (O, I), bias (O,) or None -> (..., O)."""
        rows = x.reshape(-1, x.shape[-1])  # (R, I): a (B, T, I) @ (I, O) product is one GEMM
        out = rows @ weight.T  # (R, O)
        if bias is not None:
            out += bias
        ctx.save_for_backward(rows, weight)
        ctx.x_shape = x.shape
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: dx = g @ W, dW = gᵀ x, db = sum of g's rows, with the rows of all leading
        dims stacked (one GEMM each)."""
        rows, weight = ctx.saved_tensors
        g = grad_out.reshape(-1, weight.shape[0])  # (R, O)
        needs = ctx.needs_input_grad
        grad_x = (g @ weight).reshape(ctx.x_shape) if needs[0] else None
        grad_w = g.T @ rows if needs[1] else None
        # A column sum as a product with a ones vector: numpy's axis-0 sum is far slower here.
        grad_b = np.ones(g.shape[0], dtype=g.dtype) @ g if needs[2] else None
        return grad_x, grad_w, grad_b

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """dx = g W, dW = gᵀ x, db = sum of g's rows, in Tensor ops of x and W."""
        rows, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        g = grad_out.reshape(-1, weight.shape[0])  # (R, O)
        grad_x = grad_w = grad_b = None
        if needs[0]:
            grad_x = (g @ saved_input(ctx, 1, weight)).reshape(ctx.x_shape)
        if needs[1]:
            x = saved_input(ctx, 0, rows.reshape(ctx.x_shape))
            grad_w = g.T @ x.reshape(-1, rows.shape[1])
        if needs[2]:
            grad_b = g.sum(0)
        return grad_x, grad_w, grad_b
