"""`tg.autograd.functional`: vjp, jvp, hvp, vhp, jacobian and hessian of a function of Tensors,
with the names, signatures and return structure of `torch.autograd.functional`.

Each is built on `tg.autograd.grad`: a vjp is one reverse sweep; a jvp is the derivative of a
vjp with respect to its cotangent (the double-vjp trick, exact because a vjp is linear in its
cotangent); an hvp is the vjp of a gradient taken with create_graph=True; a Jacobian is one vjp
per output element, a Hessian the Jacobian of the gradient. Inputs are used through fresh
leaves sharing their data (or, with create_graph=True and an input that requires grad, through
an identity of it, so the results stay differentiable with respect to the caller's tensors).

    def f(x):
        return (x * x * x).sum()

    out, hv = tg.autograd.functional.hvp(f, x, v)   # hv = H v = 6 x * v
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_attn.autograd.higher import grad
from tinygrad_attn.functional import stack
from tinygrad_attn.tensor import Tensor


def _tuple(x: Any, what: str, fn: str) -> tuple[tuple, bool]:
    """(x as a tuple of Tensors, whether x was a tuple or list)."""
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: {what} must be a Tensor or a tuple of Tensors, got {t!r}")
    return items, is_tuple


def _prepare(inputs: tuple, create_graph: bool) -> tuple:
    """Inputs to differentiate with respect to (see the module docstring)."""
    return tuple(
        t * 1.0 if create_graph and t.requires_grad else Tensor(t.data, requires_grad=True)
        for t in inputs
    )


def _finish(results: tuple, inputs: tuple, create_graph: bool, strict: bool, fn: str) -> tuple:
    """Zeros where nothing flowed (RuntimeError with strict); detached without create_graph."""
    out = []
    for g, t in zip(results, inputs):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: the output is independent of input of shape {t.shape}")
            g = Tensor(np.zeros(t.shape, dtype=t.dtype))
        out.append(g if create_graph else g.detach())
    return tuple(out)


def _outputs(func: Callable, inputs: tuple, fn: str) -> tuple[tuple, bool]:
    outputs, is_tuple = _tuple(func(*inputs), "func's outputs", fn)
    for o in outputs:
        if o.dtype.kind != "f":
            raise TypeError(f"{fn}: func must return floating Tensors, got {o.dtype}")
    return outputs, is_tuple


def _grad(outputs: tuple, inputs: tuple, cotangents: tuple, create_graph: bool) -> tuple:
    """grad over the outputs that require grad (the others contribute nothing)."""
    pairs = [(o, v) for o, v in zip(outputs, cotangents) if o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, vs = zip(*pairs)
    return grad(outs, inputs, vs, create_graph=create_graph, retain_graph=True, allow_unused=True)


def _cotangents(v: Any, like: tuple, fn: str) -> tuple:
    if v is None:
        if any(t.data.size != 1 for t in like):
            raise RuntimeError(f"{fn}: v may be omitted only when func returns one element")
        return tuple(Tensor(np.ones(t.shape, dtype=t.dtype)) for t in like)
    vs, _ = _tuple(v, "v", fn)
    if len(vs) != len(like) or any(a.shape != b.shape for a, b in zip(vs, like)):
        raise ValueError(
            f"{fn}: v has shapes {[a.shape for a in vs]}, expected {[b.shape for b in like]}"
        )
    return vs


def _unpack(items: tuple, is_tuple: bool) -> Any:
    return items if is_tuple else items[0]


def vjp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple:
    """(func(*inputs), vᵀ J): the vector-Jacobian product, v shaped like func's output."""
    xs, in_tuple = _tuple(inputs, "inputs", "vjp")
    xs = _prepare(xs, create_graph)
    outs, out_tuple = _outputs(func, xs, "vjp")
    grads = _grad(outs, xs, _cotangents(v, outs, "vjp"), create_graph)
    result = _finish(grads, xs, create_graph, strict, "vjp")
    values = outs if create_graph else tuple(o.detach() for o in outs)
    return _unpack(values, out_tuple), _unpack(result, in_tuple)


def jvp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple:
    """(func(*inputs), J v): the Jacobian-vector product, v shaped like the inputs, by the
    double-vjp trick: J v is the gradient of u -> uᵀ J v, i.e. of the vjp, w.r.t. u."""
    xs, in_tuple = _tuple(inputs, "inputs", "jvp")
    xs = _prepare(xs, create_graph)
    vs = _cotangents(v, xs, "jvp")
    outs, out_tuple = _outputs(func, xs, "jvp")
    us = tuple(Tensor(np.zeros(o.shape, dtype=o.dtype), requires_grad=True) for o in outs)
    vjps = _grad(outs, xs, us, create_graph=True)
    pairs = [(g, w) for g, w in zip(vjps, vs) if g is not None and g.requires_grad]
    if pairs:
        gs, ws = zip(*pairs)
        got = grad(gs, us, ws, create_graph=create_graph, retain_graph=True, allow_unused=True)
    else:
        got = (None,) * len(us)
    result = _finish(got, us, create_graph, strict, "jvp")
    values = outs if create_graph else tuple(o.detach() for o in outs)
    return _unpack(values, out_tuple), _unpack(result, out_tuple)


