"""Tensor creation: tensor, zeros, ones, full, *_like, randn, rand, arange, eye.

Shapes may be given as separate ints or one tuple: `zeros(2, 3)` == `zeros((2, 3))`.
Floating results are float32 unless `dtype` says otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_attn import _checks
from tinygrad_attn.random import get_rng
from tinygrad_attn.tensor import Tensor

_DEFAULT_FLOAT = np.float32


def _make(data: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(data, requires_grad=requires_grad)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Same as `Tensor(data, requires_grad, dtype)`."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless `dtype` is given).  `zeros(2, 3)` == `zeros((2, 3))`."""
    return _make(np.zeros(_checks.shape(shape, "zeros"), dtype or _DEFAULT_FLOAT), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 unless `dtype` is given).  `ones(2, 3)` == `ones((2, 3))`."""
    return _make(np.ones(_checks.shape(shape, "ones"), dtype or _DEFAULT_FLOAT), requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with `fill_value`; an int fill gives int64, a float one float32."""
    if dtype is None:
        is_int = isinstance(fill_value, (int, np.integer)) and not isinstance(fill_value, bool)
        dtype = np.int64 if is_int else _DEFAULT_FLOAT
    return _make(np.full(_checks.shape((shape,), "full"), fill_value, dtype), requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with `t`'s shape, and its dtype unless `dtype` is given."""
    return _make(np.zeros(t.shape, dtype or t.dtype), requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with `t`'s shape, and its dtype unless `dtype` is given."""
    return _make(np.ones(t.shape, dtype or t.dtype), requires_grad)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the framework's generator (see `manual_seed`)."""
    size = _checks.shape(shape, "randn")
    data = get_rng().standard_normal(size, dtype=np.dtype(dtype or _DEFAULT_FLOAT))
    return _make(data, requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the framework's generator."""
    size = _checks.shape(shape, "rand")
    return _make(get_rng().random(size, dtype=np.dtype(dtype or _DEFAULT_FLOAT)), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """Values from start (or 0) up to, not including, end; int64 for ints, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if dtype is None:
        all_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if all_int else _DEFAULT_FLOAT
    return Tensor(np.arange(start, end, step, dtype=dtype))


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n, n), or (n, m) with ones on the main diagonal; float32 by default."""
    return _make(np.eye(n, m, dtype=dtype or _DEFAULT_FLOAT), requires_grad)
