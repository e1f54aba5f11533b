"""Linear, Embedding, LayerNorm, BatchNorm1d, Dropout, ReLU, GELU: forward against plain numpy,
gradients with gradcheck in float64 (random upstream gradient), and each layer's own properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import nn
from tinygrad_attn.nn.utils import functional_call

SEEDS = st.integers(0, 2**31 - 1)
SIDES = st.integers(1, 4)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _randomize(module: nn.Module, seed: int) -> nn.Module:
    """Give every parameter random values (ones/zeros would hide a wrong weight or bias grad)."""
    rng = _rng(seed)
    for p in module.parameters():
        p.data = rng.standard_normal(p.shape).astype(p.dtype)
    return module


def _gradcheck_module(module: nn.Module, x: tg.Tensor, seed: int, **kwargs) -> None:
    """gradcheck of module(x) w.r.t. x and every parameter, all float64."""
    module.double()
    names = [name for name, _ in module.named_parameters()]
    params = [p for _, p in module.named_parameters()]

    def fn(x, *ps):
        return functional_call(module, dict(zip(names, ps)), (x,), kwargs)

    x = tg.Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad)
    assert tg.gradcheck(fn, [x, *params], seed=seed)


# ----- Linear ------------------------------------------------------------------------------
@given(batch=st.lists(SIDES, max_size=2), fan_in=SIDES, fan_out=SIDES, seed=SEEDS)
def test_linear_forward_matches_numpy(batch, fan_in, fan_out, seed):
    lin = _randomize(nn.Linear(fan_in, fan_out), seed)
    x = _rng(seed + 1).standard_normal((*batch, fan_in)).astype(np.float32)
    expected = x @ lin.weight.data.T + lin.bias.data
    np.testing.assert_allclose(lin(tg.Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


@given(fan_in=SIDES, fan_out=SIDES, bias=st.booleans(), seed=SEEDS)
def test_linear_gradients_match_finite_differences(fan_in, fan_out, bias, seed):
    lin = _randomize(nn.Linear(fan_in, fan_out, bias=bias), seed)
    x = tg.Tensor(_rng(seed).standard_normal((2, 3, fan_in)), requires_grad=True)
    _gradcheck_module(lin, x, seed)


def test_linear_init_is_uniform_within_one_over_sqrt_fan_in_and_seeded():
    tg.manual_seed(3)
    lin = nn.Linear(64, 200)
    bound = 1 / math.sqrt(64)
    for p in (lin.weight, lin.bias):
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.9 * bound  # spread over the whole interval
    # The uniform variance bound^2 / 3, within sampling error of 12,800 draws.
    assert abs(lin.weight.data.var() - bound**2 / 3) < 0.05 * bound**2 / 3
    tg.manual_seed(3)
    np.testing.assert_array_equal(nn.Linear(64, 200).weight.data, lin.weight.data)


def test_linear_without_bias_has_no_bias_parameter_and_names_wrong_input():
    lin = nn.Linear(3, 2, bias=False)
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match=r"Linear: input of shape \(2, 4\).*in_features 3"):
        lin(tg.randn(2, 4))


# ----- Embedding ---------------------------------------------------------------------------
@given(shape=st.lists(SIDES, min_size=1, max_size=3), seed=SEEDS)
def test_embedding_forward_picks_rows_as_numpy(shape, seed):
    emb = nn.Embedding(6, 3)
    idx = _rng(seed).integers(0, 6, size=shape)
    np.testing.assert_array_equal(emb(idx).data, emb.weight.data[idx])
    np.testing.assert_array_equal(emb(tg.Tensor(idx)).data, emb.weight.data[idx])


@given(seed=SEEDS)
def test_embedding_gradient_scatter_adds_and_skips_the_padding_row(seed):
    rng = _rng(seed)
    emb = nn.Embedding(5, 3, padding_idx=1)
    idx = rng.integers(0, 5, size=(3, 4))
    idx[0, 0] = 1  # the padding index is always used
    upstream = rng.standard_normal((3, 4, 3)).astype(np.float32)
    (emb(idx) * tg.Tensor(upstream)).sum().backward()
    expected = np.zeros((5, 3), dtype=np.float32)
    np.add.at(expected, idx.reshape(-1), upstream.reshape(-1, 3))
    expected[1] = 0
    np.testing.assert_allclose(emb.weight.grad.data, expected, rtol=1e-6, atol=1e-6)


@given(seed=SEEDS)
def test_embedding_gradient_matches_finite_differences(seed):
    emb = nn.Embedding(4, 3).double()
    idx = _rng(seed).integers(0, 4, size=(2, 3))
    fn = lambda w: functional_call(emb, {"weight": w}, (tg.Tensor(idx),))  # noqa: E731
    assert tg.gradcheck(fn, [emb.weight], seed=seed)


def test_embedding_padding_row_starts_at_zero_and_negative_index_counts_from_the_end():
    emb = nn.Embedding(4, 3, padding_idx=-1)
    assert emb.padding_idx == 3
    assert np.all(emb.weight.data[3] == 0) and np.all(emb.weight.data[:3] != 0)
    with pytest.raises(ValueError, match="padding_idx 4"):
        nn.Embedding(4, 3, padding_idx=4)


def test_embedding_init_is_standard_normal():
    tg.manual_seed(0)
    weight = nn.Embedding(100, 100).weight.data
    assert abs(weight.mean()) < 0.05 and abs(weight.std() - 1) < 0.05


# ----- LayerNorm ---------------------------------------------------------------------------
def _layer_norm_reference(x, num_dims, weight, bias, eps):
    axes = tuple(range(x.ndim - num_dims, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


@given(lead=st.lists(SIDES, max_size=2), norm=st.lists(SIDES, min_size=1, max_size=2), seed=SEEDS)
def test_layer_norm_forward_matches_numpy(lead, norm, seed):
    shape = tuple(norm)
    ln = _randomize(nn.LayerNorm(shape if len(shape) > 1 else shape[0], eps=1e-3), seed)
    x = _rng(seed + 1).standard_normal((*lead, *shape)).astype(np.float32)
    expected = _layer_norm_reference(x, len(shape), ln.weight.data, ln.bias.data, 1e-3)
    np.testing.assert_allclose(ln(tg.Tensor(x)).data, expected, rtol=1e-4, atol=1e-5)


@given(dim=st.integers(2, 5), seed=SEEDS)
def test_layer_norm_gradients_match_finite_differences(dim, seed):
    ln = _randomize(nn.LayerNorm(dim), seed)
    x = tg.Tensor(_rng(seed).standard_normal((2, 3, dim)), requires_grad=True)
    _gradcheck_module(ln, x, seed)


def test_layer_norm_defaults_and_affine_options():
    ln = nn.LayerNorm(4)
    assert np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0) and ln.eps == 1e-5
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    assert [n for n, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]
    x = tg.randn(3, 4)
    plain = nn.LayerNorm(4, elementwise_affine=False)(x).data
    np.testing.assert_allclose(plain.mean(-1), 0, atol=1e-6)
    np.testing.assert_allclose(plain.var(-1), 1, atol=1e-3)


# ----- BatchNorm1d -------------------------------------------------------------------------
def _batch_norm_reference(x, mean, var, weight, bias, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    x_hat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return x_hat * weight.reshape(shape) + bias.reshape(shape)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)], ids=["NC", "NCL"])
def test_batch_norm_train_uses_batch_stats_and_updates_running_stats(shape):
    bn = _randomize(nn.BatchNorm1d(3, momentum=0.2), 0)
    axes = (0, 2) if len(shape) == 3 else (0,)
    running_mean, running_var = np.zeros(3), np.ones(3)
    for step in range(2):
        x = _rng(step).standard_normal(shape).astype(np.float32) * 2 + 1
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        expected = _batch_norm_reference(x, mean, var, bn.weight.data, bn.bias.data, 1e-5)
        np.testing.assert_allclose(bn(tg.Tensor(x)).data, expected, rtol=1e-4, atol=1e-5)
        n = x.size // 3
        running_mean = 0.8 * running_mean + 0.2 * mean
        running_var = 0.8 * running_var + 0.2 * var * n / (n - 1)  # unbiased, as PyTorch
    np.testing.assert_allclose(bn.running_mean.data, running_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.data, running_var, rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked.data) == 2


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)], ids=["NC", "NCL"])
def test_batch_norm_eval_uses_running_stats_and_leaves_them_alone(shape):
    bn = _randomize(nn.BatchNorm1d(3), 1)
    bn.running_mean.data = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    bn.running_var.data = np.array([1.5, 0.25, 4.0], dtype=np.float32)
    bn.eval()
    x = _rng(2).standard_normal(shape).astype(np.float32)
    expected = _batch_norm_reference(
        x, bn.running_mean.data, bn.running_var.data, bn.weight.data, bn.bias.data, 1e-5
    )
    np.testing.assert_allclose(bn(tg.Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bn.running_mean.data, [0.5, -1.0, 2.0])
    assert int(bn.num_batches_tracked.data) == 0


def test_batch_norm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [_rng(i).standard_normal((5, 2)).astype(np.float32) for i in range(3)]
    for x in batches:
        bn(tg.Tensor(x))
    expected = np.mean([x.mean(axis=0) for x in batches], axis=0)
    np.testing.assert_allclose(bn.running_mean.data, expected, rtol=1e-5, atol=1e-6)


def test_batch_norm_reset_running_stats_starts_the_averages_over_like_pytorch():
    bn = nn.BatchNorm1d(2, momentum=None)
    for i in range(3):
        bn(tg.Tensor(_rng(i).standard_normal((5, 2)).astype(np.float32)))
    version = bn.running_mean._version.value
    bn.reset_running_stats()
    np.testing.assert_array_equal(bn.running_mean.data, [0.0, 0.0])
    np.testing.assert_array_equal(bn.running_var.data, [1.0, 1.0])
    assert int(bn.num_batches_tracked.data) == 0
    assert bn.running_mean._version.value > version  # an in-place change, as for the update
    x = _rng(9).standard_normal((5, 2)).astype(np.float32)
    bn(tg.Tensor(x))  # the cumulative average restarts: the first batch's statistics exactly
    np.testing.assert_allclose(bn.running_mean.data, x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.data, x.var(axis=0, ddof=1), rtol=1e-5)
    nn.BatchNorm1d(2, track_running_stats=False).reset_running_stats()  # nothing to reset


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval_and_saves_no_buffers():
    bn = nn.BatchNorm1d(3, track_running_stats=False, affine=False).eval()
    x = _rng(0).standard_normal((5, 3)).astype(np.float32)
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(bn(tg.Tensor(x)).data, expected, rtol=1e-4, atol=1e-5)
    assert list(bn.state_dict()) == []


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@given(length=st.integers(0, 3), seed=SEEDS)
def test_batch_norm_gradients_match_finite_differences(training, length, seed):
    bn = _randomize(nn.BatchNorm1d(3), seed).train(training)
    bn.running_var.data = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    shape = (4, 3, length) if length else (4, 3)
    x = tg.Tensor(_rng(seed).standard_normal(shape), requires_grad=True)
    _gradcheck_module(bn, x, seed)


def test_batch_norm_names_the_expected_input_shape_and_a_refused_batch_is_not_counted():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected input \(N, 3\).*\(2, 4\)"):
        bn(tg.randn(2, 4))
    with pytest.raises(ValueError, match="more than 1 value per feature"):
        bn(tg.randn(1, 3))
    assert int(bn.num_batches_tracked.data) == 0


# ----- Dropout -----------------------------------------------------------------------------
def test_dropout_is_the_identity_in_eval_mode():
    x = tg.randn(4, 5)
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x


@given(p=st.sampled_from([0.1, 0.5, 0.8]), seed=SEEDS)
def test_dropout_train_zeroes_about_p_and_scales_the_rest(p, seed):
    tg.manual_seed(seed)
    x = tg.Tensor(_rng(seed).uniform(1, 2, size=(100, 100)), requires_grad=True)
    y = nn.Dropout(p)(x)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], x.data[kept] / (1 - p), rtol=1e-12)
    assert abs((~kept).mean() - p) < 0.03  # 10,000 draws: sd of the fraction <= 0.005
    upstream = _rng(seed + 1).standard_normal((100, 100))
    (y * tg.Tensor(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad.data, upstream * kept / (1 - p), rtol=1e-12)


def test_dropout_is_reproducible_under_manual_seed_and_validates_p():
    x = tg.ones(50)
    tg.manual_seed(7)
    first = nn.Dropout(0.5)(x).data
    tg.manual_seed(7)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).data, first)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x.data)
    assert np.all(nn.Dropout(1.0)(x).data == 0)
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.5)


# ----- activations -------------------------------------------------------------------------
def test_relu_and_gelu_match_numpy():
    x = np.linspace(-3, 3, 13)
    erf = np.vectorize(math.erf)
    np.testing.assert_array_equal(nn.ReLU()(tg.Tensor(x)).data, np.maximum(x, 0))
    exact = x * 0.5 * (1 + erf(x / math.sqrt(2)))
    # atol 1e-6: the engine's erf is Abramowitz & Stegun 7.1.26 (numpy has none), good to ~1e-7.
    np.testing.assert_allclose(nn.GELU()(tg.Tensor(x)).data, exact, rtol=0, atol=1e-6)
    tanh = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(nn.GELU("tanh")(tg.Tensor(x)).data, tanh, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
