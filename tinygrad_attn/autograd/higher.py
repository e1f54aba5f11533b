"""`grad` (torch.autograd.grad) and the create_graph entry of `Tensor.backward`.

Both run `graph.sweep`: with `create_graph=True` every gradient is a Tensor with history (each
op's `backward_graph`), otherwise the first-order numpy backwards run as in `backward`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _TENSOR
from .graph import sweep


def _as_tuple(x: Any, what: str) -> tuple:
    tensor_class = _TENSOR[0]
    items = (x,) if isinstance(x, tensor_class) else tuple(x)
    for t in items:
        if not isinstance(t, tensor_class):
            raise TypeError(f"grad: {what} must be Tensors, got {type(t).__name__}")
    return items


def seed(output: Any, gradient: Any, create_graph: bool, op: str) -> Any:
    """The cotangent to start a sweep from `output` with: ones for a one-element output when
    `gradient` is None; a Tensor (kept with its history) under create_graph, else an array."""
    tensor_class = _TENSOR[0]
    if gradient is None:
        if output.data.size != 1:
            raise RuntimeError(
                f"{op}: gradient can be implicit only for one-element outputs, got shape "
                f"{output.shape}; pass one of that shape"
            )
        gradient = np.ones(output.shape, dtype=output.dtype)
    if isinstance(gradient, tensor_class) and create_graph:
        if gradient.shape != output.shape:
            raise ValueError(f"{op}: gradient shape {gradient.shape} != output {output.shape}")
        return gradient if gradient.dtype == output.dtype else gradient.astype(output.dtype)
    array = np.asarray(gradient.data if isinstance(gradient, tensor_class) else gradient)
    if array.shape != output.shape:
        raise ValueError(f"{op}: gradient shape {array.shape} != tensor shape {output.shape}")
    array = array.astype(output.dtype, copy=False)
    return tensor_class._make(array, False) if create_graph else array


def backward_create_graph(root: Any, gradient: Any, retain_graph: bool) -> None:
    """`root.backward(gradient, create_graph=True)`: leaves' `.grad` get gradients with
    history (accumulated out of place, as PyTorch)."""
    sweep(
        [root],
        [seed(root, gradient, True, "backward")],
        None,
        create_graph=True,
        retain_graph=retain_graph,
    )


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, returned rather than accumulated
    into `.grad` (torch.autograd.grad).

    outputs, inputs: a Tensor or a sequence of them; grad_outputs: one cotangent per output
    (None: ones, for one-element outputs only). retain_graph defaults to create_graph. With
    create_graph=True the results carry history and can be differentiated again. An input
    that no output depends on is a RuntimeError, or None with allow_unused=True.
    """
    outs, ins = _as_tuple(outputs, "outputs"), _as_tuple(inputs, "inputs")
    if grad_outputs is None or isinstance(grad_outputs, _TENSOR[0]):
        grad_outputs = [grad_outputs] * len(outs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outs)} outputs")
    for i, t in enumerate(outs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and has no grad_fn")
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    seeds = [seed(o, g, create_graph, "grad") for o, g in zip(outs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    results = sweep(outs, seeds, ins, create_graph=create_graph, retain_graph=retain)
    return tuple(
        _result(g, t, i, create_graph, allow_unused) for i, (g, t) in enumerate(zip(results, ins))
    )


def _result(g: Any, t: Any, i: int, create_graph: bool, allow_unused: bool) -> Any:
    if g is None:
        if not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used in the graph of the outputs; "
                "pass allow_unused=True to get None for it"
            )
        return None
    if create_graph:
        return g
    return _TENSOR[0](np.array(g, dtype=t.dtype, copy=True))


def gradients_of(outputs: Sequence[Any], inputs: Sequence[Any], **kwargs: Any) -> tuple:
    """`grad` with allow_unused=True and zeros for unused inputs (for autograd.functional)."""
    got = grad(outputs, inputs, allow_unused=True, **kwargs)
    tensor_class = _TENSOR[0]
    return tuple(
        tensor_class(np.zeros(t.shape, dtype=t.dtype)) if g is None else g
        for g, t in zip(got, inputs)
    )
