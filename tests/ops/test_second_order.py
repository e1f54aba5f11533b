"""Second derivatives of every registered op: each has a `backward_graph` rule, and
`gradgradcheck` (float64, random cotangents) passes on its fixed example and on hypothesis
draws from its table's strategy (a few per op: each draw costs two create_graph backwards per
input element); its create_graph gradients equal the first-order ones; and its third
derivatives pass too."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_attn import GradcheckWarning, Tensor, cat, enable_grad, gradgradcheck, no_grad
from tinygrad_attn.autograd import grad, has_second_order_rule

from .registry import REGISTRY, OpCase

IDS = [c.op.__name__ for c in REGISTRY]
# A third of the profile's examples (default 15 -> 5, ci 40 -> 13): the fixed examples and
# tests/test_mutations_second_order.py carry the sensitivity; these add shapes and values.
FEW = max(2, settings().max_examples // 3)


@pytest.mark.parametrize("case", REGISTRY, ids=IDS)
def test_every_registered_op_has_a_second_order_rule(case: OpCase) -> None:
    assert has_second_order_rule(case.op), (
        f"{case.op.__name__} has no backward_graph (or one defined above an overriding "
        "backward): create_graph=True through it would raise"
    )


@pytest.mark.parametrize("case", REGISTRY, ids=IDS)
def test_registry_example_passes_gradgradcheck(case: OpCase) -> None:
    example = case.example()
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradcheckWarning)  # the example must be sensitive
        assert gradgradcheck(case.function(example.params), example.tensors)


@pytest.mark.parametrize("case", REGISTRY, ids=IDS)
@settings(max_examples=FEW)
@given(data=st.data())
def test_gradgradcheck_on_drawn_cases(case: OpCase, data: st.DataObject) -> None:
    drawn = data.draw(case.cases)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckWarning)  # e.g. relu of negatives only
        gradgradcheck(case.function(drawn.params), drawn.tensors)


@pytest.mark.parametrize("case", REGISTRY, ids=IDS)
def test_create_graph_gradients_equal_first_order_ones_with_one_input_requiring_grad(
    case: OpCase,
) -> None:
    """The other inputs constant: a rule must not use an input's stand-in value (a norm's
    x - mean) where the input itself is a constant."""
    rng = np.random.default_rng(0)
    for index in range(len(case.example().tensors)):
        example = case.example()
        tensors = [
            t if i == index else Tensor(t.data.copy()) for i, t in enumerate(example.tensors)
        ]
        out = case.function(example.params)(*tensors)
        if not out.requires_grad:
            continue
        cotangent = Tensor(rng.standard_normal(out.shape))
        (first,) = grad(out, tensors[index], cotangent, retain_graph=True)
        (second,) = grad(out, tensors[index], cotangent, create_graph=True)
        np.testing.assert_allclose(second.data, first.data, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", REGISTRY, ids=IDS)
def test_third_derivatives_pass_gradgradcheck_of_the_gradient(case: OpCase) -> None:
    """Any number of times: gradgradcheck of x -> grad(sum(tanh(op(x)) * R), x) checks the
    third derivatives (tanh makes them non-zero for a linear op too), so every rule's own
    ops must have rules that are right."""
    example = case.example()
    fn = case.function(example.params)
    with no_grad():
        shape = fn(*example.tensors).shape
    weights = Tensor(np.random.default_rng(1).standard_normal(shape))

    def gradient(*tensors: Tensor) -> Tensor:
        wanted = [t for t in tensors if t.requires_grad]
        with enable_grad():
            loss = (fn(*tensors).tanh() * weights).sum()
            grads = grad(loss, wanted, create_graph=True, allow_unused=True)
            flat = [
                (Tensor(np.zeros(t.shape)) if g is None else g).reshape(-1)
                for g, t in zip(grads, wanted)
            ]
        return flat[0] if len(flat) == 1 else cat(flat)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckWarning)
        assert gradgradcheck(gradient, example.tensors)
