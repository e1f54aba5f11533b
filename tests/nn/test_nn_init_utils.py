"""nn.init (bounds, moments, seeding, in-place) and nn.utils (clip_grad_norm_, functional_call)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import nn
from tinygrad_attn.nn import init
from tinygrad_attn.nn.utils import clip_grad_norm_, functional_call


# ----- init --------------------------------------------------------------------------------
def test_init_functions_write_in_place_and_return_the_tensor():
    t = tg.Tensor(np.zeros((3, 4), dtype=np.float32))
    array = t.data
    assert init.ones_(t) is t and t.data is array and np.all(array == 1)
    assert init.zeros_(t) is t and np.all(array == 0)
    init.uniform_(t, -2, -1)
    assert t.data is array and t.dtype == np.float32 and np.all((array >= -2) & (array <= -1))


def test_init_is_reproducible_under_manual_seed():
    def draw():
        t = tg.Tensor(np.zeros((5, 5)))
        return init.normal_(t, 1.0, 2.0).data.copy()

    tg.manual_seed(11)
    first = draw()
    tg.manual_seed(11)
    np.testing.assert_array_equal(draw(), first)
    assert not np.array_equal(draw(), first)


def test_normal_init_has_the_requested_moments():
    tg.manual_seed(0)
    t = init.normal_(tg.Tensor(np.zeros((200, 200))), mean=3.0, std=0.5)
    assert abs(t.data.mean() - 3.0) < 0.01 and abs(t.data.std() - 0.5) < 0.01


def test_xavier_and_kaiming_bounds_follow_the_fans():
    tg.manual_seed(0)
    w = tg.Tensor(np.zeros((300, 200)))  # fan_in 200, fan_out 300
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 500)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    init.kaiming_uniform_(w, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 200)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    init.kaiming_uniform_(w, a=math.sqrt(5), mode="fan_out")
    assert np.abs(w.data).max() <= 1 / math.sqrt(300)


def test_fans_need_two_dims_and_integer_tensors_are_refused():
    assert init.calculate_fan_in_and_fan_out(tg.Tensor(np.zeros((4, 3, 2)))) == (6, 8)
    with pytest.raises(ValueError, match=r">= 2 dims, got shape \(3,\)"):
        init.xavier_uniform_(tg.Tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="floating"):
        init.zeros_(tg.Tensor(np.zeros(3, dtype=np.int64)))


# ----- clip_grad_norm_ ---------------------------------------------------------------------
def _params_with_grads(rng, shapes):
    params = [nn.Parameter(rng.standard_normal(s)) for s in shapes]
    for p in params:
        p.grad = tg.Tensor(rng.standard_normal(p.shape))
    return params


@given(max_norm=st.floats(0.1, 10.0), norm_type=st.sampled_from([1.0, 2.0, 3.0, math.inf]))
def test_clip_grad_norm_returns_the_total_norm_and_scales_to_max_norm(max_norm, norm_type):
    rng = np.random.default_rng(0)
    params = _params_with_grads(rng, [(3, 2), (4,), ()])
    params.append(nn.Parameter(np.zeros(2)))  # no grad: skipped
    flat = np.concatenate([p.grad.data.reshape(-1) for p in params[:3]])
    expected = np.linalg.norm(flat, ord=norm_type)
    before = [p.grad.data.copy() for p in params[:3]]
    total = clip_grad_norm_(params, max_norm, norm_type)
    assert isinstance(total, tg.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), expected, rtol=1e-12)
    scale = max_norm / (expected + 1e-6) if expected > max_norm else 1.0
    for p, g in zip(params, before):
        np.testing.assert_allclose(p.grad.data, g * scale, rtol=1e-12)
    after = np.linalg.norm(np.concatenate([p.grad.data.reshape(-1) for p in params[:3]]), norm_type)
    assert after <= max_norm + 1e-9


def test_clip_grad_norm_scales_the_grad_arrays_in_place_and_accepts_one_tensor():
    p = nn.Parameter(np.zeros(2))
    p.grad = tg.Tensor(np.array([3.0, 4.0]))
    array = p.grad.data
    total = clip_grad_norm_(p, 1.0)
    assert total.item() == 5.0 and p.grad.data is array
    np.testing.assert_allclose(array, [0.6, 0.8], rtol=1e-6)
    assert clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(p, 1.0, norm_type=0)


# ----- functional_call ---------------------------------------------------------------------
def test_functional_call_swaps_tensors_in_and_restores_the_module():
    lin = nn.Linear(2, 2)
    weight = lin.weight
    w = tg.Tensor(np.eye(2, dtype=np.float32), requires_grad=True)
    b = tg.Tensor(np.zeros(2, dtype=np.float32))
    x = tg.randn(3, 2)
    out = functional_call(lin, {"weight": w, "bias": b}, (x,))
    np.testing.assert_array_equal(out.data, x.data)
    assert lin.weight is weight
    (out * tg.randn(3, 2)).sum().backward()
    assert w.grad is not None and weight.grad is None


def test_functional_call_names_unknown_keys_and_wrong_shapes():
    net = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(KeyError, match="0.weights"):
        functional_call(net, {"0.weights": tg.zeros(2, 2)}, tg.zeros(1, 2))
    with pytest.raises(ValueError, match=r"'0.bias' has shape \(2,\), got \(3,\)"):
        functional_call(net, {"0.bias": tg.zeros(3)}, tg.zeros(1, 2))
