"""The second-order checks are tested: break each op's `backward_graph` and expect
`gradgradcheck` on the op's registry example to fail. "scaled" and "zeroed" give wrong values,
"detached" gives the right values without history (the silent first-order answer that
create_graph must never give); a check that misses one could not see that bug class."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.ops.registry import REGISTRY, OpCase
from tinygrad_attn import GradcheckError, Tensor, gradgradcheck


def _detached(g: Tensor) -> Tensor:
    return Tensor(np.array(g.data, copy=True))


MUTANTS: dict[str, Callable[[Tensor], Tensor]] = {
    "scaled": lambda g: g * 1.01,
    "zeroed": lambda g: g * 0.0,
    "detached": _detached,
}


def _mutated_rule(original: Callable, kind: str, index: int) -> Callable:
    """`original` with the gradient of input `index` mutated."""

    def backward_graph(ctx: object, grad_out: Tensor) -> tuple:
        grads = original(ctx, grad_out)
        grads = list(grads) if isinstance(grads, tuple) else [grads]
        if grads[index] is not None:
            grads[index] = MUTANTS[kind](grads[index])
        return tuple(grads)

    return backward_graph


def _mutants() -> list:
    params = []
    for case in REGISTRY:
        for index in range(len(case.example().tensors)):
            for kind in MUTANTS:
                label = f"{case.op.__name__}-{kind}-input{index}"
                params.append(pytest.param(case, kind, index, id=label))
    return params


@pytest.mark.parametrize("case, kind, index", _mutants())
def test_mutated_second_order_rule_is_caught_by_gradgradcheck(
    case: OpCase, kind: str, index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = case.example()
    fn = case.function(example.params)
    assert gradgradcheck(fn, example.tensors), f"{case.op.__name__}: fails even unmutated"
    mutated = _mutated_rule(case.op.backward_graph, kind, index)
    monkeypatch.setattr(case.op, "backward_graph", staticmethod(mutated))
    with pytest.raises(GradcheckError):
        gradgradcheck(fn, case.example().tensors)
