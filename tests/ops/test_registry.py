"""The registry covers every op in the package, and each row really exercises its op."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pytest

import tinygrad_attn
from tinygrad_attn import Function, GradcheckWarning
from tinygrad_attn.autograd import toposort

from .registry import REGISTRY, OpCase


def _package_functions() -> set[type[Function]]:
    """Every public Function subclass defined in any tinygrad_attn module.

    A leading underscore marks an abstract helper base (reduce._Extreme); a module whose
    optional third-party dependency is missing is skipped, since it cannot be used either.
    """
    found = set()
    for info in pkgutil.walk_packages(tinygrad_attn.__path__, "tinygrad_attn."):
        try:
            module = importlib.import_module(info.name)
        except ModuleNotFoundError as err:
            if (err.name or "").startswith("tinygrad_attn"):
                raise
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, Function)
                and cls is not Function
                and cls.__module__ == module.__name__
                and not cls.__name__.startswith("_")
            ):
                found.add(cls)
    return found


def test_every_function_subclass_in_the_package_is_in_the_registry() -> None:
    registered = {case.op for case in REGISTRY}
    missing = sorted(f"{c.__module__}.{c.__name__}" for c in _package_functions() - registered)
    assert not missing, f"ops without a registry row (no op ships untested): {missing}"


def test_registry_has_one_row_per_op() -> None:
    ops = [case.op for case in REGISTRY]
    assert len(ops) == len(set(ops)), "an op is registered twice"


@pytest.mark.parametrize("case", REGISTRY, ids=[c.op.__name__ for c in REGISTRY])
def test_registry_row_records_a_node_of_its_op(case: OpCase) -> None:
    example = case.example()
    out = case.function(example.params)(*example.tensors)
    assert out.grad_fn is not None, f"{case.row.name} built no graph"
    names = [type(node).__name__ for node in toposort(out.grad_fn)]
    assert case.op.__name__ in names, f"{case.row.name} never calls {case.op.__name__}: {names}"


@pytest.mark.parametrize("case", REGISTRY, ids=[c.op.__name__ for c in REGISTRY])
def test_registry_example_passes_gradcheck_and_is_sensitive(case: OpCase) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradcheckWarning)
        assert case.gradcheck()


@pytest.mark.parametrize("case", REGISTRY, ids=[c.op.__name__ for c in REGISTRY])
def test_registry_backward_twice_with_retain_graph_gives_the_same_gradients(case: OpCase) -> None:
    """No backward may change what its forward saved (a second pass would see it)."""
    example = case.example()
    out = case.function(example.params)(*example.tensors)
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(tinygrad_attn.Tensor(upstream), retain_graph=True)
    first = [t.grad.data.copy() for t in example.tensors if t.requires_grad]
    for t in example.tensors:
        t.grad = None
    out.backward(tinygrad_attn.Tensor(upstream))
    second = [t.grad.data for t in example.tensors if t.requires_grad]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=case.row.name)
