"""The gradient checks themselves are tested: break each op's backward and expect gradcheck on
the op's registry example to fail. A mutant that survives means the op's test cannot see a real
class of bugs (wrong scale, a forgotten input, a transposed or misplaced gradient)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.ops.registry import REGISTRY, OpCase
from tinygrad_attn import GradcheckError
from tinygrad_attn.autograd import unbroadcast


def _permuted(g: np.ndarray) -> np.ndarray:
    """Transposed when the last two dims are square (the classic matmul bug), else reversed."""
    if g.ndim >= 2 and g.shape[-1] == g.shape[-2]:
        return np.swapaxes(g, -1, -2).copy()
    return g.reshape(-1)[::-1].reshape(g.shape).copy()


MUTANTS: dict[str, Callable[[np.ndarray], np.ndarray | None]] = {
    "scaled": lambda g: g * 1.01,
    "dropped": lambda g: None,
    "zeroed": lambda g: np.zeros_like(g),
    "permuted": _permuted,
}


def _mutated_backward(original: Callable, kind: str, index: int) -> Callable:
    """`original` with the gradient of input `index` (reduced to that input's shape) mutated."""

    def backward(ctx: object, grad_out: np.ndarray) -> tuple:
        grads = original(ctx, grad_out)
        grads = list(grads) if isinstance(grads, tuple) else [grads]
        if grads[index] is not None:  # None: an input without grad (gradcheck's own upstream)
            shape = ctx.inputs[index].shape
            grads[index] = MUTANTS[kind](unbroadcast(np.asarray(grads[index]), shape))
        return tuple(grads)

    return backward


def _mutants() -> list:
    params = []
    for case in REGISTRY:
        example = case.example()
        for index, tensor in enumerate(example.tensors):
            for kind in MUTANTS:
                if kind == "permuted" and tensor.data.size < 2:
                    continue
                label = f"{case.op.__name__}-{kind}-input{index}"
                params.append(pytest.param(case, kind, index, id=label))
    return params


@pytest.mark.parametrize("case, kind, index", _mutants())
def test_mutated_backward_is_caught_by_gradcheck(
    case: OpCase, kind: str, index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same check must pass without the mutation: otherwise "caught" would only mean that
    # the example fails gradcheck anyway (a kink, a bad example, a broken op) and says nothing.
    assert case.gradcheck(), f"{case.op.__name__}: its example fails gradcheck even unmutated"
    mutated = _mutated_backward(case.op.backward, kind, index)
    monkeypatch.setattr(case.op, "backward", staticmethod(mutated))
    with pytest.raises(GradcheckError):
        case.gradcheck()
