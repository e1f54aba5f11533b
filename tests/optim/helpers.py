"""Helpers for the optimizer tests: fixed parameters and gradients, one loop to apply them
(ours, and the same loop for a torch.optim optimizer where torch is installed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_attn as tg
from tinygrad_attn.optim import Optimizer


def random_arrays(seed: int, shape: tuple[int, ...], n: int, dtype: Any = np.float64) -> list:
    """n arrays of `shape` from N(0, 1), reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for _ in range(n)]


def run_ours(
    make_opt: Callable[[list[tg.Tensor]], Optimizer], inits: list, grads: list[list]
) -> list[np.ndarray]:
    """Parameters from `inits` (copied), then one step per entry of `grads` (a list per step)."""
    params = [tg.Tensor(a.copy(), requires_grad=True) for a in inits]
    opt = make_opt(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = tg.Tensor(g.copy())
        opt.step()
    return [p.data for p in params]


def run_torch(make_opt: Callable[[list], Any], inits: list, grads: list[list]) -> list[np.ndarray]:
    """The same loop with torch tensors and a torch.optim optimizer (torch must be installed)."""
    import torch

    params = [torch.tensor(a, requires_grad=True) for a in inits]
    opt = make_opt(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.from_numpy(g.copy())
        opt.step()
    return [p.detach().numpy() for p in params]
