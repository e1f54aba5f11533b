"""Argument checks shared by Tensor methods and `functional`: clear errors at the public edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def dim(d: Any, ndim: int, op: str) -> int:
    """A dim as a non-negative int; IndexError naming the op when out of range."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {d!r}")
    size = max(ndim, 1)
    if not -size <= d < size:
        # `ndim` is the rank the dim indexes into (one more than the input's for unsqueeze/stack)
        raise IndexError(f"{op}: dim {d} is out of range (expected {-size}..{size - 1})")
    return int(d) % size


def dims(d: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """None (all axes), an int or a sequence of ints as a sorted tuple of distinct axes."""
    if d is None:
        return None
    items = d if isinstance(d, Sequence) and not isinstance(d, str) else (d,)
    result = tuple(sorted(dim(x, ndim, op) for x in items))
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: dim {d} repeats an axis")
    if ndim == 0:
        return None  # a 0-d tensor: dim 0 / -1 means "everything", as in PyTorch
    return result


def shape(args: tuple, op: str) -> tuple[int, ...]:
    """Shape given as separate ints or one tuple/list: (2, 3) or ((2, 3),)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for s in args:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{op}: shape entries must be ints, got {args!r}")
    return tuple(int(s) for s in args)


def broadcast_shape(a: tuple, b: tuple, op: str) -> tuple[int, ...]:
    """np.broadcast_shapes with an error that names the op and both shapes."""
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(f"{op}: shapes {a} and {b} cannot be broadcast together") from None


def floating(x: Any, op: str, what: str = "input") -> None:
    """TypeError naming `op`, `what` and the dtype unless x (a Tensor or array) holds real floats.

    The check of every float-only op (softmax, layer_norm, linear, gelu, ...), as PyTorch's
    kernels refuse integer and bool input. None (an absent optional input) passes.
    """
    if x is not None and x.dtype.kind != "f":
        raise TypeError(f"{op}: {what} must be a floating tensor, got dtype {x.dtype}")


def as_array(x: Any) -> np.ndarray:
    """A Tensor's data (the same array, no copy), or anything else through np.asarray.

    Tensor is not imported here (tensor.py imports this module); `np.asarray` of a Tensor goes
    through `Tensor.__array__`, which returns its data array itself.
    """
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def to_array(data: Any, dtype: Any) -> np.ndarray:
    """Python data to an array: floats -> float32, ints -> int64, ndarrays keep their dtype."""
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data) if dtype is None else np.asarray(data).astype(dtype, copy=False)
        return _supported(arr, type(data).__name__)
    try:
        arr = np.asarray(data, dtype=dtype)
    except ValueError as err:
        raise ValueError(
            f"Tensor: cannot build a tensor from {type(data).__name__}: {err}"
        ) from None
    _supported(arr, type(data).__name__)
    if dtype is None and arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    elif dtype is None and arr.dtype.kind in "iu":
        arr = arr.astype(np.int64, copy=False)
    return arr


def _supported(arr: np.ndarray, what: str) -> np.ndarray:
    """arr, unless its dtype is not numeric or bool (objects, strings, bytes, records, dates)."""
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"Tensor: unsupported data of type {what} with dtype {arr.dtype}")
    return arr


def index(key: Any, tensor_type: type) -> tuple:
    """Normalise an index to a tuple of ints, slices, None, Ellipsis and int/bool arrays."""
    items = key if isinstance(key, tuple) else (key,)
    out = []
    for k in items:
        if isinstance(k, tensor_type):
            k = k.data
        if isinstance(k, list):
            k = np.asarray(k)
        if isinstance(k, np.ndarray):
            if k.dtype.kind not in "iub":
                raise TypeError(f"index: index arrays must hold ints or bools, got {k.dtype}")
        elif isinstance(k, (float, np.floating)):
            raise TypeError(f"index: a float ({k!r}) cannot index a tensor; use an int")
        elif not (k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice))):
            raise TypeError(f"index: unsupported index {k!r} of type {type(k).__name__}")
        out.append(k)
    return tuple(out)
