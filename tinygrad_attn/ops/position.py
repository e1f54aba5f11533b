"""Position ops: the rotary position embedding (RoPE, Su et al. 2021) as one Function.

RoPE turns each query and key into a sequence of 2-D points, one per feature pair (2i, 2i+1) of
a head, and rotates the point of position t by the angle t θ_i, θ_i = base^(-2i/D):

    x'_{2i}   = x_{2i} cos(t θ_i) - x_{2i+1} sin(t θ_i)
    x'_{2i+1} = x_{2i} sin(t θ_i) + x_{2i+1} cos(t θ_i)

A rotation by a then one by -b is one by a - b, so q'_i · k'_j depends on the positions only
through i - j: the scores are relative although each vector is rotated by its own position.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


class Rotary(Function):
    """RoPE as one node (F.rotary_embedding): the feature pairs (2i, 2i+1) of each D-wide head
    among the first `width` features rotated by t θ_i.

    Args (keyword-only):
        cos, sin: cos(t θ_i) and sin(t θ_i) for the T positions, (T, D/2) constant arrays.
        width: how many leading features to rotate, a multiple of D.
    """

    @staticmethod
    def forward(
        ctx: Function, x: np.ndarray, *, cos: np.ndarray, sin: np.ndarray, width: int
    ) -> np.ndarray:
        """out = x with each pair of the first `width` features rotated by its position's angle; the
        features from `width` on are copied (the v slot of a packed [q | k | v] projection: width =
        2E rotates q and k in one node). Keeps cos, sin and width.
        Shapes: x (B, T, W), cos and sin (T, D/2) -> (B, T, W)."""
        ctx.cos, ctx.sin, ctx.width = cos, sin, width
        out = np.empty_like(x)
        out[..., width:] = x[..., width:]
        _rotate(x[..., :width], out[..., :width], cos, sin)
        return out

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: the transposed rotation, by -t θ_i: g'_{2i} = g_{2i} cos + g_{2i+1} sin,
        g'_{2i+1} = -g_{2i} sin + g_{2i+1} cos; the copied features pass g through."""
        width = ctx.width
        grad_x = np.empty_like(grad_out)
        grad_x[..., width:] = grad_out[..., width:]
        _rotate(grad_out[..., :width], grad_x[..., :width], ctx.cos, -ctx.sin)  # Rᵀ = R(-θ)
        return grad_x

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> Tensor:
        """dx = the transposed rotation of g: a Rotary node by -θ (linear in g)."""
        return Rotary.apply(grad_out, cos=ctx.cos, sin=-ctx.sin, width=ctx.width)


def _rotate(x: np.ndarray, out: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> None:
    """out = x with each pair rotated by the angles whose cos and sin are given (no allocation
    beyond two temporaries).  Shapes: x, out (B, T, n*D); cos, sin (T, D/2)."""
    batch, length, width = x.shape
    half = cos.shape[-1]
    pairs = x.reshape(batch, length, width // (2 * half), half, 2)  # (B, T, heads, D/2, 2)
    rotated = out.reshape(pairs.shape)
    c, s = cos[:, None, :].astype(x.dtype), sin[:, None, :].astype(x.dtype)  # (T, 1, D/2)
    even, odd = pairs[..., 0], pairs[..., 1]
    np.multiply(even, c, out=rotated[..., 0])
    rotated[..., 0] -= odd * s
    np.multiply(even, s, out=rotated[..., 1])
    rotated[..., 1] += odd * c
