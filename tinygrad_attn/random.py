"""The one random number generator behind init, dropout, randn and rand; seeded by manual_seed."""

from __future__ import annotations

import numpy as np

_RNG = [np.random.default_rng()]


def manual_seed(seed: int) -> None:
    """Seed every random thing the framework does (init, dropout, randn, rand)."""
    _RNG[0] = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The framework's generator (numpy's PCG64)."""
    return _RNG[0]