def vhp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple:
    """(func(*inputs), vᵀ H) for a scalar func: the vjp of its gradient."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple:
    """(func(*inputs), H v) for a scalar func. H is symmetric for a twice-differentiable func,
    so H v = (vᵀ H)ᵀ is the vjp of the gradient: one second reverse sweep."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(
    func: Callable, inputs: Any, v: Any, create_graph: bool, strict: bool, fn: str
) -> tuple:
    xs, in_tuple = _tuple(inputs, "inputs", fn)
    xs = _prepare(xs, create_graph)
    out = _scalar(func, xs, fn)
    vs = _cotangents(v, xs, fn)
    grads = _grad((out,), xs, (Tensor(np.ones((), dtype=out.dtype)),), create_graph=True)
    pairs = [(g, w) for g, w in zip(grads, vs) if g is not None and g.requires_grad]
    got: tuple = (None,) * len(xs)
    if pairs:
        gs, ws = zip(*pairs)
        got = grad(gs, xs, ws, create_graph=create_graph, retain_graph=True, allow_unused=True)
    result = _finish(got, xs, create_graph, strict, fn)
    return (out if create_graph else out.detach()), _unpack(result, in_tuple)


def _scalar(func: Callable, xs: tuple, fn: str) -> Tensor:
    outs, out_tuple = _outputs(func, xs, fn)
    if out_tuple or outs[0].data.size != 1:
        raise RuntimeError(f"{fn}: func must return a single one-element Tensor")
    return outs[0].reshape(())


def jacobian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """d func(*inputs) / d inputs: a Tensor of shape out.shape + in.shape for one output and
    one input; tuples over inputs (and, outside, over outputs) otherwise, as PyTorch. One
    reverse sweep per output element (`vectorize` is accepted and ignored; only
    strategy="reverse-mode")."""
    if strategy != "reverse-mode":
        raise NotImplementedError(f"jacobian: only strategy='reverse-mode', got {strategy!r}")
    xs, in_tuple = _tuple(inputs, "inputs", "jacobian")
    xs = _prepare(xs, create_graph)
    outs, out_tuple = _outputs(func, xs, "jacobian")
    rows = [_jacobian_of(o, xs, create_graph, strict, "jacobian") for o in outs]
    return _unpack(tuple(_unpack(r, in_tuple) for r in rows), out_tuple)


def _jacobian_of(out: Tensor, xs: tuple, create_graph: bool, strict: bool, fn: str) -> tuple:
    """One tuple over the inputs of d out / d x (out.shape + x.shape), a sweep per element."""
    per_input: list[list[Tensor]] = [[] for _ in xs]
    for i in range(out.data.size):
        onehot = np.zeros(out.data.size, dtype=out.dtype)
        onehot[i] = 1
        cotangent = Tensor(onehot.reshape(out.shape))
        got = _grad((out,), xs, (cotangent,), create_graph)
        for rows, g in zip(per_input, _finish(got, xs, create_graph, strict, fn)):
            rows.append(g)
    return tuple(_stacked(rows, out.shape + x.shape, x.dtype) for rows, x in zip(per_input, xs))


def _stacked(rows: list[Tensor], shape: tuple, dtype: Any) -> Tensor:
    if not rows:
        return Tensor(np.zeros(shape, dtype=dtype))
    return stack(rows, 0).reshape(shape)


def hessian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """The Hessian of a scalar func: in.shape + in.shape for one input, H[i][j] of shape
    x_i.shape + x_j.shape for a tuple of inputs (PyTorch's structure). The Jacobian of the
    gradient, which is taken with create_graph=True."""
    if outer_jacobian_strategy != "reverse-mode":
        raise NotImplementedError("hessian: only outer_jacobian_strategy='reverse-mode'")
    xs, in_tuple = _tuple(inputs, "inputs", "hessian")
    xs = _prepare(xs, create_graph)
    out = _scalar(func, xs, "hessian")
    grads = _grad((out,), xs, (Tensor(np.ones((), dtype=out.dtype)),), create_graph=True)
    blocks = []
    for g, x in zip(grads, xs):
        if g is None or not g.requires_grad:
            if strict:
                raise RuntimeError(f"hessian: the gradient is independent of the input {x.shape}")
            blocks.append(tuple(Tensor(np.zeros(x.shape + y.shape, dtype=x.dtype)) for y in xs))
            continue
        blocks.append(_jacobian_of(g, xs, create_graph, strict, "hessian"))
    return _unpack(tuple(_unpack(b, in_tuple) for b in blocks), in_tuple)
