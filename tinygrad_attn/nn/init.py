"""In-place initialisers (`nn.init.xavier_uniform_(w)`), drawing from the framework's one RNG.

Each writes into the tensor's existing array (so a Parameter sharing it sees the new values) and
returns the tensor; `tg.manual_seed(s)` makes every initialisation reproducible. The formulas
and defaults are PyTorch's.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_attn.random import get_rng
from tinygrad_attn.tensor import Tensor


def _fill(tensor: Tensor, values: np.ndarray | float) -> Tensor:
    """Write values into tensor's array in place and bump its version (an in-place change)."""
    if tensor.dtype.kind != "f":
        raise TypeError(f"init: expected a floating tensor, got {tensor.dtype}")
    tensor.data[...] = values
    tensor.data = tensor.data  # re-assigning the same array bumps the version counter
    return tensor


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: a Linear weight (out, in) gives (in, out).

    Shapes: tensor (out, in, *kernel) with at least 2 dims; kernel sizes multiply both fans.
    """
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in/out need a tensor of >= 2 dims, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended std gain for a nonlinearity (PyTorch's table)."""
    if nonlinearity in ("linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with draws from U(a, b).  Shapes: any."""
    return _fill(tensor, get_rng().uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with draws from N(mean, std^2).  Shapes: any."""
    return _fill(tensor, get_rng().normal(mean, std, size=tensor.shape))


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with `value`.  Shapes: any."""
    return _fill(tensor, value)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill `tensor` with 0 in place (no graph); returns it."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill `tensor` with 1 in place (no graph); returns it."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010).

    Shapes: tensor (out, in, ...).
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al. 2015).

    Shapes: tensor (out, in, ...). `nn.Linear` uses a = sqrt(5), which makes the bound
    1 / sqrt(in_features).
    """
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"kaiming_uniform_: tensor of shape {tensor.shape} has a zero fan")
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound)
