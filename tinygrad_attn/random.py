"""The one random number generator behind init, dropout, randn and rand; seeded by manual_seed.

`get_state()` / `set_state(state)` save and restore it, e.g. so that a resumed training run
draws the same dropout masks as one that never stopped:

    state = tg.random.get_state()        # a plain dict; json.dumps(state) works
    ...
    tg.random.set_state(state)           # the next draws repeat the ones after get_state()
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

_RNG = [np.random.default_rng()]


def manual_seed(seed: int) -> None:
    """Seed every random thing the framework does (init, dropout, randn, rand)."""
    _RNG[0] = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The framework's generator (numpy's PCG64)."""
    return _RNG[0]


def get_state() -> dict[str, Any]:
    """A copy of the generator's state: a dict of Python ints and strings (JSON-serialisable).

    (PyTorch's `torch.random.get_rng_state` returns a byte tensor instead; the idea is the same.)
    """
    return copy.deepcopy(_RNG[0].bit_generator.state)


def set_state(state: dict[str, Any]) -> None:
    """Restore a state from `get_state()`; ValueError if it is not one."""
    generator = np.random.default_rng()
    try:
        generator.bit_generator.state = copy.deepcopy(state)
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"set_state: not a state from tg.random.get_state() ({err})") from None
    _RNG[0] = generator
