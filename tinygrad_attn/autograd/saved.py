"""Saved values on the graph: what a `backward_graph` rule reads the forward's arrays through.

`saved_input(ctx, i, array)` gives input i's saved data as a Tensor whose grad_fn is a
`SavedValue` (identity) node on the input's edge; `saved_output(ctx, array)` the op's own output
with grad_fn the node itself; `derived_output` a derived saved value (the softmax inside
cross-entropy) as the output of a node of another op. Each shares (through `DerivedVersion`)
the version counters of what the node saved, so an in-place change between the passes raises.
`rule_of` finds a class's second-order rule (see graph.py for the sweep that runs it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _TENSOR, Function


class DerivedVersion:
    """The version of a saved value re-wrapped for a second pass: the sum of the versions of
    the tensors its node saved, so an in-place change to any of them is seen (it has `value`
    like a VersionCounter; assigning to the wrapper's data bumps its own share)."""

    __slots__ = ("counters", "own")

    def __init__(self, counters: Sequence[Any]) -> None:
        self.counters, self.own = tuple(counters), 0

    @property
    def value(self) -> int:
        """The current sum (compared with the one a node recorded)."""
        return self.own + sum(c.value for c in self.counters)

    @value.setter
    def value(self, new: int) -> None:
        """Make the sum `new` by moving the wrapper's own share (`+= 1` on a write to its data)."""
        self.own += new - self.value


class SavedValue(Function):
    """A saved input re-wrapped as a Tensor: an identity node on the input's edge.

    Its `_versions` are those of the node that saved the value, so a second pass through it
    raises if one of them was modified in place since the forward.
    """

    origin = "op"

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        """out = x itself, no copy.  Shapes: x -> x."""
        return x

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        """backward: dx = g."""
        return grad_out

    @staticmethod
    def backward_graph(ctx: Function, grad_out: Any) -> Any:
        """dx = g (identity)."""
        return grad_out

    @property
    def name(self) -> str:
        """The name of the op whose saved input this is, e.g. `Mul (saved input)`."""
        return f"{self.origin} (saved input)"


def _wrap(data: np.ndarray, node: Function, version: Any) -> Any:
    t = _TENSOR[0]._make(data, True)
    t.grad_fn, t._version = node, version
    return t


def saved_input(ctx: Function, index: int, array: np.ndarray | None = None) -> Any:
    """Input `index` of node `ctx` as a Tensor on the graph, for use in `backward_graph`.

    A constant input (no grad) comes back as itself. Otherwise the result holds `array` (the
    saved data; a leaf's own data when None) and its grad_fn is a `SavedValue` node on the
    input's edge, a new node per call, so two wrappers of one input stay apart.
    """
    t = ctx.inputs[index]
    if t is None:
        return None
    tensor_class = _TENSOR[0]
    if isinstance(t, tensor_class) and not t.requires_grad:
        return t
    if array is None:
        if not isinstance(t, tensor_class):
            raise RuntimeError(f"{ctx.name}: input {index} was not saved for a second pass")
        array = t.data
    node = SavedValue()
    node.inputs, node.needs_input_grad, node.origin = (t,), (True,), ctx.name
    node._versions = ctx._versions
    version = t._version if isinstance(t, tensor_class) else DerivedVersion(_counters(ctx))
    return _wrap(np.asarray(array), node, version)


def saved_output(ctx: Function, array: np.ndarray) -> Any:
    """The output of node `ctx` (its saved data) as a Tensor whose grad_fn is `ctx` itself."""
    return _wrap(array, ctx, DerivedVersion(_counters(ctx)))


def derived_output(
    op: type[Function], inputs: tuple, saved: tuple, value: np.ndarray, origin: Function, **attrs
) -> Any:
    """`value` as the output of a node of class `op` on `inputs` (edges of `origin`), with
    `saved` as its saved arrays and `attrs` on it: how an op hands a derived saved value (the
    softmax inside cross-entropy) to a second pass without recomputing it."""
    node = op()
    node.inputs = inputs
    node.needs_input_grad = tuple(t is not None and t.requires_grad for t in inputs)
    node._saved, node._versions = saved, origin._versions
    for key, attr in attrs.items():
        setattr(node, key, attr)
    return _wrap(value, node, DerivedVersion(_counters(origin)))


def _counters(ctx: Function) -> list:
    return [counter for counter, _ in ctx._versions]


def constant(array: Any, like: Any) -> Any:
    """`array` as a constant Tensor of `like`'s dtype."""
    return _TENSOR[0]._make(np.asarray(array, dtype=like.dtype), False)


def rule_of(cls: type[Function]) -> Callable | None:
    """The class's `backward_graph`, or None when it has none or when a subclass overrode
    `backward` below the class that defined it (that rule would not match the new backward)."""
    owner_rule = owner_backward = None
    for klass in cls.__mro__:
        if owner_rule is None and "backward_graph" in vars(klass):
            owner_rule = klass
        if owner_backward is None and "backward" in vars(klass):
            owner_backward = klass
    if owner_rule is None or owner_backward is None or not issubclass(owner_rule, owner_backward):
        return None
    return cls.backward_graph


def has_second_order_rule(cls: type[Function]) -> bool:
    """True when `create_graph=True` can differentiate through op `cls`."""
    return rule_of(cls) is not None
