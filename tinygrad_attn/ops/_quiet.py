"""`quiet`: run an op's forward or backward without numpy's floating-point warnings."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np


def quiet(fn: Callable) -> Callable:
    """Run fn without numpy's RuntimeWarnings: log(0) = -inf, sqrt(-1) = nan, exp(1000) = inf,
    x / 0 = inf, inf * 0 = nan are the right IEEE values, and PyTorch computes them silently
    (`tg.detect_anomaly()` is where a NaN or Inf is reported)."""

    @functools.wraps(fn)
    def quieted(*args: object, **kwargs: object) -> object:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fn(*args, **kwargs)

    return quieted
