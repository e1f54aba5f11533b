"""LayerNorm and BatchNorm (tinygrad_attn/ops/norm.py): forward, gradient, normalisation
properties, and PyTorch's running-statistics rule."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.ops.norm import BatchNorm, LayerNorm

from . import strategies as cases
from .checks import Row, assert_close, table_tests

EPS = 1e-5


def _affine(y: np.ndarray, affine: tuple, shape: tuple) -> np.ndarray:
    if affine:
        y = y * affine[0].reshape(shape)
    if len(affine) > 1:
        y = y + affine[1].reshape(shape)
    return y


def _layer_norm_ref(x: np.ndarray, *affine: np.ndarray, normalized_shape: tuple) -> np.ndarray:
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return _affine((x - mean) / np.sqrt(var + EPS), affine, normalized_shape)


def _batch_norm_ref(x: np.ndarray, *affine: np.ndarray, **kw: Any) -> np.ndarray:
    axes = (0,) + tuple(range(2, x.ndim))
    feature = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if kw["training"]:
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
    else:
        mean, var = kw["running_mean"].reshape(feature), kw["running_var"].reshape(feature)
    return _affine((x - mean) / np.sqrt(var + EPS), affine, feature)


def _batch_norm(x: tg.Tensor, *affine: tg.Tensor, **kw: Any) -> tg.Tensor:
    return F.batch_norm(x, kw["running_mean"], kw["running_var"], *affine, training=kw["training"])


TABLE = [
    Row(
        "layer_norm",
        lambda x, *affine, normalized_shape: F.layer_norm(x, normalized_shape, *affine),
        _layer_norm_ref,
        cases.layer_norm_case(),
    ),
    Row("batch_norm", _batch_norm, _batch_norm_ref, cases.batch_norm_case()),
]


test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = table_tests(TABLE)


def _assert_standardised(y: np.ndarray, axes: tuple, what: str) -> None:
    mean, var = y.mean(axis=axes), y.var(axis=axes)
    assert_close(mean, np.zeros(mean.shape), f"{what} mean", tol=1e-9)
    assert_close(var, np.ones(var.shape), f"{what} variance", tol=1e-6)


@given(case=cases.layer_norm_case(min_side=2))
def test_layer_norm_output_has_zero_mean_and_unit_variance_per_row(case: cases.Case) -> None:
    x, shape = case.tensors[0], case.params["normalized_shape"]
    y = F.layer_norm(x, shape, eps=1e-12).data  # distinct values: var >> eps
    _assert_standardised(y, tuple(range(x.ndim - len(shape), x.ndim)), "layer_norm")


@given(case=cases.batch_norm_case())
def test_batch_norm_training_output_has_zero_mean_unit_variance_per_feature(case: cases.Case):
    x = case.tensors[0]
    y = F.batch_norm(x, None, None, training=True, eps=1e-12).data
    _assert_standardised(y, (0,) + tuple(range(2, x.ndim)), "batch_norm")


@given(momentum=st.sampled_from([0.1, 0.5, 1.0]), length=st.sampled_from([None, 3]))
def test_batch_norm_running_stats_follow_pytorch_momentum_rule(momentum: float, length: Any):
    rng = np.random.default_rng(1)
    shape = (4, 3) if length is None else (4, 3, length)
    running_mean, running_var = tg.zeros(3, dtype=np.float64), tg.ones(3, dtype=np.float64)
    want_mean, want_var = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rng.normal(loc=step, scale=2.0, size=shape)
        F.batch_norm(tg.Tensor(x), running_mean, running_var, training=True, momentum=momentum)
        axes = (0,) + tuple(range(2, x.ndim))
        n = x.size // 3
        want_mean = (1 - momentum) * want_mean + momentum * x.mean(axis=axes)
        want_var = (1 - momentum) * want_var + momentum * x.var(axis=axes) * n / (n - 1)
    np.testing.assert_allclose(running_mean.data, want_mean, rtol=1e-12)
    np.testing.assert_allclose(running_var.data, want_var, rtol=1e-12)
    assert not running_mean.requires_grad and running_mean.grad_fn is None


def test_batch_norm_eval_uses_running_stats_and_leaves_them_alone() -> None:
    x = tg.Tensor(np.array([[1.0, 2.0], [3.0, 6.0]]), requires_grad=True)
    mean, var = np.array([1.0, -1.0]), np.array([4.0, 0.25])
    y = F.batch_norm(x, mean, var, training=False, eps=0.0)
    np.testing.assert_allclose(y.data, [[0.0, 6.0], [1.0, 14.0]])
    np.testing.assert_array_equal(mean, [1.0, -1.0])
    np.testing.assert_array_equal(var, [4.0, 0.25])


def test_norms_are_one_graph_node_each_with_x_weight_bias_as_inputs() -> None:
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    w, b = tg.ones(3, requires_grad=True), tg.zeros(3, requires_grad=True)
    ln = F.layer_norm(x, 3, w, b).grad_fn
    bn = F.batch_norm(x, None, None, w, b, training=True).grad_fn
    for node, cls in ((ln, LayerNorm), (bn, BatchNorm)):
        assert type(node) is cls
        assert [t is s for t, s in zip(node.inputs, (x, w, b))] == [True] * 3
