"""The autograd engine: `Function` (one graph node per op), the grad-mode flag and `backward`.

Every op is a `Function` subclass with `forward(ctx, *arrays, **params)` and
`backward(ctx, grad_out)` on numpy arrays. `Function.apply` runs the forward on the inputs' data
and, when a gradient is wanted, records the node (an instance of the op's class, so
`t.grad_fn` is e.g. a `Softmax`). `backward` walks the recorded nodes in reverse topological
order, found without recursion, and accumulates cotangents in a dict keyed by node.

Layering: this module imports nothing else from the package. `tensor.py` builds on it and hands
its `Tensor` class back with `register_tensor_class` (see `_TENSOR`), and debugging tools such
as `detect_anomaly` plug in through `set_inspector` instead of being called from here.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

_GRAD_ENABLED = [True]  # the grad-mode flag; only touched through no_grad / enable_grad


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _GRAD_ENABLED[0]


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets the grad-mode flag and restores it on exit."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_GRAD_ENABLED[0])
        _GRAD_ENABLED[0] = self.enabled

    def __exit__(self, *exc: object) -> None:
        _GRAD_ENABLED[0] = self._previous.pop()


def no_grad() -> _GradMode:
    """Disable graph recording: `with tg.no_grad(): ...` or `@tg.no_grad()`."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Re-enable graph recording inside a `no_grad()` block."""
    return _GradMode(True)


# The engine wraps op outputs and gradients in Tensors, and tensor.py imports this module for
# Function, so importing tensor.py here would be an import cycle. Instead tensor.py registers
# its class once, right after defining it: the engine reads `_TENSOR[0]`, a list lookup as cheap
# as a module global, and never needs to know where Tensor lives.
_TENSOR: list[Any] = [None]

# Inspection hook (e.g. `detect_anomaly`): an object with `on_forward(node, inputs, output)` and
# `after_backward(node, grads)`, or None. When it is None (the normal case) the engine pays one
# `is not None` test per op and calls nothing.
_INSPECTOR: list[Any] = [None]

# Op overrides (see `override_ops`): library op class -> the class to run in its place. Empty
# outside an `override_ops` block, where `apply` pays one truthiness test per op.
_OVERRIDES: dict[type, type] = {}


def register_tensor_class(cls: type) -> None:
    """Tell the engine which class wraps arrays (called once, by tensor.py)."""
    _TENSOR[0] = cls


def set_inspector(inspector: Any) -> Any:
    """Install `inspector` (or None to remove it) for every op's forward and backward; returns
    the previous one so a context manager can restore it."""
    previous = _INSPECTOR[0]
    _INSPECTOR[0] = inspector
    return previous


def get_inspector() -> Any:
    """The installed inspector, or None (see `set_inspector`)."""
    return _INSPECTOR[0]


@contextlib.contextmanager
def override_ops(replacements: dict[type[Function], type[Function]]) -> Iterator[None]:
    """Within the block, `Op.apply(...)` runs `replacements[Op]` in Op's place.

    This is how a user's own op stands in for the library's everywhere the library calls it
    (`F.softmax`, `nn.MultiheadAttention`, a whole `models.Transformer`), with nothing
    monkey-patched: `Softmax.apply` looks up its replacement at each call. The recorded node is
    an instance of the replacement, so `t.grad_fn` names it. Blocks nest; the inner one wins
    for the ops it names, and each block restores what it found on exit.

        with tg.override_ops({Softmax: MySoftmax}):
            loss = model(src, tgt_in)   # every softmax runs MySoftmax.forward / .backward
    """
    for op, replacement in replacements.items():
        for role, cls in (("op", op), ("replacement", replacement)):
            if not (isinstance(cls, type) and issubclass(cls, Function)):
                raise TypeError(f"override_ops: {role} {cls!r} is not a Function subclass")
    previous = dict(_OVERRIDES)
    _OVERRIDES.update(replacements)
    try:
        yield
    finally:
        _OVERRIDES.clear()
        _OVERRIDES.update(previous)


