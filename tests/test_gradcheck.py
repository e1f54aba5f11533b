"""gradcheck and check_op_grad: they pass correct ops, catch wrong backwards with a readable
report, warn when a check cannot fail, and contract non-scalar outputs with a random gradient."""

from __future__ import annotations

import doctest
import re
import warnings

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st

import tinygrad_attn as tg
import tinygrad_attn.testing
from tinygrad_attn.testing import (
    broadcastable_tensors,
    check_op_grad,
    load_profile,
    shapes,
    tensors,
)


class Swish(tg.Function):
    """x * sigmoid(x).  backward: dx = g * (s + x s (1 - s))."""

    @staticmethod
    def forward(ctx: tg.Function, x: np.ndarray) -> np.ndarray:
        s = 1 / (1 + np.exp(-x))
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx: tg.Function, grad_out: np.ndarray) -> np.ndarray:
        x, s = ctx.saved_tensors
        return grad_out * (s + x * s * (1 - s))


class WrongSwish(Swish):
    """Forgets the product rule: dx = g * s."""

    @staticmethod
    def backward(ctx: tg.Function, grad_out: np.ndarray) -> np.ndarray:
        _, s = ctx.saved_tensors
        return grad_out * s


class ZeroGradSoftmax(tg.Function):
    """Softmax whose backward returns 0: right for a sum() cotangent, wrong for any other."""

    @staticmethod
    def forward(ctx: tg.Function, x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    @staticmethod
    def backward(ctx: tg.Function, grad_out: np.ndarray) -> np.ndarray:
        return np.zeros_like(grad_out)


def _x(*shape: int, seed: int = 0) -> tg.Tensor:
    return tg.Tensor(np.random.default_rng(seed).normal(size=shape), requires_grad=True)


def test_gradcheck_passes_a_correct_custom_op_with_non_scalar_output() -> None:
    assert tg.gradcheck(Swish.apply, [_x(3, 4)]) is True


def test_gradcheck_catches_a_wrong_backward_and_reports_input_element_and_values() -> None:
    x = tg.Tensor(np.zeros(3), requires_grad=True)
    y = _x(2, 3, seed=1)
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda a, b: a + WrongSwish.apply(b), [x, y])
    message = str(info.value)
    assert re.search(r"input 1 \(shape \(2, 3\)\) at element \(\d, \d\)", message), message
    assert re.search(r"analytic -?[\d.e+-]+ vs numeric -?[\d.e+-]+", message), message
    assert isinstance(info.value, AssertionError)


def test_gradcheck_uses_a_random_upstream_gradient_not_a_sum() -> None:
    # The zero backward is "right" for a sum(): d(sum softmax)/dx = 0, so a check through
    # out.sum() passes it (and gradcheck warns that such a check cannot fail) ...
    with pytest.warns(tg.GradcheckWarning, match="cannot fail"):
        assert tg.gradcheck(lambda x: ZeroGradSoftmax.apply(x).sum(), [_x(2, 4)], atol=1e-8)
    # ... while a random upstream gradient on the (2, 4) output exposes it.
    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(ZeroGradSoftmax.apply, [_x(2, 4)])


def test_gradcheck_warns_when_both_gradients_are_zero() -> None:
    with pytest.warns(tg.GradcheckWarning, match="cannot fail"):
        tg.gradcheck(lambda x: x.relu(), [tg.Tensor(-np.ones(3), requires_grad=True)])


def test_gradcheck_does_not_warn_for_a_sensitive_function() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", tg.GradcheckWarning)
        tg.gradcheck(lambda x: x.exp(), [_x(3)])


def test_gradcheck_returns_false_instead_of_raising_when_asked() -> None:
    assert tg.gradcheck(WrongSwish.apply, [_x(3)], raise_exception=False) is False


