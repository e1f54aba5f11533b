"""Layer norm and batch norm, each one node with a one-pass fused backward.

Both compute x_hat = (x - mean) / sqrt(var + eps) (biased variance) and y = x_hat * w + b;
they differ in the axes the statistics are taken over: layer norm over each example's trailing
`normalized_shape`, batch norm over the batch (and length) for each feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.autograd.graph import composite_grads, constant
from tinygrad_attn.ops.rowwise import row_sum

if TYPE_CHECKING:
    from tinygrad_attn.tensor import Tensor


def _mean(x: np.ndarray, axes: tuple) -> np.ndarray:
    """mean(x, axes, keepdims=True); a last-axis mean goes through the fast row sum."""
    if axes == (x.ndim - 1,):
        return row_sum(x, x.ndim - 1) * np.asarray(1 / x.shape[-1], dtype=x.dtype)
    return np.mean(x, axis=axes, keepdims=True)


def _normalize(x: np.ndarray, axes: tuple, eps: float) -> tuple[np.ndarray, ...]:
    """(x_hat, inv_std, mean, var) over `axes`; eps inside the sqrt keeps it finite."""
    mean = _mean(x, axes)
    x_hat = x - mean  # centred now, scaled in place below
    var = _mean(x_hat * x_hat, axes)
    inv_std = 1 / np.sqrt(var + np.asarray(eps, dtype=x.dtype))
    x_hat *= inv_std
    return x_hat, inv_std, mean, var


def _normalize_backward(
    grad_x_hat: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axes: tuple
) -> np.ndarray:
    """dx = inv_std * (d - mean(d) - x_hat * mean(d * x_hat)), d = dL/dx_hat, means over axes.

    Works in place on grad_x_hat, which the caller must own."""
    mean_d = _mean(grad_x_hat, axes)
    correction = x_hat * _mean(grad_x_hat * x_hat, axes)
    correction += mean_d
    grad_x_hat -= correction
    grad_x_hat *= inv_std
    return grad_x_hat


class LayerNorm(Function):
    """Layer norm (F.layer_norm, nn.LayerNorm): each example normalised over its last
    `num_dims` axes, then scaled and shifted."""

    @staticmethod
    def forward(
        ctx: Function,
        x: np.ndarray,
        weight: np.ndarray | None,
        bias: np.ndarray | None,
        *,
        num_dims: int,
        eps: float,
    ) -> np.ndarray:
        """y = x_hat * w + b, x_hat = (x - mean) * inv_std over the last num_dims axes, inv_std =
        1 / sqrt(var + eps) (biased variance); saves x_hat, inv_std and w.
        Shapes: x (..., *S), weight and bias S (or None) -> (..., *S)."""
        axes = tuple(range(x.ndim - num_dims, x.ndim))
        x_hat, inv_std, _, _ = _normalize(x, axes, eps)
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.axes, ctx.eps = axes, eps
        if weight is None:
            return x_hat if bias is None else x_hat + bias
        y = x_hat * weight
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward: dx = inv_std * (d - mean(d) - x_hat * mean(d * x_hat)), d = g * w, the means
        over the normalised axes; dw = g * x_hat, db = g (the engine sums both over the leading
        axes)."""
        x_hat, inv_std, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x = None
        if needs[0]:
            grad_x_hat = grad_out * weight if weight is not None else grad_out.copy()
            grad_x = _normalize_backward(grad_x_hat, x_hat, inv_std, ctx.axes)
        grad_w = grad_out * x_hat if needs[1] else None  # the engine sums the leading axes
        return grad_x, grad_w, (grad_out if needs[2] else None)

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """The forward re-expressed in Tensor ops and differentiated (composite_grads). x_hat /
        inv_std (= x - mean) stands in for x: a norm is unchanged by a shift of its input
        along the normalised axes, so are all its derivatives."""
        x_hat, inv_std, weight = ctx.saved_tensors
        values = (x_hat / inv_std, weight, _zeros_for(ctx.inputs[2]))
        axes, eps = ctx.axes, ctx.eps

        def layer_norm(x: Tensor, w: Tensor | None, b: Tensor | None) -> Tensor:
            return _affine(_standardize(x, axes, eps), w, b)

        return composite_grads(ctx, grad_out, layer_norm, values)


