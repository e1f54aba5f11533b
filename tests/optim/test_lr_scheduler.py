"""Learning-rate schedules: closed forms, PyTorch agreement, the Noam peak, state dicts."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import optim
from tinygrad_attn.optim import lr_scheduler


def make_opt(lr=0.1, second_lr=None):
    """SGD over one or two single-parameter groups."""
    groups = [{"params": [tg.Tensor(np.zeros(2), requires_grad=True)]}]
    if second_lr is not None:
        groups.append({"params": [tg.Tensor(np.zeros(2), requires_grad=True)], "lr": second_lr})
    return optim.SGD(groups, lr=lr)


def lrs_used(opt, scheduler, n_updates):
    """The lr of each group at each of the first n optimizer updates (steps 1..n)."""
    used = []
    for _ in range(n_updates):
        used.append([g["lr"] for g in opt.param_groups])  # what opt.step() would use now
        opt.step()
        scheduler.step()
    return np.array(used)


def torch_lrs(torch_scheduler_cls, lrs, n_updates, **kwargs):
    torch = pytest.importorskip("torch")
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    opt = torch.optim.SGD(groups, lr=lrs[0])
    scheduler = torch_scheduler_cls(opt, **kwargs)
    used = []
    for _ in range(n_updates):
        used.append([g["lr"] for g in opt.param_groups])
        opt.step()
        scheduler.step()
    return np.array(used)


# ----- LambdaLR ----------------------------------------------------------------------------
def test_lambda_lr_scales_each_group_base_lr_by_its_lambda():
    opt = make_opt(0.1, second_lr=0.4)
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 0.5**e, lambda e: 1 / (e + 1)])
    used = lrs_used(opt, sched, 6)
    e = np.arange(6)
    np.testing.assert_allclose(used, np.stack([0.1 * 0.5**e, 0.4 / (e + 1)], 1), rtol=1e-15)
    assert sched.base_lrs == [0.1, 0.4] and sched.get_last_lr() == [
        g["lr"] for g in opt.param_groups
    ]


def test_lambda_lr_matches_torch():
    torch = pytest.importorskip("torch")
    fn = lambda e: 0.9**e + 0.01 * e  # noqa: E731
    opt = make_opt(0.1, second_lr=0.3)
    ours = lrs_used(opt, lr_scheduler.LambdaLR(opt, fn), 12)
    theirs = torch_lrs(torch.optim.lr_scheduler.LambdaLR, [0.1, 0.3], 12, lr_lambda=fn)
    np.testing.assert_allclose(ours, theirs, rtol=1e-15)


def test_lambda_lr_needs_one_lambda_per_group():
    with pytest.raises(ValueError, match="3 lr_lambdas for 2 param groups"):
        lr_scheduler.LambdaLR(make_opt(0.1, second_lr=0.2), [lambda e: 1.0] * 3)


# ----- CosineAnnealingLR -------------------------------------------------------------------
def test_cosine_annealing_follows_the_closed_form_beyond_t_max():
    opt = make_opt(0.1, second_lr=0.5)
    used = lrs_used(opt, lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01), 25)
    e = np.arange(25)[:, None]
    expected = 0.01 + (np.array([0.1, 0.5]) - 0.01) * (1 + np.cos(np.pi * e / 10)) / 2
    np.testing.assert_allclose(used, expected, rtol=1e-14)
    np.testing.assert_allclose(used[10], [0.01, 0.01], rtol=1e-14)  # eta_min at T_max


def test_cosine_annealing_matches_torch():
    torch = pytest.importorskip("torch")
    opt = make_opt(0.1, second_lr=0.5)
    ours = lrs_used(opt, lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=1e-3), 20)
    theirs = torch_lrs(
        torch.optim.lr_scheduler.CosineAnnealingLR, [0.1, 0.5], 20, T_max=7, eta_min=1e-3
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


# ----- WarmupInverseSqrtLR (Noam) ----------------------------------------------------------
def test_noam_follows_its_formula_from_update_one():
    opt = make_opt(0.2)
    used = lrs_used(opt, lr_scheduler.WarmupInverseSqrtLR(opt, warmup_steps=8), 30)[:, 0]
    s = np.arange(1, 31)
    np.testing.assert_allclose(used, 0.2 * np.minimum(s / 8, np.sqrt(8 / s)), rtol=1e-15)


def test_noam_peaks_at_the_optimizer_lr_on_update_warmup_steps():
    opt = make_opt(0.2)
    used = lrs_used(opt, lr_scheduler.WarmupInverseSqrtLR(opt, warmup_steps=10), 40)[:, 0]
    assert used[9] == 0.2 and np.argmax(used) == 9  # update 10 uses exactly the given lr
    assert used[0] == pytest.approx(0.02) and np.all(used > 0)  # no zero-lr first update
    assert np.all(np.diff(used[:10]) > 0) and np.all(np.diff(used[9:]) < 0)
    s = np.arange(10, 41)
    np.testing.assert_allclose(used[9:] * np.sqrt(s), 0.2 * np.sqrt(10), rtol=1e-14)


def test_noam_reproduces_the_paper_with_lr_from_d_model():
    d_model, warmup = 512, 4000
    opt = make_opt((d_model * warmup) ** -0.5)
    sched = lr_scheduler.WarmupInverseSqrtLR(opt, warmup_steps=warmup)
    for s in range(1, 10001):
        if s in (1, 100, 4000, 4001, 10000):
            paper = d_model**-0.5 * min(s**-0.5, s * warmup**-1.5)
            assert sched.get_last_lr()[0] == pytest.approx(paper, rel=1e-12)
        sched.step()


def test_noam_rejects_a_non_positive_warmup():
    with pytest.raises(ValueError, match="warmup_steps must be an int >= 1, got 0"):
        lr_scheduler.WarmupInverseSqrtLR(make_opt(), warmup_steps=0)


# ----- CosineWithWarmupLR ------------------------------------------------------------------
def test_cosine_with_warmup_ramps_peaks_decays_and_stays_at_eta_min():
    opt = make_opt(0.3)
    sched = lr_scheduler.CosineWithWarmupLR(opt, warmup_steps=5, T_max=25, eta_min=0.01)
    used = lrs_used(opt, sched, 40)[:, 0]
    s = np.arange(1, 41)
    progress = np.clip((s - 5) / 20, 0, 1)
    cosine = 0.01 + 0.29 * (1 + np.cos(np.pi * progress)) / 2
    np.testing.assert_allclose(used, np.where(s <= 5, 0.3 * s / 5, cosine), rtol=1e-14)
    assert used[4] == 0.3 and used.max() == 0.3 and used[0] > 0
    assert np.all(used[24:] == 0.01)  # update T_max and every later one


def test_cosine_with_warmup_validates_its_arguments():
    with pytest.raises(ValueError, match="T_max must be an int >= 11, got 10"):
        lr_scheduler.CosineWithWarmupLR(make_opt(), warmup_steps=10, T_max=10)
    with pytest.raises(ValueError, match="warmup_steps must be an int >= 0, got -1"):
        lr_scheduler.CosineWithWarmupLR(make_opt(), warmup_steps=-1, T_max=10)
    with pytest.raises(ValueError, match="T_max must be an int >= 1, got 2.5"):
        lr_scheduler.CosineAnnealingLR(make_opt(), T_max=2.5)
    sched = lr_scheduler.CosineWithWarmupLR(make_opt(), np.int64(2), T_max=np.int64(5))
    assert type(sched.T_max) is int and type(sched.warmup_steps) is int


# ----- the base class ----------------------------------------------------------------------
def test_schedulers_write_python_floats_and_keep_float32_params_float32():
    p = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    sched = lr_scheduler.LambdaLR(opt, lambda e: np.float64(0.5) ** e)
    for _ in range(3):
        p.grad = tg.Tensor(np.ones(3, dtype=np.float32))
        opt.step()
        sched.step()
        assert type(opt.param_groups[0]["lr"]) is float
    assert p.dtype == np.float32


def test_scheduler_records_initial_lr_and_resumes_from_last_epoch():
    opt = make_opt(0.2)
    lr_scheduler.WarmupInverseSqrtLR(opt, warmup_steps=4)
    assert opt.param_groups[0]["initial_lr"] == 0.2 and opt.param_groups[0]["lr"] == 0.05
    resumed = lr_scheduler.WarmupInverseSqrtLR(opt, warmup_steps=4, last_epoch=6)
    assert resumed.last_epoch == 7 and resumed.get_last_lr() == [0.2 * math.sqrt(4 / 8)]
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.CosineAnnealingLR(make_opt(), T_max=3, last_epoch=5)


SCHEDULERS = {
    "LambdaLR": lambda opt: lr_scheduler.LambdaLR(opt, lambda e: 0.95**e),
    "Noam": lambda opt: lr_scheduler.WarmupInverseSqrtLR(opt, warmup_steps=4),
    "Cosine": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=9, eta_min=1e-3),
    "CosineWithWarmup": lambda opt: lr_scheduler.CosineWithWarmupLR(opt, 3, T_max=12),
}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_scheduler_state_dict_resumes_the_same_lr_sequence(name):
    opt = make_opt(0.1, second_lr=0.2)
    sched = SCHEDULERS[name](opt)
    full = lrs_used(opt, sched, 15)
    opt_a = make_opt(0.1, second_lr=0.2)
    sched_a = SCHEDULERS[name](opt_a)
    first = lrs_used(opt_a, sched_a, 6)
    saved_opt, saved_sched = opt_a.state_dict(), sched_a.state_dict()
    opt_b = make_opt(0.7, second_lr=0.9)
    sched_b = SCHEDULERS[name](opt_b)
    opt_b.load_state_dict(saved_opt)
    sched_b.load_state_dict(saved_sched)
    rest = lrs_used(opt_b, sched_b, 9)
    np.testing.assert_array_equal(np.concatenate([first, rest]), full)


def test_scheduler_state_dict_has_no_optimizer_or_functions_and_checks_keys():
    opt = make_opt()
    sched = lr_scheduler.LambdaLR(opt, lambda e: 1.0)
    sd = sched.state_dict()
    assert set(sd) == {"base_lrs", "last_epoch", "_last_lr"}
    with pytest.raises(KeyError, match=r"missing keys \['last_epoch'\], unexpected keys \['x'\]"):
        sched.load_state_dict({"base_lrs": [0.1], "_last_lr": [0.1], "x": 1})


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="expected an Optimizer, got list"):
        lr_scheduler.CosineAnnealingLR([], T_max=3)
    with pytest.raises(TypeError, match="LambdaLR: expected an Optimizer, got list"):
        lr_scheduler.LambdaLR([], [lambda e: 1.0])