class VersionCounter:
    """Counts in-place changes to a tensor's data (shared by a tensor and its detached views)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...], op_name: str = "op") -> np.ndarray:
    """Reduce `grad` to `shape`: the adjoint of broadcasting is summation.

    Sums the leading axes that broadcasting added and the axes where `shape` has size 1.
    Raises ValueError naming the op when `shape` does not broadcast to `grad.shape`.
    """
    if grad.shape == shape:
        return grad
    axes = broadcast_axes(grad.shape, shape, f"{op_name}.backward")
    leading_only = grad.shape[grad.ndim - len(shape) :] == shape
    if leading_only and grad.flags.c_contiguous and grad.dtype.kind == "f":
        # Only leading axes to sum (a bias, a LayerNorm weight): one product of the stacked
        # rows with a ones vector, which BLAS runs several times faster than numpy's sum here.
        rows = grad.reshape(-1, math.prod(shape))  # (leading, rest)
        return (np.ones(rows.shape[0], dtype=grad.dtype) @ rows).reshape(shape)
    return grad.sum(axis=axes).reshape(shape)


def broadcast_axes(grad_shape: tuple, shape: tuple, where: str) -> tuple[int, ...]:
    """The axes of `grad_shape` to sum to get back `shape` (the leading axes broadcasting added
    and those where `shape` has size 1); ValueError naming `where` when `shape` does not
    broadcast to `grad_shape`."""
    extra = len(grad_shape) - len(shape)
    if extra < 0 or any(s not in (1, g) for s, g in zip(shape, grad_shape[extra:])):
        raise ValueError(
            f"{where} returned a gradient of shape {grad_shape} for an input of shape {shape}; "
            "it must have the input's shape or one that it broadcasts to"
        )
    return tuple(range(extra)) + tuple(
        extra + i for i, s in enumerate(shape) if s == 1 and grad_shape[extra + i] != 1
    )


class Function:
    """Base class of every op, and the node recorded on the graph (its class names the op).

    Subclasses define `forward(ctx, *arrays, **params)` returning one array and
    `backward(ctx, grad_out)` returning one gradient (or None) per forward input; a bare array
    is fine for a single input. The engine reduces each gradient to its input's shape when the
    input was broadcast, so `backward` may return gradients in the output's shape.

    `ctx` is the node itself: `ctx.save_for_backward(*arrays)` keeps arrays for backward
    (`ctx.saved_tensors`), other state goes on plain attributes (`ctx.dim = dim`), and
    `ctx.needs_input_grad[i]` says whether input i wants a gradient, so backward can skip work:

        @staticmethod
        def backward(ctx, grad_out):
            a, b = ctx.saved_tensors
            grad_a = grad_out @ b.T if ctx.needs_input_grad[0] else None
            grad_b = a.T @ grad_out if ctx.needs_input_grad[1] else None
            return grad_a, grad_b

    Call an op with `MyOp.apply(*tensors, **params)`.

    For second derivatives (`backward(create_graph=True)`, `tg.autograd.grad`) an op also
    needs `backward_graph(ctx, grad_out)`: the same gradients computed with Tensor ops on the
    Tensor `grad_out`, reading saved arrays through `autograd.graph.saved_input` /
    `saved_output` (docs/second_order.md). Without one, create_graph through the op raises.
    """

    # Set by apply on recorded nodes; class-level defaults keep un-recorded contexts cheap.
    inputs: tuple[Any, ...] | None = None
    """The input Tensors of a recorded node (None once a backward freed the graph)."""
    needs_input_grad: tuple[bool, ...] = ()
    """One bool per forward input: True if that input requires grad (set before `forward`
    runs). A gradient returned for an input whose entry is False is ignored, so `backward`
    may return None there and skip computing it."""
    _saved: tuple[np.ndarray, ...] | None = ()
    _versions: tuple[tuple[VersionCounter, int], ...] = ()
    _output_hooks: list[Callable] | None = None
    _site: str | None = None

    @staticmethod
    def forward(ctx: Function, *args: Any, **kwargs: Any) -> np.ndarray:
        """The op on numpy arrays (None for an absent optional input) and keyword-only
        parameters; returns one array. Saves what backward needs on `ctx`."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> Any:
        """Given the gradient of the output (an array of its shape), return one gradient per
        forward input (an array, or None for no gradient), as a tuple; a bare array for a
        single input. A gradient may have the output's broadcast shape: the engine sums it
        back to the input's shape."""
        raise NotImplementedError

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        """Keep arrays for backward (read back as `ctx.saved_tensors`)."""
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple[np.ndarray, ...]:
        """The arrays given to `save_for_backward` (PyTorch's name; they are numpy arrays).
        RuntimeError once a backward without retain_graph freed them."""
        if self._saved is None:
            raise RuntimeError(_freed_message(type(self).__name__))
        return self._saved

    @property
    def name(self) -> str:
        """The op's name: its class name (`Softmax`, `MatMul`, ...)."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} node>"

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        """Run the op on Tensors (None allowed for absent optional inputs); record the node."""
        if _OVERRIDES:
            cls = _OVERRIDES.get(cls, cls)
        tensors = tuple(_as_tensor(x) for x in inputs)
        needs = tuple(t is not None and t.requires_grad for t in tensors)
        record = _GRAD_ENABLED[0] and any(needs)
        ctx = cls()
        ctx.needs_input_grad = needs
        arrays = [None if t is None else t.data for t in tensors]
        try:
            data = cls.forward(ctx, *arrays, **params)
        except ValueError as err:
            raise _named_error(cls.__name__, err, tensors) from None
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        # Only floating tensors carry gradients: a cast to int (or a boolean result) ends the graph.
        record = record and data.dtype.kind in "fc"
        out = _TENSOR[0]._make(data, record)
        if record:
            ctx.inputs = tuple(_input_of(t) for t in tensors)
            ctx._versions = _saved_versions(ctx, tensors, out)
            out.grad_fn = ctx
        inspector = _INSPECTOR[0]
        if inspector is not None:
            inspector.on_forward(ctx, tensors, data)
        return out


def _named_error(op: str, err: ValueError, tensors: tuple) -> ValueError:
    """numpy's ValueError from inside a forward, restated with the op and the input shapes."""
    message = str(err)
    if message.lower().startswith(op.lower()):
        return err
    shapes = ", ".join(str(t.shape) for t in tensors if t is not None)
    return ValueError(f"{op}: {message} (input shapes {shapes})")