class BatchNorm(Function):
    """Batch norm (F.batch_norm, nn.BatchNorm1d): each feature (axis 1) normalised over the batch
    and length axes, then scaled and shifted."""

    @staticmethod
    def forward(
        ctx: Function,
        x: np.ndarray,
        weight: np.ndarray | None,
        bias: np.ndarray | None,
        *,
        training: bool,
        running_mean: np.ndarray | None,
        running_var: np.ndarray | None,
        momentum: float,
        eps: float,
    ) -> np.ndarray:
        """y = x_hat * w + b per feature. Training: x_hat from the batch's mean and biased variance,
        and the running statistics updated in place (momentum m: r = (1 - m) r + m * stat, the
        unbiased variance for running_var); eval: x_hat from the running ones. Saves x_hat, inv_std
        and w.

        Shapes: x (N, C) or (N, C, L); weight, bias, running_mean, running_var (C,) -> x's shape.
        """
        axes = (0,) + tuple(range(2, x.ndim))
        feature_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if training:
            x_hat, inv_std, mean, var = _normalize(x, axes, eps)
            if running_mean is not None:
                # PyTorch's momentum rule, in place; the running variance is the unbiased one.
                n = x.size // x.shape[1]
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(-1)
                running_var *= 1 - momentum
                running_var += momentum * (n / (n - 1)) * var.reshape(-1)
        else:
            # Cast the running stats to x's dtype: float64 buffers must not upcast a float32 x.
            mean = running_mean.reshape(feature_shape).astype(x.dtype, copy=False)
            inv_std = 1 / np.sqrt(running_var.reshape(feature_shape) + eps).astype(x.dtype)
            x_hat = (x - mean) * inv_std
        w = None if weight is None else weight.reshape(feature_shape)
        ctx.save_for_backward(x_hat, inv_std, w)
        ctx.axes, ctx.training, ctx.eps = axes, training, eps
        y = x_hat if w is None else x_hat * w
        return y if bias is None else y + bias.reshape(feature_shape)

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple:
        """backward (training): dx = inv_std * (d - mean(d) - x_hat * mean(d * x_hat)), d = g * w,
        the means over all axes but 1; (eval, the statistics constants): dx = d * inv_std.
        Both: dw = sum(g * x_hat), db = sum(g) over all axes but 1."""
        x_hat, inv_std, w = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x_hat = grad_out.copy() if w is None else grad_out * w  # modified in place below
        grad_x = None
        if needs[0] and ctx.training:
            grad_x = _normalize_backward(grad_x_hat, x_hat, inv_std, ctx.axes)
        elif needs[0]:
            grad_x = grad_x_hat * inv_std
        grad_w = np.sum(grad_out * x_hat, axis=ctx.axes) if needs[1] else None
        grad_b = np.sum(grad_out, axis=ctx.axes) if needs[2] else None
        return grad_x, grad_w, grad_b

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Tensor) -> tuple:
        """As LayerNorm's: the forward in Tensor ops on x_hat / inv_std (x minus the mean it
        was normalised by), differentiated; eval mode's inv_std is a constant."""
        x_hat, inv_std, w = ctx.saved_tensors
        feature_shape = (1, x_hat.shape[1]) + (1,) * (x_hat.ndim - 2)
        weight = None if w is None else w.reshape(-1)
        values = (x_hat / inv_std, weight, _zeros_for(ctx.inputs[2]))
        axes, eps, training = ctx.axes, ctx.eps, ctx.training

        def batch_norm(x: Tensor, w: Tensor | None, b: Tensor | None) -> Tensor:
            x_hat = _standardize(x, axes, eps) if training else x * constant(inv_std, x)
            w = None if w is None else w.reshape(feature_shape)
            return _affine(x_hat, w, None if b is None else b.reshape(feature_shape))

        return composite_grads(ctx, grad_out, batch_norm, values)


def _standardize(x: Tensor, axes: tuple, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) over `axes` (biased variance), in Tensor ops."""
    centered = x - x.mean(axes, keepdim=True)
    var = (centered * centered).mean(axes, keepdim=True)
    return centered / (var + eps).sqrt()


def _affine(x_hat: Tensor, w: Tensor | None, b: Tensor | None) -> Tensor:
    y = x_hat if w is None else x_hat * w
    return y if b is None else y + b


def _zeros_for(t: object) -> np.ndarray | None:
    """A stand-in value for a bias (its value never enters a derivative), or None."""
    return None if t is None else np.zeros(t.shape, dtype=t.dtype)
