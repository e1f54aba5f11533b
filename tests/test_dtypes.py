"""The dtype rules (docs/dtypes.md) and empty tensors: the right answer where PyTorch gives one.

The refusals (TypeError naming the op and dtype) are rows of tests/test_errors.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)


def test_int_matmul_is_exact_and_stays_int_as_pytorch() -> None:
    a = np.array([[2**40, 3], [-1, 7]])
    b = np.array([[5, -2], [1, 2**20]])
    out = tg.tensor(a) @ tg.tensor(b)
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.data, a @ b)  # float64 would round 5 * 2**40 + ...


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sigmoid"])
def test_transcendental_ops_promote_ints_to_float32_as_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    ints = np.array([1, 2, 7])
    ours = getattr(tg.tensor(ints), name)()
    theirs = getattr(torch.tensor(ints), name)()
    assert ours.dtype == np.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


def test_cross_entropy_of_int_logits_cast_to_float_is_right() -> None:
    """The red team's case: int logits gave 0.5; cast first, the answer is 0.8133."""
    logits = tg.tensor([[1, 2], [3, 4]]).float()
    loss = F.cross_entropy(logits, np.array([0, 1]))
    assert loss.item() == pytest.approx(0.5 * (np.log1p(np.e) + np.log1p(1 / np.e)), rel=1e-6)
    assert loss.item() == pytest.approx(0.8133, abs=1e-4)


EMPTY_REDUCTIONS = [
    ("max", lambda t: t.max(1), lambda t: t.amax(1)),
    ("max keepdim", lambda t: t.max(1, keepdim=True), lambda t: t.amax(1, keepdim=True)),
    ("min", lambda t: t.min(-1), lambda t: t.amin(-1)),
    ("sum over the empty axis", lambda t: t.sum(0), lambda t: t.sum(0)),
    ("mean", lambda t: t.mean(1), lambda t: t.mean(1)),
    ("mean over the empty axis", lambda t: t.mean(0), lambda t: t.mean(0)),
    ("var", lambda t: t.var(1), lambda t: t.var(1)),
    ("argmax", lambda t: t.argmax(1), lambda t: t.argmax(1)),
    ("softmax over the empty axis", lambda t: t.softmax(0), lambda t: t.softmax(0)),
    ("log_softmax", lambda t: t.log_softmax(1), lambda t: t.log_softmax(1)),
]


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch warns about var over 0 values
@pytest.mark.parametrize(
    "ours, theirs", [r[1:] for r in EMPTY_REDUCTIONS], ids=[r[0] for r in EMPTY_REDUCTIONS]
)
def test_reductions_of_an_empty_tensor_match_pytorch(ours, theirs) -> None:
    torch = pytest.importorskip("torch")
    expected = theirs(torch.zeros(0, 3, dtype=torch.float64)).numpy()
    result = ours(tg.zeros(0, 3, dtype=np.float64))
    assert result.shape == expected.shape
    np.testing.assert_array_equal(result.data, expected)  # nan where PyTorch gives nan


def test_max_over_a_non_empty_axis_of_an_empty_tensor_has_an_empty_gradient() -> None:
    x = tg.zeros(2, 0, requires_grad=True)
    x.max(0).sum().backward()
    assert x.grad.shape == (2, 0)
