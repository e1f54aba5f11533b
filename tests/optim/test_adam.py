"""Adam and AdamW: the paper's update with bias correction, checked against numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tests.optim.helpers import random_arrays, run_ours, run_torch
from tinygrad_attn import optim
from tinygrad_attn.testing import arrays, shapes


def adam_reference(p, grads, lr, betas, eps, weight_decay, amsgrad, decoupled):
    """Algorithm 1 of Kingma & Ba (bias-corrected m_hat, v_hat), plus L2 / decoupled decay."""
    beta1, beta2 = betas
    m, v, v_max = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta1**t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@st.composite
def adam_configs(draw):
    return dict(
        lr=draw(st.floats(1e-4, 0.5)),
        betas=(draw(st.sampled_from([0.0, 0.5, 0.9])), draw(st.sampled_from([0.9, 0.999]))),
        eps=draw(st.sampled_from([1e-8, 1e-3])),
        weight_decay=draw(st.sampled_from([0.0, 1e-2, 0.5])),
        amsgrad=draw(st.booleans()),
    )


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@given(data=st.data(), config=adam_configs())
def test_adam_follows_the_update_formula_step_by_step(cls, data, config):
    shape = data.draw(shapes(max_dims=3))
    p0 = data.draw(arrays(shape))
    grads = [data.draw(arrays(shape)) for _ in range(4)]
    decoupled = cls is optim.AdamW
    for n_steps in (1, 4):
        (ours,) = run_ours(lambda ps: cls(ps, **config), [p0], [[g] for g in grads[:n_steps]])
        expected = adam_reference(p0, grads[:n_steps], decoupled=decoupled, **config)
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12, err_msg=str(config))


def test_adam_first_step_moves_each_coordinate_by_lr_thanks_to_bias_correction():
    p = tg.Tensor(np.array([1.0, 1.0, 1.0]), requires_grad=True)
    opt = optim.Adam([p], lr=0.01)
    g = np.array([1e-3, -5.0, 300.0])
    p.grad = tg.Tensor(g)
    opt.step()  # m_hat = g and v_hat = g**2, so the step is lr * g / (|g| + eps), ~lr * sign(g)
    np.testing.assert_allclose(p.data, 1.0 - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-14)
    np.testing.assert_allclose(p.data, [0.99, 1.01, 0.99], rtol=1e-6)


def test_adamw_decays_weights_without_touching_the_moments():
    p0 = np.array([2.0, -4.0])
    p = tg.Tensor(p0.copy(), requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = tg.Tensor(np.zeros(2))
    opt.step()  # zero gradient: moments stay 0, only p *= 1 - lr * wd
    np.testing.assert_array_equal(p.data, p0 * (1 - 0.1 * 0.5))
    np.testing.assert_array_equal(opt.state[p]["exp_avg"], [0.0, 0.0])


def test_adam_weight_decay_is_an_l2_term_in_the_gradient():
    p = tg.Tensor(np.array([2.0, -4.0]), requires_grad=True)
    opt = optim.Adam([p], lr=0.1, weight_decay=0.5)
    p.grad = tg.Tensor(np.zeros(2))
    opt.step()  # g = wd * p, normalised by Adam: each coordinate moves by lr towards 0
    np.testing.assert_allclose(p.data, [1.9, -3.9], rtol=1e-7)
    np.testing.assert_allclose(opt.state[p]["exp_avg"], [0.1, -0.2], rtol=1e-12)


def test_adam_defaults_are_pytorchs():
    p = tg.Tensor(np.zeros(1), requires_grad=True)
    adam, adamw = optim.Adam([p]).defaults, optim.AdamW([p]).defaults
    for d in (adam, adamw):
        assert (d["lr"], d["betas"], d["eps"], d["amsgrad"]) == (1e-3, (0.9, 0.999), 1e-8, False)
    assert adam["weight_decay"] == 0 and adamw["weight_decay"] == 1e-2


TORCH_CONFIGS = [
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
]


@pytest.mark.parametrize("name, config", TORCH_CONFIGS, ids=str)
def test_adam_matches_torch_for_five_steps_with_two_param_groups(name, config):
    torch = pytest.importorskip("torch")
    inits = random_arrays(0, (3, 4), 1) + random_arrays(1, (4,), 1)
    grads = [random_arrays(10 + s, (3, 4), 1) + random_arrays(20 + s, (4,), 1) for s in range(5)]

    def groups(ps):  # the second group overrides lr and betas
        return [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.2, "betas": (0.5, 0.9)}]

    ours = run_ours(lambda ps: getattr(optim, name)(groups(ps), **config), inits, grads)
    theirs = run_torch(lambda ps: getattr(torch.optim, name)(groups(ps), **config), inits, grads)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-1e-3), "learning rate"),
        (dict(eps=-1e-8), "eps"),
        (dict(weight_decay=-0.1), "weight_decay"),
        (dict(betas=(1.0, 0.999)), "beta1"),
        (dict(betas=(0.9, -0.1)), "beta2"),
        (dict(betas=(0.9, float("nan"))), "beta2"),
        (dict(betas=(0.9,)), "pair"),
    ],
)
def test_adam_rejects_invalid_hyperparameters(cls, kwargs, match):
    p = tg.Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match=match):
        cls([p], **kwargs)


def test_adam_rejects_a_tensor_learning_rate():
    p = tg.Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(TypeError, match="learning rate"):
        optim.Adam([p], lr=tg.Tensor(0.1))
