"""Fast max and sum along the last axis, used by softmax, log-softmax and layer norm.

numpy reduces a short last axis slowly (a row max over 32-wide attention scores costs ~20x the
same reduction over a long axis). A row sum is a matrix-vector product with ones, which BLAS
does at full speed; a row max reads the rows through a transposed copy, so the reduction runs
along the long axis instead.
"""

from __future__ import annotations

import numpy as np

_SHORT = 256  # rows at most this long take the fast paths


def row_sum(x: np.ndarray, dim: int) -> np.ndarray:
    """sum(x, dim, keepdims=True), via x @ ones when dim is the last axis."""
    if dim != x.ndim - 1 or x.ndim == 0 or x.shape[-1] > _SHORT:
        return np.asarray(np.sum(x, axis=dim, keepdims=True))
    return x @ np.ones((x.shape[-1], 1), dtype=x.dtype)


def row_max(x: np.ndarray, dim: int) -> np.ndarray:
    """max(x, dim, keepdims=True), through a transposed copy when dim is a short last axis.

    The max of an empty axis is -inf (numpy refuses it: a reduction with no identity)."""
    if x.size == 0:
        shape = list(x.shape)
        shape[dim] = 1
        return np.full(shape, -np.inf, dtype=x.dtype)
    if dim != x.ndim - 1 or x.ndim < 2 or x.shape[-1] > _SHORT or x.size < 4096:
        return np.asarray(np.max(x, axis=dim, keepdims=True))
    columns = np.ascontiguousarray(x.reshape(-1, x.shape[-1]).T)  # (N, R)
    return columns.max(axis=0).reshape(x.shape[:-1] + (1,))
