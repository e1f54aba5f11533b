"""The public strategies in tinygrad_attn.testing keep their promises (shapes, broadcasting,
well-conditioned values built by construction)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import tinygrad_attn as tg
from tinygrad_attn.testing import (
    arrays,
    broadcastable_pair,
    broadcastable_tensors,
    matmul_shapes,
    shapes,
    tensors,
)


@given(shape=shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_shapes_respect_rank_and_side_bounds(shape: tuple) -> None:
    assert 1 <= len(shape) <= 3 and all(2 <= s <= 4 for s in shape)


@given(pair=broadcastable_pair())
def test_broadcastable_pair_broadcasts(pair: tuple) -> None:
    np.broadcast_shapes(*pair)
    assert all(len(s) <= 4 and all(1 <= d <= 5 for d in s) for s in pair)


@given(pair=matmul_shapes())
def test_matmul_shapes_follow_numpy_matmul(pair: tuple) -> None:
    a, b = pair
    assert a[-1] == b[-2 if len(b) > 1 else 0]
    np.matmul(np.zeros(a), np.zeros(b))  # raises if the batch dims do not broadcast


@given(
    x=arrays(shapes(max_side=4), low=-2.0, high=2.0, away_from=[0.0, 1.0], min_gap=0.25),
)
def test_arrays_stay_in_range_and_away_from_the_given_points(x: np.ndarray) -> None:
    assert x.dtype == np.float64
    assert np.all((x >= -2.0) & (x <= 2.0))
    assert np.all(np.abs(x) >= 0.25 - 1e-12) and np.all(np.abs(x - 1.0) >= 0.25 - 1e-12)


@given(x=arrays(shapes(min_dims=1, max_side=3), distinct=True, min_gap=0.1))
def test_distinct_arrays_have_no_near_ties(x: np.ndarray) -> None:
    values = np.sort(x.reshape(-1))
    if values.size > 1:
        gap = min(0.1, 6.0 / (2 * (values.size - 1)))
        assert np.min(np.diff(values)) >= gap - 1e-12


@given(x=arrays((2, 3), low=0.2, high=3.0, distinct=True, away_from=[1.0]))
def test_distinct_and_away_from_combine(x: np.ndarray) -> None:
    assert np.all(x >= 0.2) and np.all(np.abs(x - 1.0) >= 0.1 - 1e-12)
    assert len(set(x.reshape(-1).tolist())) == 6


@given(t=tensors((2, 2), dtype=np.float32), frozen=tensors((3,), requires_grad=False))
def test_tensors_wrap_arrays_with_dtype_and_requires_grad(t: tg.Tensor, frozen: tg.Tensor):
    assert t.dtype == np.float32 and t.requires_grad and t.shape == (2, 2)
    assert not frozen.requires_grad and frozen.dtype == np.float64


@given(pair=broadcastable_tensors(low=0.5, high=1.0))
def test_broadcastable_tensors_multiply(pair: tuple) -> None:
    a, b = pair
    assert (a * b).shape == np.broadcast_shapes(a.shape, b.shape)
    assert np.all(a.data >= 0.5) and np.all(b.data <= 1.0)


def test_arrays_reject_an_empty_range() -> None:
    with pytest.raises(ValueError, match="low < high"):
        arrays((2,), low=1.0, high=1.0)
    with pytest.raises(ValueError, match="away from"):
        arrays((2,), low=-0.1, high=0.1, away_from=[0.0], min_gap=0.5)
