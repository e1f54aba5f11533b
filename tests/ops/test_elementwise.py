"""Elementwise ops (ops/arithmetic.py, unary.py, activations.py, selection.py): forward vs numpy,
gradient vs gradcheck."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import strategies as st

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.autograd import SavedValue
from tinygrad_attn.ops import special
from tinygrad_attn.ops.activations import NormalCdf
from tinygrad_attn.ops.unary import Cast

from . import strategies as cases
from .checks import Row, table_tests

_erfc = np.vectorize(math.erfc)
_C = math.sqrt(2 / math.pi)
WIDE = np.dtype(np.longdouble)  # a real cast whose rounding is finer than the FD step
NONZERO = dict(away_from=[0.0], min_gap=0.3)  # divisors, relu and abs stay off 0
POSITIVE = dict(low=0.2, high=3.0)  # log, sqrt and real powers need x > 0

TABLE = [
    Row("add", lambda a, b: a + b, np.add, cases.binary()),
    Row("sub", lambda a, b: a - b, np.subtract, cases.binary()),
    Row("mul", lambda a, b: a * b, np.multiply, cases.binary()),
    Row("div", lambda a, b: a / b, np.divide, cases.binary(b=NONZERO)),
    Row("radd_scalar", lambda x: 1.5 + x, lambda x: 1.5 + x, cases.unary()),
    Row("rsub_scalar", lambda x: 2.0 - x, lambda x: 2.0 - x, cases.unary()),
    Row("rmul_scalar", lambda x: -0.5 * x, lambda x: -0.5 * x, cases.unary()),
    Row("rdiv_scalar", lambda x: 3.0 / x, lambda x: 3.0 / x, cases.unary(**NONZERO)),
    Row(
        "pow_tensor_exponent",
        lambda a, b: a**b,
        lambda a, b: np.power(a, b),
        cases.binary(a=dict(low=0.5, high=2.5), b=dict(low=-2.0, high=2.0)),
    ),
    Row(
        "pow_int_exponent",
        lambda x, p: x**p,
        lambda x, p: x ** float(p),
        cases.with_param(cases.unary(**NONZERO), p=st.sampled_from([2, 3, -1])),
    ),
    Row(
        "pow_real_exponent",
        lambda x, p: x**p,
        lambda x, p: np.power(x, p),
        cases.with_param(cases.unary(**POSITIVE), p=st.sampled_from([0.5, -0.5, 1.5])),
    ),
    Row("rpow_scalar_base", lambda x: 2.0**x, lambda x: np.power(2.0, x), cases.unary()),
    Row("neg", lambda x: -x, np.negative, cases.unary()),
    Row("exp", lambda x: x.exp(), np.exp, cases.unary()),
    Row("log", lambda x: x.log(), np.log, cases.unary(**POSITIVE)),
    Row("sqrt", lambda x: x.sqrt(), np.sqrt, cases.unary(**POSITIVE)),
    Row("tanh", lambda x: x.tanh(), np.tanh, cases.unary()),
    Row("sigmoid", lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), cases.unary()),
    Row("relu", F.relu, lambda x: np.maximum(x, 0), cases.unary(**NONZERO)),
    # Exact: our erf/erfc (ops/special.py) match math.erfc to float64 rounding.
    Row("gelu", F.gelu, lambda x: 0.5 * x * _erfc(-x / math.sqrt(2)), cases.unary(), tol=1e-14),
    Row(
        "gelu_tanh",
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(_C * (x + 0.044715 * x**3))),
        cases.unary(),
    ),
    Row("abs", lambda x: x.abs(), np.abs, cases.unary(**NONZERO)),
    Row("clip", lambda x, min, max: x.clip(min, max), np.clip, cases.clip_bounds()),
    Row(
        "where",
        lambda a, b, cond: tg.where(cond, a, b),
        lambda a, b, cond: np.where(cond, a, b),
        cases.three_way(),
    ),
    Row(
        "masked_fill",
        lambda x, mask, value: x.masked_fill(mask, value),
        lambda x, mask, value: np.where(mask, value, x),
        cases.masked(),
    ),
    Row(
        "cast",
        lambda x: Cast.apply(x, dtype=WIDE),
        lambda x: x.astype(WIDE),
        cases.unary(),
    ),
    # The standard normal CDF that exact GELU's second-order rule records.
    Row("normal_cdf", NormalCdf.apply, lambda x: 0.5 * _erfc(-x / math.sqrt(2)), cases.unary()),
    # The identity node through which a second pass reads a saved input (autograd/graph.py).
    Row("saved_value", SavedValue.apply, lambda x: x, cases.unary()),
]


test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = table_tests(TABLE)


def test_sigmoid_and_tanh_are_finite_with_finite_gradients_at_1e4() -> None:
    x = tg.Tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4]), requires_grad=True)
    y = x.sigmoid() + x.tanh()
    y.backward(np.ones(5))
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(y.data[[0, -1]], [-1.0, 2.0])


def test_relu_and_abs_gradients_at_zero_are_zero_as_pytorch() -> None:
    x = tg.Tensor(np.zeros(3), requires_grad=True)
    (x.relu() + x.abs()).backward(np.ones(3))
    np.testing.assert_array_equal(x.grad.data, np.zeros(3))


def test_clip_passes_gradient_only_inside_the_bounds() -> None:
    x = tg.Tensor(np.array([-2.0, -0.5, 0.5, 2.0]), requires_grad=True)
    x.clip(min=-1.0).backward(np.ones(4))
    np.testing.assert_array_equal(x.grad.data, [0, 1, 1, 1])
    x.grad = None
    x.clip(max=1.0).backward(np.ones(4))
    np.testing.assert_array_equal(x.grad.data, [1, 1, 1, 0])


def test_pow_exponent_gradient_is_nan_for_negative_base_and_zero_at_base_zero() -> None:
    a = tg.Tensor(np.array([-2.0, 0.0, 2.0]))
    b = tg.Tensor(np.array([2.0, 2.0, 2.0]), requires_grad=True)
    (a**b).backward(np.ones(3))
    np.testing.assert_allclose(b.grad.data, [np.nan, 0.0, 4 * math.log(2)])


def test_pow_gradients_and_values_match_pytorch_at_negative_and_zero_bases() -> None:
    torch = pytest.importorskip("torch")
    base, exponent = np.meshgrid([-2.0, -0.5, 0.0, 1.5], [-1.0, 0.0, 0.5, 2.0, 3.0])
    ours_a = tg.Tensor(base.ravel(), requires_grad=True)
    ours_b = tg.Tensor(exponent.ravel(), requires_grad=True)
    theirs_a = torch.tensor(base.ravel(), requires_grad=True)
    theirs_b = torch.tensor(exponent.ravel(), requires_grad=True)
    (ours_a**ours_b).sum().backward()
    (theirs_a**theirs_b).sum().backward()
    for ours, theirs in ((ours_a, theirs_a), (ours_b, theirs_b)):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: tg.tensor([0.0]).log(),
        lambda: tg.tensor([-1.0]).sqrt(),
        lambda: tg.tensor([1000.0]).exp(),
        lambda: tg.tensor([-2.0]) ** 0.5,
        lambda: tg.tensor([1.0]) / 0.0,
        lambda: tg.tensor([np.inf]) * 0.0,
        lambda: tg.tensor([-1e3, 0.0], dtype=np.float64).gelu(),
    ],
    ids=["log(0)", "sqrt(-1)", "exp(1000)", "(-2)**0.5", "1/0", "inf*0", "gelu(-1e3)"],
)
def test_ops_with_inf_or_nan_results_give_them_without_numpy_warnings(call) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = call()
        if out.requires_grad:
            out.sum().backward()
    assert not np.isfinite(out.data).all() or out.data[0] == 0.0


def test_gelu_stays_exact_in_the_far_negative_tail() -> None:
    """At x = -6 Phi(x) ~ 1e-9: 1 + erf(x / sqrt 2) would keep only ~7 digits of it (the old
    approximation was off by 3.6e-3 relative there). rtol 1e-12: at x = -37 the rounding of
    x / sqrt 2 alone moves erfc by ~1e-13 relative (its condition number is ~2 x^2)."""
    x = np.array([-6.0, -10.0, -20.0, -37.0, 3.0, 8.0])
    expected = 0.5 * x * _erfc(-x / math.sqrt(2))
    np.testing.assert_allclose(F.gelu(tg.Tensor(x)).data, expected, rtol=1e-12, atol=0)


def test_erf_and_erfc_match_math_to_float64_precision_over_a_wide_range() -> None:
    x = np.concatenate([np.linspace(-30, 30, 60001), np.geomspace(1e-300, 30, 3000)])
    x = np.concatenate([x, -x, [0.0, 0.46875, -0.46875, 4.0, -4.0]])
    np.testing.assert_allclose(special.erf(x), np.vectorize(math.erf)(x), rtol=0, atol=4e-16)
    # relative to 2e-15 down to erfc ~ 1e-300 (subnormals beyond x ~ 26 keep fewer digits)
    np.testing.assert_allclose(special.erfc(x), _erfc(x), rtol=2e-15, atol=1e-300)
    edges = special.erf(np.array([np.inf, -np.inf, np.nan]))
    np.testing.assert_array_equal(edges, [1.0, -1.0, np.nan])
    assert special.erf(np.ones(2, dtype=np.float32)).dtype == np.float32


def test_where_and_masked_fill_send_no_gradient_to_the_unselected_side() -> None:
    a = tg.Tensor(np.ones(3), requires_grad=True)
    b = tg.Tensor(np.ones(3), requires_grad=True)
    cond = np.array([True, False, True])
    (tg.where(cond, a, b) + a.masked_fill(cond, 0.0)).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(a.grad.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(b.grad.data, [0.0, 2.0, 0.0])
