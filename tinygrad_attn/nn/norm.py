"""Normalisation layers: `LayerNorm` (Ba et al. 2016) and `BatchNorm1d` (Ioffe & Szegedy 2015)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.nn.module import Module
from tinygrad_attn.nn.parameter import Parameter
from tinygrad_attn.tensor import Tensor


class LayerNorm(Module):
    """Normalise each example over its trailing `normalized_shape` dims, then scale and shift.

    Shapes: x (..., *normalized_shape) -> same. weight starts at ones and bias at zeros
    (absent with elementwise_affine=False; bias=False drops only the bias, as PyTorch 2.1+).
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(s) for s in shape)
        if not self.normalized_shape or min(self.normalized_shape) < 1:
            raise ValueError(f"LayerNorm: invalid normalized_shape {normalized_shape}")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=np.float32))
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype=np.float32))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        """`F.layer_norm` over the trailing `normalized_shape` dims."""
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """`LayerNorm((8,), eps=1e-05, elementwise_affine=True)` in repr, as PyTorch."""
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class BatchNorm1d(Module):
    """Normalise each feature over the batch (and length) axes, then scale and shift.

    Shapes: x (N, C) or (N, C, L) with C = num_features -> same.
    Training uses the batch statistics and updates the buffers `running_mean` (zeros) and
    `running_var` (ones) in place: r = (1 - momentum) r + momentum * stat, with the unbiased
    batch variance for r_var (momentum=None: a cumulative average over `num_batches_tracked`).
    Eval uses the running statistics, unless track_running_stats=False (then batch statistics
    are used in both modes and there are no buffers).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        if num_features < 1:
            raise ValueError(f"BatchNorm1d: num_features must be >= 1, got {num_features}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=np.float32))
            self.bias = Parameter(np.zeros(num_features, dtype=np.float32))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=np.float32))
            self.register_buffer("running_var", np.ones(num_features, dtype=np.float32))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean back to 0, variance to 1, batch count to 0."""
        if self.track_running_stats:
            self.running_mean.data = np.zeros_like(self.running_mean.data)
            self.running_var.data = np.ones_like(self.running_var.data)
            self.num_batches_tracked.data = np.zeros_like(self.num_batches_tracked.data)

    def forward(self, x: Tensor) -> Tensor:
        """Normalise with batch statistics (training; updates the running stats) or
        the running ones (eval).  Shapes: (N, C) or (N, C, L) -> same.
        """
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d: expected input (N, {self.num_features}) or "
                f"(N, {self.num_features}, L), got {x.shape}"
            )
        update = self.training and self.track_running_stats
        factor = 0.0 if self.momentum is None else self.momentum
        if update and self.momentum is None:  # cumulative average: weight 1/n for batch n
            factor = 1.0 / (float(self.num_batches_tracked.data) + 1)
        # Without running stats (track_running_stats=False) the buffers are None and batch
        # statistics are used in eval mode too.
        y = F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=self.training or not self.track_running_stats,
            momentum=factor,
            eps=self.eps,
        )
        if update:  # counted only once the batch went through (a bad batch raises above)
            self.num_batches_tracked.data += 1  # via the setter: bumps the version
        return y

    def extra_repr(self) -> str:
        """`BatchNorm1d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)` in
        repr, as PyTorch."""
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )
