"""`gradcheck`: the analytic gradient of a function against central finite differences.

The function's output is contracted with a random upstream gradient R, so the scalar checked is
sum(fn(*inputs) * R): a mean or sum cotangent would let a broken softmax or norm backward pass
(their gradient along the all-ones direction is identically zero).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from tinygrad_attn.autograd import enable_grad, grad, is_grad_enabled, no_grad
from tinygrad_attn.functional import cat
from tinygrad_attn.tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; the message says where and by how much."""


class GradcheckWarning(UserWarning):
    """The check could not fail: every analytic and numeric gradient entry was ~0."""


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check fn's gradient w.r.t. every input that requires grad, in float64.

    Inputs are copied to float64 (a float32 check would drown in rounding). An element fails
    when |analytic - numeric| > atol + rtol * |numeric|. Returns True, or raises
    `GradcheckError` naming the input, the element, both values (False if not raise_exception).
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    xs = [_float64_copy(x) for x in inputs]
    targets = [i for i, x in enumerate(xs) if x.requires_grad]
    if not targets:
        raise ValueError("gradcheck: no input requires grad")
    out = fn(*xs)
    if not isinstance(out, Tensor) or out.dtype.kind != "f":
        raise TypeError("gradcheck: fn must return a floating Tensor")
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    (out * Tensor(upstream)).sum().backward()
    analytic = [np.zeros(xs[i].shape) if xs[i].grad is None else xs[i].grad.data for i in targets]
    numeric = [_numeric_grad(fn, xs, i, upstream, eps) for i in targets]
    report = _compare(targets, analytic, numeric, atol, rtol)
    if report is not None:
        if raise_exception:
            raise GradcheckError(report)
        return False
    if all(
        np.abs(a).max(initial=0) < atol and np.abs(n).max(initial=0) < atol
        for a, n in zip(analytic, numeric)
    ):
        warnings.warn(
            "gradcheck: every analytic and numeric gradient entry is ~0, so this check cannot "
            "fail; choose inputs where the function is sensitive",
            GradcheckWarning,
            stacklevel=2,
        )
    return True


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check fn's second derivatives, in float64: `gradcheck` of the first-order map
    (inputs, u) -> grad(sum(fn(*inputs) * u), inputs), u a random cotangent that is itself an
    input. The analytic side differentiates the gradients built with create_graph=True (each
    op's `backward_graph`); the numeric side takes central differences of the first-order
    numpy gradients. So a second-order rule is checked both for its values (through u) and for
    its derivatives (through the inputs). Same tolerances and return value as `gradcheck`.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    xs = [_float64_copy(x) for x in inputs]
    targets = [i for i, x in enumerate(xs) if x.requires_grad]
    if not targets:
        raise ValueError("gradgradcheck: no input requires grad")
    with no_grad():
        shape = fn(*xs).shape
    cotangent = Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)

    def first_order(*tensors: Tensor) -> Tensor:
        # gradcheck runs its finite differences under no_grad: there, first-order gradients.
        create_graph = is_grad_enabled()
        *args, u = tensors
        with enable_grad():
            wanted = [args[i] for i in targets]
            grads = grad(fn(*args), wanted, u, create_graph=create_graph, allow_unused=True)
            for i, g in zip(targets, grads):
                if create_graph and g is not None and not g.requires_grad:
                    # A gradient is linear in u, which requires grad: no history means some
                    # op's second-order rule gave a detached, silently first-order answer.
                    raise GradcheckError(
                        f"gradgradcheck: the gradient of input {i} computed with "
                        "create_graph=True carries no history (a detached backward_graph result)"
                    )
            flat = [
                (Tensor(np.zeros(t.shape)) if g is None else g).reshape(-1)
                for g, t in zip(grads, wanted)
            ]
            return flat[0] if len(flat) == 1 else cat(flat)

    return gradcheck(first_order, (*xs, cotangent), eps, atol, rtol, raise_exception, seed + 1)


def _float64_copy(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"gradcheck: inputs must be Tensors, got {type(x).__name__}")
    data = np.array(x.data, dtype=np.float64 if x.dtype.kind == "f" else x.dtype, copy=True)
    return Tensor(data, requires_grad=x.requires_grad)


def _numeric_grad(
    fn: Callable[..., Tensor], xs: list[Tensor], i: int, upstream: np.ndarray, eps: float
) -> np.ndarray:
    """Central differences of sum(fn(*xs) * upstream) w.r.t. every element of xs[i]."""
    data = xs[i].data
    grad = np.zeros(data.shape)
    flat, flat_grad = data.reshape(-1), grad.reshape(-1)
    with no_grad():
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = np.sum(fn(*xs).data * upstream)
            flat[j] = original - eps
            minus = np.sum(fn(*xs).data * upstream)
            flat[j] = original
            flat_grad[j] = (plus - minus) / (2 * eps)
    return grad


def _compare(
    targets: list[int],
    analytic: list[np.ndarray],
    numeric: list[np.ndarray],
    atol: float,
    rtol: float,
) -> str | None:
    """None if all agree, else a report of the worst element of the first failing input."""
    for i, a, n in zip(targets, analytic, numeric):
        if a.shape != n.shape:
            return f"input {i}: analytic gradient shape {a.shape} != input shape {n.shape}"
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        # `~(excess <= 0)` is also True where either gradient is NaN (NaN compares False).
        off = ~(excess <= 0) | ~np.isfinite(a) | ~np.isfinite(n)
        if off.any():
            score = np.where(off & ~np.isfinite(excess), np.inf, np.where(off, excess, -np.inf))
            where = np.unravel_index(int(np.argmax(score)), a.shape)
            count = int(np.sum(off))
            element = tuple(int(w) for w in where)
            return (
                f"gradcheck failed for input {i} (shape {a.shape}) at element {element}: "
                f"analytic {a[where]:.8g} vs numeric {n[where]:.8g} "
                f"(|diff| {abs(a[where] - n[where]):.3g}, {count} of {a.size} elements off, "
                f"max abs error {np.nanmax(np.abs(a - n)):.3g})"
            )
    return None