def test_gradcheck_fails_when_the_numeric_gradient_is_nan() -> None:
    class NanBelowHalf(tg.Function):
        @staticmethod
        def forward(ctx: tg.Function, x: np.ndarray) -> np.ndarray:
            return np.where(x > 0.5, x, np.nan)

        @staticmethod
        def backward(ctx: tg.Function, grad_out: np.ndarray) -> np.ndarray:
            return grad_out

    edge = tg.Tensor(np.array([2.0, 0.5 + 1e-7]), requires_grad=True)
    with pytest.raises(tg.GradcheckError, match=r"element \(1,\).*numeric nan"):
        tg.gradcheck(NanBelowHalf.apply, [edge])


def test_gradcheck_works_in_float64_and_leaves_the_inputs_alone() -> None:
    x = tg.Tensor(np.array([0.3, -1.2, 2.0], dtype=np.float32), requires_grad=True)
    before = x.data.copy()
    seen = []

    def fn(t: tg.Tensor) -> tg.Tensor:
        seen.append(t.dtype)
        return (t * t).tanh()

    assert tg.gradcheck(fn, x)
    assert set(seen) == {np.dtype(np.float64)}
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None


def test_gradcheck_checks_only_inputs_that_require_grad() -> None:
    const = tg.Tensor(np.array([1.0, 2.0]))
    assert tg.gradcheck(lambda a, c: a * c, [_x(2), const])
    with pytest.raises(ValueError, match="no input requires grad"):
        tg.gradcheck(lambda c: c * 2.0, [const])


def test_check_op_grad_passes_correct_ops_over_drawn_inputs() -> None:
    check_op_grad(Swish.apply, tensors(shapes(max_side=3)))
    check_op_grad(lambda a, b: a * b + a, broadcastable_tensors(max_side=3))
    check_op_grad(lambda x: x.log(), tensors(shapes(max_side=3), low=0.2, high=3.0))


def test_check_op_grad_fails_for_a_wrong_backward() -> None:
    with pytest.raises(tg.GradcheckError):
        check_op_grad(WrongSwish.apply, tensors(shapes(min_dims=1, max_side=3)))


def test_check_op_grad_wraps_arrays_and_splices_tuples_into_the_arguments() -> None:
    calls = []

    def fn(a: tg.Tensor, b: tg.Tensor, c: tg.Tensor) -> tg.Tensor:
        calls.append((a.requires_grad, b.requires_grad, c.requires_grad))
        return a * b + c

    pair = broadcastable_tensors(max_dims=2, max_side=3)
    ones = st.just(np.ones(()))
    check_op_grad(fn, pair, ones, settings=settings(max_examples=5, database=None))
    assert calls and all(flags == (True, True, True) for flags in calls)


def test_check_op_grad_honours_given_settings() -> None:
    runs = []

    def fn(x: tg.Tensor) -> tg.Tensor:
        runs.append(x.shape)
        return x * 2.0

    check_op_grad(fn, tensors((2,)), settings=settings(max_examples=3, database=None))
    # Each example calls fn once for the analytic pass and twice per element for differences:
    # 5 calls. At least one example ran, and no more than the 3 asked for (every profile in
    # tests/conftest.py asks for more than 3).
    assert len(runs) % 5 == 0 and 1 <= len(runs) // 5 <= 3, len(runs)


def test_testing_module_docstring_examples_run() -> None:
    result = doctest.testmod(tinygrad_attn.testing, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_load_profile_registers_and_loads_the_projects_profiles(monkeypatch) -> None:
    active = settings.default
    try:
        assert load_profile("ci") == "ci"
        assert settings.default.max_examples == 40 and settings.default.derandomize
        monkeypatch.setenv("HYPOTHESIS_PROFILE", "dev")
        assert load_profile() == "dev" and settings.default.max_examples == 300
        monkeypatch.delenv("HYPOTHESIS_PROFILE")
        assert load_profile() == "default" and settings.default.max_examples == 15
        with pytest.raises(ValueError, match="unknown profile 'fast'; one of"):
            load_profile("fast")
    finally:
        settings.register_profile("_active_before_this_test", active)
        settings.load_profile("_active_before_this_test")
