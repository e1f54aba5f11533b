"""Checkpoint and resume: save model + optimizer + scheduler to a file mid-training, load them
into fresh objects, continue, and get bit-for-bit the run that was never interrupted."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import nn, optim
from tinygrad_attn.optim import lr_scheduler
from tinygrad_attn.serialization import load, save

SETUPS = {
    "Adam+Noam": (
        lambda ps: optim.Adam(ps, lr=0.01),
        lambda opt: lr_scheduler.WarmupInverseSqrtLR(opt, warmup_steps=3),
    ),
    "AdamW-amsgrad+cosine-warmup": (
        lambda ps: optim.AdamW(ps, lr=0.01, amsgrad=True),
        lambda opt: lr_scheduler.CosineWithWarmupLR(opt, warmup_steps=2, T_max=10),
    ),
    "SGD-nesterov+cosine": (
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=10),
    ),
}


def make_model(seed):
    tg.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def batch(step):
    """The batch of a given step: a resumed run sees the same data as an uninterrupted one."""
    rng = np.random.default_rng(step)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    return tg.Tensor(x), tg.Tensor(np.stack([x.sum(1), x[:, 0] * x[:, 1]], 1))


def train(model, opt, sched, steps):
    losses = []
    for step in steps:
        x, y = batch(step)
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", SETUPS)
def test_resuming_from_a_checkpoint_file_continues_bit_for_bit(name, tmp_path):
    make_opt, make_sched = SETUPS[name]
    model = make_model(0)
    opt = make_opt(model.parameters())
    sched = make_sched(opt)
    losses = train(model, opt, sched, range(10))

    model_a = make_model(0)
    opt_a = make_opt(model_a.parameters())
    sched_a = make_sched(opt_a)
    first = train(model_a, opt_a, sched_a, range(4))
    checkpoint = {
        "model": model_a.state_dict(),
        "optim": opt_a.state_dict(),
        "sched": sched_a.state_dict(),
        "step": 4,
    }
    save(checkpoint, tmp_path / "ckpt.npz")
    del model_a, opt_a, sched_a

    restored = load(tmp_path / "ckpt.npz")
    model_b = make_model(1)  # different initial weights, overwritten by the load
    opt_b = make_opt(model_b.parameters())
    sched_b = make_sched(opt_b)
    model_b.load_state_dict(restored["model"])
    opt_b.load_state_dict(restored["optim"])
    sched_b.load_state_dict(restored["sched"])
    rest = train(model_b, opt_b, sched_b, range(restored["step"], 10))

    assert first + rest == losses  # Python floats: exact equality
    for (key, a), b in zip(model.state_dict().items(), model_b.state_dict().values()):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b, err_msg=key)
    assert opt_b.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


@pytest.mark.parametrize("name", SETUPS)
def test_optimizer_state_dict_survives_a_file_round_trip_exactly(name, tmp_path):
    make_opt, make_sched = SETUPS[name]
    model = make_model(0)
    opt = make_opt(model.parameters())
    train(model, opt, make_sched(opt), range(3))
    sd = opt.state_dict()
    save({"optim": sd}, tmp_path / "opt.npz")
    loaded = load(tmp_path / "opt.npz")["optim"]
    assert loaded["param_groups"] == sd["param_groups"]  # ints, floats, bools, tuples, lists
    assert loaded["state"].keys() == sd["state"].keys()
    for i, state in sd["state"].items():
        assert loaded["state"][i].keys() == state.keys()
        for k, v in state.items():
            assert type(loaded["state"][i][k]) is type(v)
            np.testing.assert_array_equal(loaded["state"][i][k], v)
