"""SGD: PyTorch's update rule, checked step by step against numpy and against torch.optim.SGD."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tests.optim.helpers import random_arrays, run_ours, run_torch
from tinygrad_attn import optim
from tinygrad_attn.testing import arrays, shapes


def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """torch.optim.SGD's documented algorithm, written out in plain numpy."""
    buf = None
    for g in grads:
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


@st.composite
def sgd_configs(draw):
    momentum = draw(st.sampled_from([0.0, 0.5, 0.9]))
    nesterov = momentum > 0 and draw(st.booleans())
    dampening = 0.0 if nesterov else draw(st.sampled_from([0.0, 0.1]))
    return dict(
        lr=draw(st.floats(1e-3, 1.0)),
        momentum=momentum,
        dampening=dampening,
        weight_decay=draw(st.sampled_from([0.0, 1e-2, 0.3])),
        nesterov=nesterov,
    )


@given(data=st.data(), config=sgd_configs())
def test_sgd_follows_the_update_formula_step_by_step(data, config):
    shape = data.draw(shapes(max_dims=3))
    p0 = data.draw(arrays(shape))
    grads = [data.draw(arrays(shape)) for _ in range(4)]
    for n_steps in (1, 4):
        (ours,) = run_ours(lambda ps: optim.SGD(ps, **config), [p0], [[g] for g in grads[:n_steps]])
        expected = sgd_reference(p0, grads[:n_steps], **config)
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12, err_msg=str(config))


def test_sgd_first_momentum_step_uses_the_gradient_undampened():
    p = tg.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    p.grad = tg.Tensor(np.array([0.5, 4.0]))
    opt.step()
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], [0.5, 4.0])  # buf = grad
    np.testing.assert_allclose(p.data, [1.0 - 0.05, -2.0 - 0.4], rtol=1e-15)
    opt.step()  # then buf = 0.9 * buf + (1 - 0.5) * grad
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [0.7, 5.6], rtol=1e-15)


TORCH_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=1e-2),
    dict(lr=0.1, momentum=0.8, nesterov=True),
    dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=0.05),
]


@pytest.mark.parametrize("config", TORCH_CONFIGS, ids=str)
def test_sgd_matches_torch_for_five_steps(config):
    torch = pytest.importorskip("torch")
    inits = random_arrays(0, (3, 4), 1) + random_arrays(1, (4,), 1)
    grads = [random_arrays(10 + s, (3, 4), 1) + random_arrays(20 + s, (4,), 1) for s in range(5)]
    ours = run_ours(lambda ps: optim.SGD(ps, **config), inits, grads)
    theirs = run_torch(lambda ps: torch.optim.SGD(ps, **config), inits, grads)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-0.1), "learning rate"),
        (dict(lr=float("nan")), "learning rate"),
        (dict(lr=0.1, momentum=-0.5), "momentum"),
        (dict(lr=0.1, weight_decay=-1e-4), "weight_decay"),
        (dict(lr=0.1, nesterov=True), "Nesterov"),
        (dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    ],
)
def test_sgd_rejects_invalid_hyperparameters(kwargs, match):
    p = tg.Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match=match):
        optim.SGD([p], **kwargs)


def test_sgd_validates_hyperparameters_of_each_group():
    a, b = (tg.Tensor(np.zeros(2), requires_grad=True) for _ in range(2))
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([{"params": [a]}, {"params": [b], "momentum": -1.0}], lr=0.1)
