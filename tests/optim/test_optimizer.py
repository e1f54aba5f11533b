"""The Optimizer base: param groups, zero_grad, step semantics, dtypes, state dicts, errors."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
from tests.optim.helpers import random_arrays
from tinygrad_attn import optim

# one configuration of each optimizer that creates every kind of state it has
MAKERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
    "Adam": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.01, amsgrad=True),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.01),
}


def make_params(dtype=np.float64, seed=0):
    return [
        tg.Tensor(a, requires_grad=True)
        for a in random_arrays(seed, (3, 2), 1, dtype) + random_arrays(seed + 1, (2,), 1, dtype)
    ]


def set_grads(params, seed):
    for p, g in zip(params, random_arrays(seed, (3, 2), 1) + random_arrays(seed + 1, (2,), 1)):
        p.grad = tg.Tensor(g.astype(p.dtype))


def take_steps(opt, params, n, first_seed=100):
    for s in range(n):
        set_grads(params, first_seed + 2 * s)
        opt.step()


# ----- param groups ------------------------------------------------------------------------
def test_param_groups_fill_in_defaults_and_keep_overrides():
    a, b = make_params()
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    assert opt.param_groups[1]["params"] == [b]  # a lone Tensor becomes a list


def test_each_group_updates_with_its_own_lr():
    a, b = make_params()
    a0, b0 = a.data.copy(), b.data.copy()
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    set_grads([a, b], 7)
    ga, gb = a.grad.data.copy(), b.grad.data.copy()
    opt.step()
    np.testing.assert_allclose(a.data, a0 - 0.1 * ga, rtol=1e-15)
    np.testing.assert_allclose(b.data, b0 - 0.5 * gb, rtol=1e-15)


def test_add_param_group_appends_a_group_with_defaults():
    a, b = make_params()
    opt = optim.Adam([a], lr=0.01)
    opt.add_param_group({"params": [b], "eps": 1e-3})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["eps"] == 1e-3
    with pytest.raises(ValueError, match="more than one param group"):
        opt.add_param_group({"params": [a]})


@pytest.mark.parametrize(
    "params, error, match",
    [
        ([], ValueError, "empty parameter list"),
        (tg.Tensor(np.zeros(2), requires_grad=True), TypeError, "ordered iterable"),
        ({tg.Tensor(np.zeros(2), requires_grad=True)}, TypeError, "ordered iterable"),
        ([np.zeros(2)], TypeError, "can only optimize Tensors, got ndarray"),
        ([{"lr": 0.1}], TypeError, "'params' key"),
    ],
    ids=["empty", "single-tensor", "set", "array", "group-without-params"],
)
def test_optimizer_rejects_invalid_params(params, error, match):
    with pytest.raises(error, match=match):
        optim.SGD(params, lr=0.1)


def test_optimizer_rejects_non_leaf_and_repeated_parameters():
    a, b = make_params()
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([a * 2], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([a, b, a], lr=0.1)
    with pytest.raises(ValueError, match="more than one param group"):
        optim.SGD([{"params": [a]}, {"params": [b, a]}], lr=0.1)


def test_optimizer_accepts_a_generator_of_parameters():
    params = make_params()
    opt = optim.SGD((p for p in params), lr=0.1)
    assert opt.param_groups[0]["params"] == params


# ----- zero_grad and step ------------------------------------------------------------------
def test_zero_grad_sets_grads_to_none_or_to_zeros():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    set_grads(params, 3)
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) and p.grad.shape == p.shape for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("name", MAKERS)
def test_step_skips_parameters_without_grad(name):
    a, b = make_params()
    b0 = b.data.copy()
    opt = MAKERS[name]([a, b])
    a.grad = tg.Tensor(np.ones(a.shape))
    opt.step()
    np.testing.assert_array_equal(b.data, b0)
    assert b not in opt.state and a in opt.state


@pytest.mark.parametrize("name", MAKERS)
def test_step_updates_in_place_without_recording_a_graph(name):
    params = make_params()
    arrays = [p.data for p in params]
    versions = [p._version.value for p in params]
    opt = MAKERS[name](params)
    set_grads(params, 5)
    grads = [p.grad.data.copy() for p in params]
    opt.step()
    for p, arr, version, g in zip(params, arrays, versions, grads):
        assert p.data is arr and p._version.value > version  # same buffer, version bumped
        assert p.is_leaf and p.grad_fn is None and p.requires_grad
        np.testing.assert_array_equal(p.grad.data, g)  # weight decay never edits the grad


def test_step_rejects_a_grad_whose_shape_differs_from_its_parameter():
    p = tg.Tensor(np.zeros((3, 2)), requires_grad=True)
    p.grad = tg.Tensor(np.ones(2))  # would broadcast silently in numpy
    with pytest.raises(ValueError, match=r"SGD.step: a parameter of shape \(3, 2\) has a grad"):
        optim.SGD([p], lr=0.1).step()


def test_step_after_forward_makes_the_pending_backward_fail_loudly():
    w = tg.Tensor(np.ones((2, 2)), requires_grad=True)
    x = tg.Tensor(np.arange(4.0).reshape(2, 2))
    loss = (x @ w).sum()  # matmul saved w's values
    opt = optim.SGD([w], lr=0.1)
    w.grad = tg.Tensor(np.ones((2, 2)))
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_step_with_closure_reevaluates_the_loss_and_returns_it():
    w = tg.Tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tg.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(w.data, [3.0 - 0.25 * 6.0])


@pytest.mark.parametrize("name", MAKERS)
def test_float32_parameters_and_state_stay_float32(name):
    params = make_params(np.float32)
    opt = MAKERS[name](params)
    opt.param_groups[0]["lr"] = np.float64(0.01)  # NEP 50 would promote float32 * float64
    take_steps(opt, params, 3)
    assert all(p.dtype == np.float32 for p in params)
    for state in opt.state.values():
        for value in state.values():
            assert not isinstance(value, np.ndarray) or value.dtype == np.float32


@pytest.mark.parametrize("name", MAKERS)
def test_zero_dimensional_parameters_are_updated_like_any_other(name):
    scalar = tg.Tensor(np.array(1.5), requires_grad=True)
    vector = tg.Tensor(np.array([1.5]), requires_grad=True)
    opt = MAKERS[name]([scalar, vector])
    for g in (0.3, -1.0, 2.0):
        scalar.grad, vector.grad = tg.Tensor(np.array(g)), tg.Tensor(np.array([g]))
        opt.step()
    assert scalar.shape == () and isinstance(scalar.data, np.ndarray)
    np.testing.assert_array_equal(scalar.data.reshape(1), vector.data)


# ----- state dicts -------------------------------------------------------------------------
@pytest.mark.parametrize("name", MAKERS)
def test_state_dict_uses_parameter_indices_and_holds_no_tensors(name):
    a, b = make_params()
    opt = MAKERS[name]([{"params": [a]}, {"params": [b], "lr": 0.5}])
    take_steps(opt, [a, b], 2)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5 and set(sd["state"]) == {0, 1}
    for state in sd["state"].values():
        assert all(isinstance(v, (np.ndarray, int)) for v in state.values())


@pytest.mark.parametrize("name", MAKERS)
def test_state_dict_is_a_snapshot_that_later_steps_do_not_change(name):
    params = make_params()
    opt = MAKERS[name](params)
    take_steps(opt, params, 2)
    sd = opt.state_dict()
    saved = {i: {k: np.copy(v) for k, v in s.items()} for i, s in sd["state"].items()}
    take_steps(opt, params, 2, first_seed=200)
    for i, state in saved.items():
        for k, v in state.items():
            np.testing.assert_array_equal(sd["state"][i][k], v)


@pytest.mark.parametrize("name", MAKERS)
def test_load_state_dict_resumes_bit_for_bit(name):
    params, fresh = make_params(np.float32), make_params(np.float32, seed=50)
    opt = MAKERS[name](params)
    take_steps(opt, params, 3)
    for p, q in zip(params, fresh):
        q.data = p.data.copy()
    resumed = MAKERS[name](fresh)
    resumed.param_groups[0]["lr"] = 123.0  # overwritten by the load
    resumed.load_state_dict(opt.state_dict())
    assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    take_steps(opt, params, 3, first_seed=300)
    take_steps(resumed, fresh, 3, first_seed=300)
    for p, q in zip(params, fresh):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_copies_buffers_and_casts_them_to_the_parameter_dtype():
    (p,) = make_params(np.float32)[:1]
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    buf = np.ones((3, 2), dtype=np.float64)
    sd = {
        "state": {"0": {"momentum_buffer": buf}},
        "param_groups": [opt.state_dict()["param_groups"][0]],
    }
    opt.load_state_dict(sd)  # string indices, as from a plain .npz, are accepted too
    restored = opt.state[p]["momentum_buffer"]
    assert restored.dtype == np.float32 and not np.shares_memory(restored, buf)


def test_load_state_dict_rejects_mismatched_groups_and_shapes():
    a, b = make_params()
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    take_steps(opt, [a, b], 1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="1 saved param groups, but the optimizer has 2"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="param group 0 has 1 parameters"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"state\[0\]\['momentum_buffer'\] has shape \(3, 2\)"):
        optim.SGD([b, a], lr=0.1, momentum=0.9).load_state_dict(sd)
    with pytest.raises(KeyError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_repr_lists_each_group_hyperparameters():
    opt = optim.SGD(make_params(), lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text
