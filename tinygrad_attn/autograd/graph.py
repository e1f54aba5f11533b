"""Differentiable backward passes: `create_graph=True`, `grad`, and the saved values they use.

The first-order sweep (`autograd.backward`) runs every op's numpy `backward` and records
nothing. Under `create_graph=True` the engine runs this module's sweep instead: cotangents are
Tensors, and each node's `backward_graph(ctx, grad_out)` computes its input gradients with
Tensor ops while grad mode is on, so they carry history and can be differentiated again.

`backward_graph` reads what the forward saved through two wrappers (saved.py) that connect a
saved array to the graph (PyTorch's SavedVariable idea): `saved_input(ctx, i, array)` for an
input's own data (a Tensor whose grad_fn is a pass-through node on input i's edge) and
`saved_output(ctx, array)` for the op's own output (grad_fn = the node itself). Fused ops
(attention, the norms) re-express their forward in Tensor ops on such wrappers and
differentiate that composition locally (`composite_grads`); their second derivatives then follow
from the primitives' rules. An op without a rule raises, naming it: never a silent first-order
or zero answer.

Layering: like the rest of the engine this imports nothing else from the package; Tensor
methods are reached through the tensors themselves and `_TENSOR`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import (
    _INSPECTOR,
    _TENSOR,
    Function,
    _accumulate_leaf,
    _freed_message,
    _GradMode,
    _node_grads,
    broadcast_axes,
    enable_grad,
    toposort_many,
)
from .saved import DerivedVersion as DerivedVersion
from .saved import SavedValue as SavedValue
from .saved import constant as constant
from .saved import derived_output as derived_output
from .saved import has_second_order_rule as has_second_order_rule
from .saved import rule_of
from .saved import saved_input as saved_input
from .saved import saved_output as saved_output


def composite_grads(ctx: Function, grad_out: Any, fn: Callable, values: Sequence) -> tuple:
    """Input gradients of a fused op, as Tensors with history: its forward re-expressed as
    `fn(*tensors)` in differentiable Tensor ops, run on each input's saved value (a distinct
    `saved_input` wrapper, or None for an absent input) and differentiated locally."""
    wrapped = [_stand_in(ctx, i, v) for i, v in enumerate(values)]
    with enable_grad():
        out = fn(*wrapped)
    targets = [w if w is not None and w.requires_grad else None for w in wrapped]
    wanted = [t for t in targets if t is not None]
    grads = iter(sweep([out], [grad_out], wanted, create_graph=True, retain_graph=True, stop=True))
    return tuple(None if t is None else next(grads) for t in targets)


def _stand_in(ctx: Function, index: int, value: Any) -> Any:
    """Input `index` of a fused op as its composition sees it: `value` (which may stand in for
    the input, e.g. x - mean for a norm's x) on the graph, or as a constant for an input
    without grad (never the input itself, whose value may differ from the stand-in)."""
    if value is None:
        return None
    t = ctx.inputs[index]
    if t is None or not t.requires_grad:
        return _TENSOR[0]._make(np.asarray(value), False)
    return saved_input(ctx, index, value)


def sweep(
    roots: Sequence[Any],
    seeds: Sequence[Any],
    inputs: Sequence[Any] | None = None,
    *,
    create_graph: bool,
    retain_graph: bool,
    stop: bool = False,
) -> list | None:
    """Reverse sweep from tensors `roots` with cotangents `seeds` (Tensors under
    create_graph, else arrays). Without `inputs`, accumulate into every leaf's `.grad`
    (backward); with them, return one gradient per input (None where none arrives) and touch
    no `.grad`. With `stop`, the sweep does not go past the inputs (they are `saved_input`
    wrappers of a fused op's local graph)."""
    cotangents: dict[int, Any] = {}
    leaf_grads: dict[int, tuple[Any, Any]] = {}
    for root, seed in zip(roots, seeds):
        if root.grad_fn is None:
            _add_leaf(leaf_grads, root, seed)
        else:
            _add(cotangents, id(root.grad_fn), seed)
    at_node, at_leaf = _targets(inputs or ())
    order = toposort_many(
        [r.grad_fn for r in roots if r.grad_fn is not None], set(at_node) if stop else set()
    )
    relevant = None if inputs is None else _relevant(order, at_node, at_leaf)
    results: list = [None] * len(inputs or ())
    for node in order:
        grad_out = cotangents.pop(id(node), None)
        if grad_out is None:
            continue
        if node._output_hooks:
            grad_out = _hooked(node._output_hooks, grad_out, create_graph)
        for i in at_node.get(id(node), ()):
            results[i] = grad_out
        if (stop and id(node) in at_node) or (relevant is not None and id(node) not in relevant):
            continue
        grads = node_grads_graph(node, grad_out) if create_graph else _node_grads(node, grad_out)
        _propagate(node, grads, cotangents, leaf_grads)
        if not retain_graph:
            node.inputs = None
            node._saved = None
    if inputs is None:
        for leaf, g in leaf_grads.values():
            _accumulate(leaf, g, create_graph)
        return None
    for key, indices in at_leaf.items():
        for i in indices:
            results[i] = leaf_grads.get(key, (None, None))[1]
    return results


def _targets(inputs: Sequence[Any]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """(node id -> input indices for non-leaf inputs, leaf id -> indices for leaves)."""
    at_node: dict[int, list[int]] = {}
    at_leaf: dict[int, list[int]] = {}
    for i, t in enumerate(inputs):
        if t.grad_fn is None:
            at_leaf.setdefault(id(t), []).append(i)
        else:
            at_node.setdefault(id(t.grad_fn), []).append(i)
    return at_node, at_leaf


def _propagate(node: Function, grads: list, cotangents: dict, leaf_grads: dict) -> None:
    """Add each input gradient of `node` to the cotangent of the node that made the input."""
    for t, g in zip(node.inputs, grads):
        if g is None or t is None or not t.requires_grad:
            continue
        if t.grad_fn is None:
            _add_leaf(leaf_grads, t, g)
        else:
            _add(cotangents, id(t.grad_fn), g)


def _add(cotangents: dict, key: int, g: Any) -> None:
    previous = cotangents.get(key)
    cotangents[key] = g if previous is None else previous + g


def _add_leaf(leaf_grads: dict, leaf: Any, g: Any) -> None:
    _, previous = leaf_grads.get(id(leaf), (leaf, None))
    leaf_grads[id(leaf)] = (leaf, g if previous is None else previous + g)


def _relevant(order: list[Function], at_node: dict, at_leaf: dict) -> set[int]:
    """Ids of the nodes through which a gradient can reach one of the inputs."""
    relevant: set[int] = set()
    for node in reversed(order):  # parents first
        if id(node) in at_node or any(
            t is not None
            and t.requires_grad
            and (id(t) in at_leaf if t.grad_fn is None else id(t.grad_fn) in relevant)
            for t in node.inputs
        ):
            relevant.add(id(node))
    return relevant


def node_grads_graph(node: Function, grad_out: Any) -> list:
    """Run the op's `backward_graph` (grad mode on), check versions, reduce each gradient to
    its input's shape and dtype with Tensor ops."""
    for counter, version in node._versions:
        if counter.value != version:
            raise RuntimeError(
                f"{node.name}: a tensor it saved for backward was modified in place (version "
                f"{counter.value}, expected {version}); clone it or change it after backward()"
            )
    if node.inputs is None:
        raise RuntimeError(_freed_message(node.name))
    rule = rule_of(type(node))
    if rule is None:
        raise RuntimeError(
            f"{node.name}: no second-order rule, so create_graph=True cannot differentiate its "
            "backward (a numpy backward carries no history). Give the op a "
            "`backward_graph(ctx, grad_out)` staticmethod written with Tensor ops "
            "(docs/second_order.md), or differentiate only once."
        )
    with _GradMode(True):
        grads = rule(node, grad_out)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(node.inputs):
        raise RuntimeError(
            f"{node.name}.backward_graph returned {len(grads)} gradients for "
            f"{len(node.inputs)} inputs"
        )
    tensor_class = _TENSOR[0]
    out = []
    for t, g in zip(node.inputs, grads):
        if g is not None and t is not None:
            if not isinstance(g, tensor_class):
                g = tensor_class(np.asarray(g))
            with _GradMode(True):
                g = unbroadcast_tensor(g, t.shape, node.name)
                if g.dtype != t.dtype:
                    g = g.astype(t.dtype)
        out.append(g)
    inspector = _INSPECTOR[0]
    if inspector is not None:
        inspector.after_backward(node, [None if g is None else g.data for g in out])
    return out


def unbroadcast_tensor(g: Any, shape: tuple[int, ...], op_name: str = "op") -> Any:
    """`autograd.unbroadcast` as Tensor ops (a sum over the broadcast axes, then a reshape)."""
    if g.shape == shape:
        return g
    axes = broadcast_axes(g.shape, shape, f"{op_name}.backward_graph")
    return (g.sum(axes) if axes else g).reshape(shape)


def _hooked(hooks: list[Callable], grad: Any, create_graph: bool) -> Any:
    tensor_class = _TENSOR[0]
    for hook in hooks:
        result = hook(grad if create_graph else tensor_class(grad))
        if result is not None:
            if create_graph:
                grad = result if isinstance(result, tensor_class) else tensor_class(result)
            else:
                grad = result.data if isinstance(result, tensor_class) else np.asarray(result)
    return grad


def _accumulate(leaf: Any, grad: Any, create_graph: bool) -> None:
    """Add `grad` into `leaf.grad`: out of place with history under create_graph (as
    PyTorch), else as the first-order engine does."""
    if not create_graph:
        _accumulate_leaf(leaf, grad)
        return
    if leaf._hooks:
        grad = _hooked(leaf._hooks, grad, True)
    with _GradMode(True):
        leaf.grad = grad if leaf.grad is None else leaf.grad + grad
