"""Tensor basics: dtype policy, construction, conversions, comparisons, creation functions."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        ([[1, 2], [3, 4.5]], np.float32),
        (3, np.int64),
        ([1, 2, 3], np.int64),
        ([True, False], np.bool_),
        (np.array([1.0, 2.0]), np.float64),
        (np.array([1, 2], dtype=np.int32), np.int32),
        (np.array([1.0], dtype=np.float16), np.float16),
    ],
)
def test_dtype_policy_for_constructed_tensors(data: object, dtype: type) -> None:
    assert tg.Tensor(data).dtype == dtype


def test_explicit_dtype_wins_and_ndarray_data_is_not_copied() -> None:
    assert tg.Tensor([1, 2], dtype=np.float64).dtype == np.float64
    array = np.zeros(3)
    assert tg.Tensor(array).data is array


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_python_numbers_keep_the_tensor_float_dtype(dtype: type) -> None:
    x = tg.Tensor(np.ones(2, dtype=dtype))
    for y in (x + 1.5, 2.0 * x, x / 3, 1 - x, x**2, x * np.float64(2.0)):
        assert y.dtype == dtype


def test_requires_grad_on_an_int_tensor_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="floating"):
        tg.Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        tg.Tensor([1, 2]).requires_grad_()


def test_casting_to_int_ends_the_graph() -> None:
    x = tg.Tensor([1.7, 2.2], requires_grad=True)
    n = x.long()
    assert n.dtype == np.int64 and not n.requires_grad and n.grad_fn is None
    np.testing.assert_array_equal(n.data, [1, 2])


def test_astype_float_double_round_trip_carries_the_gradient() -> None:
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32 and x.double() is x
    (y * 3.0).backward(np.ones(2, dtype=np.float32))
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_comparisons_give_boolean_tensors_without_grad() -> None:
    x = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for out, want in (
        (x < 2, [1, 0, 0]),
        (x <= 2, [1, 1, 0]),
        (x > 2, [0, 0, 1]),
        (x >= 2.0, [0, 1, 1]),
        (x == tg.Tensor([1.0, 0.0, 3.0]), [1, 0, 1]),
        (x != 2, [1, 0, 1]),
    ):
        assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.data, np.array(want, dtype=bool))
    np.testing.assert_array_equal((~(x < 2)).data, [False, True, True])


def test_conversions_to_numpy_and_python() -> None:
    x = tg.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert np.asarray(x) is x.data and x.numpy() is x.data
    assert len(x) == 2 and x.shape == (2, 2) and x.ndim == 2
    assert tg.Tensor(2.5).item() == 2.5 and isinstance(tg.Tensor(3).item(), int)
    with pytest.raises(ValueError, match="item"):
        x.item()
    assert [row.shape for row in x] == [(2,), (2,)]


def test_repr_shows_data_dtype_and_grad_fn() -> None:
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert repr(x) == "Tensor([1., 2.], dtype=float64, requires_grad=True)"
    assert repr(x * 2.0).endswith("grad_fn=<Mul>)")
    assert repr(tg.Tensor([1.0])) == "Tensor([1.])"


def test_T_reverses_all_axes_and_leaves_vectors_alone() -> None:
    x = tg.Tensor(np.zeros((2, 3, 4)))
    assert x.T.shape == (4, 3, 2)
    assert tg.Tensor(np.zeros(3)).T.shape == (3,)


def test_shapes_may_be_separate_ints_or_one_tuple() -> None:
    x = tg.Tensor(np.arange(6.0))
    assert x.reshape(2, 3).shape == x.reshape((2, 3)).shape == x.view([2, 3]).shape == (2, 3)
    assert tg.zeros(2, 3).shape == tg.zeros((2, 3)).shape == (2, 3)
    assert tg.ones((2,)).shape == (2,)
    assert x.reshape(3, 2).permute((1, 0)).shape == (2, 3)


def test_creation_functions_dtypes_and_values() -> None:
    assert tg.zeros(2).dtype == np.float32 and tg.ones(2, dtype=np.float64).dtype == np.float64
    assert tg.full((2, 2), 7).dtype == np.int64 and tg.full((2,), 0.5).dtype == np.float32
    np.testing.assert_array_equal(tg.arange(4).data, [0, 1, 2, 3])
    assert tg.arange(4).dtype == np.int64 and tg.arange(0.0, 1.0, 0.5).dtype == np.float32
    np.testing.assert_array_equal(tg.eye(2).data, np.eye(2))
    like = tg.zeros_like(tg.Tensor(np.ones((2, 3), dtype=np.float64)))
    assert like.shape == (2, 3) and like.dtype == np.float64
    assert tg.ones_like(tg.Tensor([1, 2])).dtype == np.int64
    assert tg.zeros(3, requires_grad=True).requires_grad
    assert tg.tensor([1.0]).dtype == np.float32


def test_randn_and_rand_are_reproducible_with_manual_seed() -> None:
    tg.manual_seed(123)
    a, u = tg.randn(3, 4), tg.rand(100)
    tg.manual_seed(123)
    np.testing.assert_array_equal(tg.randn(3, 4).data, a.data)
    assert a.dtype == np.float32 and np.all((u.data >= 0) & (u.data < 1))


def test_random_get_state_and_set_state_replay_the_same_draws_through_json() -> None:
    tg.manual_seed(3)
    tg.randn(4)
    state = tg.random.get_state()
    first = (tg.randn(5).data, F.dropout(tg.ones(8), 0.5).data)
    tg.randn(7)  # move on, then go back
    tg.random.set_state(json.loads(json.dumps(state)))
    np.testing.assert_array_equal(tg.randn(5).data, first[0])
    np.testing.assert_array_equal(F.dropout(tg.ones(8), 0.5).data, first[1])
    copy = tg.random.get_state()
    copy["state"]["state"] += 1  # a copy: changing it leaves the generator alone
    assert tg.random.get_state()["state"]["state"] == copy["state"]["state"] - 1
    with pytest.raises(ValueError, match="set_state: not a state from tg.random.get_state"):
        tg.random.set_state({"bit_generator": "MT19937"})


def test_ndarray_on_the_left_defers_to_the_tensor_operator() -> None:
    x = tg.Tensor(np.ones(3), requires_grad=True)
    for y in (np.ones(3) + x, np.ones(3) * x, np.ones((2, 3)) @ x.reshape(3, 1)):
        assert isinstance(y, tg.Tensor) and y.grad_fn is not None


def test_assigning_data_replaces_the_array_and_bumps_the_version() -> None:
    x = tg.Tensor(np.zeros(2))
    before = x._version.value
    x.data = np.ones(2)
    x.data = tg.Tensor(np.full(2, 2.0))
    np.testing.assert_array_equal(x.data, [2.0, 2.0])
    assert x._version.value == before + 2


def test_bool_of_one_element_tensor_and_ambiguity_error() -> None:
    assert bool(tg.Tensor([1.0]))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(tg.Tensor([1.0, 2.0]))
