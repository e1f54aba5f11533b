"""`detect_anomaly()`: stop at the first NaN or Inf, naming the op and the line that made it.

Inside the context manager every node remembers the user's line that created it. In forward,
a NaN raises where it first appears: at the op that produced it from NaN-free inputs, or at the
first op that reads a NaN from a tensor no recorded op made (input data, a leaf, a result of
no_grad). An Inf raises when an op produced it from finite inputs (ops that make infinities on
purpose, such as `masked_fill(mask, -inf)`, say so with `produces_inf = True`; a -inf float
mask is an input, so adding it is fine). In backward, any non-finite gradient raises; run the
forward inside the context manager too, or the message cannot say where the op was created.

The engine does not call this module: `detect_anomaly()` installs `_CHECKS` as the engine's
inspector (`autograd.set_inspector`) and puts the previous one back on exit, so outside the
context manager no op pays for these checks.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_attn import autograd

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class AnomalyError(RuntimeError):
    """A NaN or Inf appeared; the message names the op and where it was created."""


def is_enabled() -> bool:
    """True inside `detect_anomaly()` (the anomaly checks are the engine's inspector)."""
    return autograd.get_inspector() is _CHECKS


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise `AnomalyError` at the first NaN/Inf in forward or backward (slow: debugging only)."""
    previous = autograd.set_inspector(_CHECKS)
    try:
        yield
    finally:
        autograd.set_inspector(previous)


def _user_site() -> str:
    """`file.py:LINE` of the innermost frame outside the tinygrad_attn package."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def _bad(array: Any) -> str | None:
    """'NaN' or 'Inf' if a floating array holds one, else None."""
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fc":
        return None
    if np.isnan(array).any():
        return "NaN"
    if np.isinf(array).any():
        return "Inf"
    return None


def on_forward(node: Any, inputs: tuple, output: np.ndarray) -> None:
    """Remember where `node` was created and check its output."""
    node._site = _user_site()
    problem = _bad(output)
    if problem is None:
        return
    inputs_bad = [None if t is None else _bad(t.data) for t in inputs]
    if problem == "Inf" and (getattr(node, "produces_inf", False) or "Inf" in inputs_bad):
        return
    if problem == "NaN" and "NaN" in inputs_bad:
        # A NaN made by an op inside detect_anomaly() was reported where it appeared; one from
        # data (or from an op that ran before the context was entered) was not, yet.
        unchecked = [
            i
            for i, t in enumerate(inputs)
            if inputs_bad[i] == "NaN" and (t.grad_fn is None or t.grad_fn._site is None)
        ]
        if not unchecked:
            return
        raise AnomalyError(
            f"{node.name} at {node._site} read NaN in forward from input {unchecked[0]}, a tensor "
            "made outside detect_anomaly() (input data, a leaf, a no_grad result, or earlier)"
        )
    raise AnomalyError(f"{node.name} at {node._site} produced {problem} in forward")


def after_backward(node: Any, grads: list) -> None:
    """Raise if any gradient the op returned holds NaN or Inf."""
    for i, g in enumerate(grads):
        problem = _bad(g)
        if problem is not None:
            where = node._site or "<unknown: run the forward inside detect_anomaly() too>"
            raise AnomalyError(
                f"{node.name} at {where} produced {problem} in backward (gradient of input {i})"
            )


class _AnomalyChecks:
    """The inspector `detect_anomaly()` installs: the engine calls these two per op."""

    on_forward = staticmethod(on_forward)
    after_backward = staticmethod(after_backward)


_CHECKS = _AnomalyChecks()
