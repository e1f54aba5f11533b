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
    """TypeError unless x (a Tensor) holds floats."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: {what} must be a floating tensor, got dtype {x.dtype}")
