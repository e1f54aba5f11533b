"""Hypothesis profiles: `default` (quick), `ci` (thorough, fits the CI budget), `dev` (many
examples), chosen with HYPOTHESIS_PROFILE=ci; and the small graph the inspection tests share."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tinygrad_attn as tg

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("default", max_examples=15, **_COMMON)
settings.register_profile("ci", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("dev", max_examples=300, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def small_graph() -> tuple:
    """(x const (3, 4), W (4, 5), R (3, 5), y = x @ W, z = tanh(y), loss = sum(z * R)), float64."""
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.normal(size=(3, 4)))
    W = tg.Tensor(rng.normal(size=(4, 5)), requires_grad=True)
    R = tg.Tensor(rng.normal(size=(3, 5)))
    y = x @ W
    z = y.tanh()
    return x, W, R, y, z, (z * R).sum()