def _as_tensor(x: Any) -> Any:
    tensor_class = _TENSOR[0]
    if x is None or isinstance(x, tensor_class):
        return x
    return tensor_class(x)


def _saved_versions(ctx: Function, tensors: tuple, out: Any) -> tuple:
    """Versions of the tensors whose data the op saved, to detect later in-place changes."""
    saved = ctx._saved
    if not saved:
        return ()
    versions = []
    for t in (*tensors, out):
        if t is not None and any(_shares(s, t.data) for s in saved):
            versions.append((t._version, t._version.value))
    return tuple(versions)


def _shares(saved: Any, data: np.ndarray) -> bool:
    return isinstance(saved, np.ndarray) and (saved is data or np.may_share_memory(saved, data))


def _freed_message(op: str) -> str:
    return (
        f"{op}: trying to backward through the graph a second time (or read saved values after "
        "they were freed). Pass retain_graph=True to the first backward() to keep the graph."
    )


def toposort(root: Function) -> list[Function]:
    """Nodes reachable from `root`, each before the nodes that made its inputs (no recursion)."""
    return toposort_many([root], set())


def toposort_many(roots: Sequence[Function], stop: set[int]) -> list[Function]:
    """Nodes reachable from `roots`, each before the nodes that made its inputs (no
    recursion); the parents of nodes whose id is in `stop` are not visited."""
    order: list[Function] = []
    visited: set[int] = set()
    for root in roots:
        if id(root) in visited:
            continue
        visited.add(id(root))
        stack = [(root, iter(() if id(root) in stop else _parents(root)))]
        while stack:
            node, parents = stack[-1]
            parent = next(parents, None)
            if parent is None:
                stack.pop()
                order.append(node)
            elif id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, iter(() if id(parent) in stop else _parents(parent))))
    order.reverse()
    return order


def _parents(node: Function) -> list[Function]:
    if node.inputs is None:
        raise RuntimeError(_freed_message(node.name))
    return [t.grad_fn for t in node.inputs if t is not None and t.grad_fn is not None]


