"""The rotary position embedding op (ops/position.py, F.rotary_embedding): forward vs explicit 2x2
rotations in numpy, gradients, and the property that makes it relative."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.testing import tensors

from .checks import Row, table_tests
from .strategies import Case


def _rotary(x: tg.Tensor, **params: Any) -> tg.Tensor:
    return F.rotary_embedding(x, **params)


def _rotary_ref(
    x: np.ndarray,
    *,
    head_dim: int,
    offset: int,
    width: int,
    base: float,
    positions: np.ndarray | None = None,
) -> np.ndarray:
    """Each pair (2i, 2i+1) of each head times the 2x2 matrix [[cos, -sin], [sin, cos]] of the
    angle (offset + p_t) / base^(2i / head_dim), p_t = t or positions[t], one pair at a time."""
    out = x.copy()
    for t in range(x.shape[1]):
        p_t = t if positions is None else int(positions[t])
        for start in range(0, width, head_dim):
            for i in range(head_dim // 2):
                angle = (offset + p_t) / base ** (2 * i / head_dim)
                rotation = np.array(
                    [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
                )
                pair = slice(start + 2 * i, start + 2 * i + 2)
                out[:, t, pair] = x[:, t, pair] @ rotation.T
    return out


@st.composite
def rotary_case(draw: Any) -> Case:
    """x (B, T, slots * heads * D), rotating the first 1..slots slots (q, or q and k)."""
    head_dim, heads, slots = draw(st.sampled_from([2, 4])), draw(st.integers(1, 2)), 3
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), slots * heads * head_dim)
    params = {
        "head_dim": head_dim,
        "offset": draw(st.integers(0, 6)),
        "width": draw(st.integers(1, slots)) * heads * head_dim,
        "base": draw(st.sampled_from([10000.0, 10.0])),
    }
    if draw(st.booleans()):  # rows at given positions (any non-negative ints, sorted or not)
        params["positions"] = np.array(
            draw(st.lists(st.integers(0, 40), min_size=shape[1], max_size=shape[1]))
        )
    return Case((draw(tensors(shape)),), params)


TABLE = [Row("rotary", _rotary, _rotary_ref, rotary_case())]

test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = table_tests(TABLE)


@given(shift=st.integers(1, 50), seed=st.integers(0, 2**31 - 1))
def test_rotated_scores_depend_only_on_the_distance(shift: int, seed: int) -> None:
    """q_i · k_j after rotation is the same when both positions move by `shift`."""
    rng = np.random.default_rng(seed)
    q, k = (tg.Tensor(rng.standard_normal((2, 5, 8))) for _ in "qk")
    scores = [
        F.rotary_embedding(q, 4, offset).data @ F.rotary_embedding(k, 4, offset).data.swapaxes(1, 2)
        for offset in (0, shift)
    ]
    np.testing.assert_allclose(scores[1], scores[0], atol=1e-10)
    unrotated = q.data @ k.data.swapaxes(1, 2)
    assert np.abs(scores[0] - unrotated).max() > 1e-3  # the rotation is not the identity


def test_rotation_keeps_norms_and_leaves_the_value_slot_alone() -> None:
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 6, 12)))
    out = F.rotary_embedding(x, 2, offset=3, width=8).data
    np.testing.assert_array_equal(out[..., 8:], x.data[..., 8:])
    pairs = lambda a: np.linalg.norm(a[..., :8].reshape(2, 6, 4, 2), axis=-1)  # noqa: E731
    np.testing.assert_allclose(pairs(out), pairs(x.data), rtol=1e-12)


def test_bad_widths_and_offsets_are_named() -> None:
    x = tg.Tensor(np.zeros((1, 2, 6)))
    with pytest.raises(ValueError, match="rotary_embedding: x must be"):
        F.rotary_embedding(x, 3)
    with pytest.raises(ValueError, match="width 8"):
        F.rotary_embedding(x, 2, width=4 * 2)
    with pytest.raises(ValueError, match="offset must be >= 0"):
        F.rotary_embedding(x, 2, offset=-1)
    with pytest.raises(TypeError, match="rotary_embedding"):
        F.rotary_embedding(tg.Tensor(np.zeros((1, 2, 6), dtype=np.int64)), 2)
    for bad in (np.arange(3), np.array([0.0, 1.0]), np.array([-1, 0])):
        with pytest.raises(ValueError, match="rotary_embedding: positions must be 2 non-negative"):
            F.rotary_embedding(x, 2, positions=bad)


def test_positions_arange_is_the_default_and_a_shift_is_an_offset() -> None:
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 5, 8)))
    default = F.rotary_embedding(x, 4).data
    assert np.array_equal(F.rotary_embedding(x, 4, positions=np.arange(5)).data, default)
    shifted = F.rotary_embedding(x, 4, positions=np.arange(5) + 3).data
    assert np.array_equal(shifted, F.rotary_embedding(x, 4, offset=3).data)
