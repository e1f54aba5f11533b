"""Property checks of a gradient, per exercise: facts the right gradient has whatever its
formula (a softmax row's gradient sums to zero, an unused embedding row gets none, ...).

Each check takes the Case and the learner's gradients (reduced to the inputs' shapes) and
returns a sentence saying what is violated, or None.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinygrad_attn.learn.cases import Case

_TOL = 1e-6


def _sums_to_zero(grad: np.ndarray, axes: tuple, what: str) -> str | None:
    total = np.abs(np.sum(grad, axis=axes)).max(initial=0)
    if total > _TOL * max(1.0, np.abs(grad).max(initial=0)):
        return f"{what} (off by up to {total:.3g})"
    return None


def _softmax(case: Case, grads: list) -> str | None:
    return _sums_to_zero(
        grads[0], (case.params["dim"],), "adding a constant along dim changes nothing, so dx "
        "must sum to 0 along dim"
    )  # fmt: skip


def _cross_entropy(case: Case, grads: list) -> str | None:
    rows = grads[0].reshape(-1, grads[0].shape[-1])
    ignored = case.params["target"].reshape(-1) == case.params["ignore_index"]
    if ignored.any() and np.abs(rows[ignored]).max() > 0:
        return "rows whose target is ignore_index must get a zero gradient"
    return _sums_to_zero(rows, (1,), "adding a constant to a row of logits changes no "
                         "probability, so each row of dlogits must sum to 0")  # fmt: skip


def _layer_norm(case: Case, grads: list) -> str | None:
    x = grads[0]
    axes = tuple(range(x.ndim - case.params["num_dims"], x.ndim))
    return _sums_to_zero(x, axes, "shifting a row of x changes nothing after normalising, so dx "
                         "must sum to 0 over the normalised axes")  # fmt: skip


def _batch_norm(case: Case, grads: list) -> str | None:
    x = grads[0]
    axes = (0,) + tuple(range(2, x.ndim))
    return _sums_to_zero(x, axes, "shifting a feature over the batch changes nothing after "
                         "normalising, so dx must sum to 0 per feature")  # fmt: skip


def _embedding(case: Case, grads: list) -> str | None:
    unused = np.ones(grads[0].shape[0], dtype=bool)
    unused[case.params["indices"].reshape(-1)] = False
    if case.params["padding_idx"] is not None:
        unused[case.params["padding_idx"]] = True
    if unused.any() and np.abs(grads[0][unused]).max() > 0:
        return "rows never looked up (and the padding_idx row) must get a zero gradient"
    return None


def _attention(case: Case, grads: list) -> str | None:
    rows = case.inputs[0].shape[-2]
    blocked = (grads[1][..., rows:, :], grads[2][..., rows:, :])  # keys no query may see
    if any(b.size and np.abs(b).max() > _TOL for b in blocked):
        return "keys after the last query are masked for every query: their dk, dv must be 0"
    return None


PROPERTIES: dict[str, Callable[[Case, list], str | None]] = {
    "softmax": _softmax,
    "log_softmax": _softmax,
    "cross_entropy": _cross_entropy,
    "layer_norm": _layer_norm,
    "batch_norm": _batch_norm,
    "embedding": _embedding,
    "attention": _attention,
}
"""Exercise name -> its property check (exercises without one rely on gradcheck alone)."""