def backward(root: Any, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Reverse-mode sweep from tensor `root` with cotangent `grad` (same shape as root)."""
    if root.grad_fn is None:
        _accumulate_leaf(root, grad)
        return
    order = toposort(root.grad_fn)
    cotangents: dict[int, np.ndarray] = {id(root.grad_fn): grad}
    # Leaf gradients are summed over all edges first, so a leaf's hooks see the total once.
    leaf_grads: dict[int, tuple[Any, np.ndarray]] = {}
    for node in order:
        grad_out = cotangents.pop(id(node), None)
        if grad_out is None:
            continue
        if node._output_hooks:
            grad_out = _run_hooks(node._output_hooks, grad_out)
        for t, g in zip(node.inputs, _node_grads(node, grad_out)):
            if g is None or t is None or not t.requires_grad:
                continue
            if t.grad_fn is None:
                leaf, previous = leaf_grads.get(id(t), (t, None))
                leaf_grads[id(t)] = (leaf, g if previous is None else previous + g)
                continue
            key = id(t.grad_fn)
            previous = cotangents.get(key)
            cotangents[key] = g if previous is None else previous + g
        if not retain_graph:
            node.inputs = None
            node._saved = None
    for leaf, g in leaf_grads.values():
        _accumulate_leaf(leaf, g)


def _node_grads(node: Function, grad_out: np.ndarray) -> list:
    """Call the op's backward, check versions, reduce each gradient to its input's shape."""
    for counter, version in node._versions:
        if counter.value != version:
            raise RuntimeError(
                f"{node.name}: a tensor it saved for backward was modified in place (version "
                f"{counter.value}, expected {version}); clone it or change it after backward()"
            )
    grads = type(node).backward(node, grad_out)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(node.inputs):
        raise RuntimeError(
            f"{node.name}.backward returned {len(grads)} gradients for {len(node.inputs)} inputs"
        )
    out = []
    for t, g in zip(node.inputs, grads):
        if g is not None and t is not None:
            if type(g) is not np.ndarray:
                g = np.asarray(g)
            g = unbroadcast(g, t.shape, node.name)
            if g.dtype != t.dtype:
                g = g.astype(t.dtype)
        out.append(g)
    inspector = _INSPECTOR[0]
    if inspector is not None:
        inspector.after_backward(node, out)
    return out


def _run_hooks(hooks: list[Callable], grad: np.ndarray) -> np.ndarray:
    tensor_class = _TENSOR[0]
    for hook in hooks:
        result = hook(tensor_class(grad))
        if result is not None:
            grad = result.data if isinstance(result, tensor_class) else np.asarray(result)
    return grad


def _accumulate_leaf(leaf: Any, grad: np.ndarray) -> None:
    """Add `grad` into `leaf.grad` (a fresh array: backward outputs may alias each other)."""
    if leaf._hooks:
        grad = _run_hooks(leaf._hooks, grad)
    tensor_class = _TENSOR[0]
    if leaf.grad is None:
        leaf.grad = tensor_class(np.array(grad, dtype=leaf.data.dtype, copy=True))
    else:
        leaf.grad = tensor_class(leaf.grad.data + grad)


class Edge:
    """A non-leaf input as the node that consumes it keeps it: the node that made it, its shape
    and dtype, not its data.

    Keeping the tensor itself would keep every intermediate array alive until backward frees
    the graph, where backward needs only what each op saved for itself (PyTorch keeps no more
    either); an intermediate array nothing saved is freed as soon as the user drops it. Leaves
    and constants stay Tensors in `node.inputs` (a leaf's `.grad` is filled). A tensor has one
    Edge, made when an op first consumes it, so a tensor used twice is one input twice.
    """

    __slots__ = ("grad_fn", "shape", "dtype")
    requires_grad = True  # only tensors an op made while recording have an Edge
    is_leaf = False

    def __init__(self, grad_fn: Function, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.grad_fn, self.shape, self.dtype = grad_fn, shape, dtype

    @property
    def ndim(self) -> int:
        """The number of axes of the tensor this edge stands for."""
        return len(self.shape)

    def register_hook(self, fn: Callable) -> HookHandle:
        """As Tensor.register_hook: fn(grad) sees the gradient arriving at this input."""
        return add_output_hook(self.grad_fn, fn)

    def __repr__(self) -> str:
        return f"<Edge from {self.grad_fn.name}: {self.shape} {self.dtype}>"


def _input_of(t: Any) -> Any:
    """What a recorded node keeps of input t: an Edge for a non-leaf, else t itself."""
    if t is None or t.grad_fn is None:
        return t
    if t._edge is None:
        t._edge = Edge(t.grad_fn, t.shape, t.dtype)
    return t._edge


def add_output_hook(node: Function, fn: Callable) -> HookHandle:
    """Run fn(grad) on the gradient arriving at the output of `node` (a non-leaf's hook)."""
    if node._output_hooks is None:
        node._output_hooks = []
    node._output_hooks.append(fn)
    return HookHandle(node._output_hooks, fn)


class HookHandle:
    """Returned by register_hook; `.remove()` unregisters the hook."""

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        """Unregister the hook (doing it twice is harmless)."""
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


# The differentiable backward (create_graph) and `grad` live in sibling modules of this package,
# which build on the names above; they are imported last so that those names exist.
from .higher import grad as grad  # noqa: E402
from .saved import DerivedVersion as DerivedVersion  # noqa: E402
from .saved import SavedValue as SavedValue  # noqa: E402
from .saved import has_second_order_rule as has_second_order_rule  # noqa: E402
