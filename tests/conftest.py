"""Hypothesis profiles: `default` (quick), `ci` (thorough, fits the CI budget), `dev` (many
examples), chosen with HYPOTHESIS_PROFILE=ci and defined in `tinygrad_attn.testing.PROFILES`
(the same call works in a user's own conftest.py); the small graph the inspection tests
share; and the tiny Transformer of tests/_tiny.py as the factories `tiny_config(**fields)` and
`tiny_model(seed=0, **fields)`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_attn as tg
from models import Transformer, TransformerConfig
from tests import _tiny
from tinygrad_attn.testing import load_profile

load_profile()


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


@pytest.fixture
def tiny_config() -> Callable[..., TransformerConfig]:
    """`tiny_config(**fields)`: the tests' tiny TransformerConfig with `fields` changed."""
    return _tiny.tiny_config


@pytest.fixture
def tiny_model() -> Callable[..., Transformer]:
    """`tiny_model(seed=0, **fields)`: a tiny Transformer drawn after tg.manual_seed(seed), e.g.
    `tiny_model(pos="rope", norm_first=True)` in a test parametrised over those."""
    return _tiny.tiny_model
