"""Explain mode: run a backward pass and print its tape, one line per op, in the engine's order.

    loss = model(x).sum()
    tape = explain_backward(loss)           # runs loss.backward() and prints the tape
    tape[0].op, tape[0].grad_in_norms       # the records, for programs and tests

Each line names the op, its input and output shapes, the norm of the gradient arriving at its
output (|grad_out|) and of the gradient it sends to each input (|grad_in|). Run the forward
inside `tg.detect_anomaly()` and each line also names the user's line that created the op.

How it works, without touching the engine: a hook (`Tensor.register_hook`) on every tensor the
graph produced sees the gradient arriving at that tensor just before the engine runs the op
that made it; the hook records it and evaluates the op's `backward` once more on it to get the
per-input gradients. So every op's backward runs twice, and must not change its saved arrays
(no built-in op does). Leaves receive their `.grad` exactly as from `loss.backward()`.
"""

from __future__ import annotations

import functools
import inspect
import sys
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from tinygrad_attn.autograd import Function, toposort, unbroadcast
from tinygrad_attn.tensor import Tensor

Shape = tuple[int, ...]


@dataclass
class TapeRecord:
    """One op of the backward tape.  Shapes: input_shapes has one entry per op input (None for
    an absent optional input such as a missing bias); grad_in_norms likewise, None where no
    gradient flows (a constant input). `source` is "file:line" of the op's Function class."""

    step: int
    op: str
    site: str | None
    input_shapes: list[Shape | None]
    output_shape: Shape
    grad_out_norm: float
    grad_in_norms: list[float | None]
    source: str | None = None


@functools.cache
def _source(op: type) -> str | None:
    """ "path/to/file.py:line" where the op's class is defined, or None if unknown."""
    try:
        return f"{inspect.getsourcefile(op)}:{inspect.getsourcelines(op)[1]}"
    except (OSError, TypeError):
        return None


def _norm(array: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.square(array, dtype=np.float64))))


def _input_grads(node: Function, grad_out: np.ndarray) -> list[np.ndarray | None]:
    """The op's backward on grad_out, reduced to each input's shape (as the engine does)."""
    grads = type(node).backward(node, grad_out)
    if not isinstance(grads, tuple):
        grads = (grads,)
    out: list[np.ndarray | None] = []
    for t, g in zip(node.inputs, grads):
        if g is None or t is None or not t.requires_grad:
            out.append(None)
        else:
            out.append(unbroadcast(np.asarray(g), t.shape, node.name))
    return out


def _graph_tensors(root: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """Tensors made by ops (root first) and leaves that require grad, each listed once."""
    made, leaves, seen = [root], [], {id(root)}
    for node in toposort(root.grad_fn):
        for t in node.inputs:
            if t is None or id(t) in seen or not t.requires_grad:
                continue
            seen.add(id(t))
            (made if t.grad_fn is not None else leaves).append(t)
    return made, leaves


def _record_hook(tensor: Tensor, records: list[TapeRecord]) -> Any:
    node = tensor.grad_fn

    def hook(grad: Tensor) -> None:
        grads = _input_grads(node, grad.data)
        records.append(
            TapeRecord(
                step=len(records) + 1,
                op=node.name,
                site=node._site,
                input_shapes=[None if t is None else t.shape for t in node.inputs],
                output_shape=tensor.shape,
                grad_out_norm=_norm(grad.data),
                grad_in_norms=[None if g is None else _norm(g) for g in grads],
                source=_source(type(node)),
            )
        )

    return hook


def explain_backward(
    loss: Tensor,
    gradient: Any = None,
    retain_graph: bool = False,
    params: dict[str, Tensor] | None = None,
    file: TextIO | None = None,
) -> list[TapeRecord]:
    """Run `loss.backward(gradient, retain_graph)` and print the backward tape to `file`
    (default stdout), one op per line in the order the engine runs them, then each leaf's
    gradient norm (named from `params`, e.g. dict(model.named_parameters())).

    Shapes: loss any shape (a one-element loss needs no `gradient`). Returns the records.
    """
    if loss.grad_fn is None:
        raise ValueError("explain_backward: the tensor has no graph (a leaf, or made in no_grad)")
    made, leaves = _graph_tensors(loss)
    records: list[TapeRecord] = []
    leaf_grads: dict[int, np.ndarray] = {}

    def leaf_hook(t: Tensor) -> Any:
        def hook(grad: Tensor) -> None:
            previous = leaf_grads.get(id(t))
            leaf_grads[id(t)] = grad.data if previous is None else previous + grad.data

        return hook

    handles = [t.register_hook(_record_hook(t, records)) for t in made]
    handles += [t.register_hook(leaf_hook(t)) for t in leaves]
    try:
        loss.backward(gradient, retain_graph=retain_graph)
    finally:
        for handle in handles:
            handle.remove()
    names = {id(p): name for name, p in (params or {}).items()}
    leaf_norms = []
    for i, t in enumerate(leaves):
        norm = _norm(leaf_grads[id(t)]) if id(t) in leaf_grads else None
        leaf_norms.append((names.get(id(t), f"leaf {i}"), t.shape, norm))
    print(format_tape(records, leaf_norms), file=file or sys.stdout)
    return records


def _shape(shape: Shape | None) -> str:
    return "-" if shape is None else str(tuple(shape))


def format_tape(records: list[TapeRecord], leaves: list[tuple[str, Shape, float | None]]) -> str:
    """The tape as a text table (what `explain_backward` prints)."""
    op_width = max([len(r.op) for r in records] + [2])
    site_width = max([len(r.site or "") for r in records] + [4])
    lines = [
        f"backward tape: {len(records)} ops, in the order the engine runs them",
        f"{'#':>3}  {'op':<{op_width}}  {'site':<{site_width}}  {'output':<14}{'|grad_out|':>11}"
        "   inputs: shape |grad_in|",
    ]
    for r in records:
        inputs = []
        for shape, norm in zip(r.input_shapes, r.grad_in_norms):
            if shape is not None:
                inputs.append(f"{_shape(shape)} {'const' if norm is None else f'{norm:.3e}'}")
        lines.append(
            f"{r.step:>3}  {r.op:<{op_width}}  {r.site or '':<{site_width}}  "
            f"{_shape(r.output_shape):<14}{r.grad_out_norm:>11.3e}   {', '.join(inputs)}"
        )
    if leaves:
        lines.append("leaves (|grad| this backward added):")
        for name, shape, norm in leaves:
            value = "no gradient" if norm is None else f"{norm:.3e}"
            lines.append(f"     {name} {_shape(shape)}: {value}")
    return "\n".join(lines)
