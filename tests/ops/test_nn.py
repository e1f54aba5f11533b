"""Embedding, Dropout, CrossEntropy (tinygrad_attn/ops/nn.py) and F.linear: forward vs numpy,
gradient vs gradcheck, and cross-entropy's ignore_index / smoothing / reductions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.ops.nn import Dropout

from . import nn_strategies
from .checks import Row, assert_close, table_tests


def _cross_entropy_ref(logits: np.ndarray, **kw: Any) -> np.ndarray:
    target, s, classes = kw["target"], kw["label_smoothing"], logits.shape[-1]
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    valid = target != kw["ignore_index"]
    picked = np.take_along_axis(log_probs, np.where(valid, target, 0)[..., None], -1)[..., 0]
    loss = -(1 - s) * picked - s * log_probs.sum(axis=-1) / classes
    loss = np.where(valid, loss, 0.0)
    if kw["reduction"] == "none":
        return loss
    if kw["reduction"] == "sum":
        return loss.sum()
    return loss.sum() / max(valid.sum(), 1)  # all ignored: 0, our documented choice


TABLE = [
    Row(
        "embedding",
        lambda w, indices: F.embedding(indices, w),
        lambda w, indices: w[indices],
        nn_strategies.embedding_case(),
    ),
    Row(
        "dropout_fixed_mask",
        lambda x, mask: Dropout.apply(x, mask=mask),
        lambda x, mask: x * mask,
        nn_strategies.dropout_case(),
    ),
    Row("cross_entropy", F.cross_entropy, _cross_entropy_ref, nn_strategies.cross_entropy_case()),
    Row(
        "linear",
        F.linear,
        lambda x, w, b=0.0: x @ w.T + b,
        nn_strategies.linear_case(),
    ),
]


test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = table_tests(TABLE)


def test_embedding_accumulates_repeated_rows_and_skips_padding_idx() -> None:
    w = tg.Tensor(np.zeros((4, 2)), requires_grad=True)
    idx = np.array([[1, 3, 1], [0, 1, 3]])
    y = F.embedding(idx, w, padding_idx=3)
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(w.grad.data, [[1, 1], [3, 3], [0, 0], [0, 0]])


def test_cross_entropy_is_finite_with_finite_gradient_at_1e4_logits() -> None:
    logits = tg.Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]]), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 2]), label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(logits.grad.data))
    np.testing.assert_allclose(loss.item(), 0.5 * (0.9 * 2e4 + 0.1 * 1e4 + 0.1 * 4e4 / 3))


@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_cross_entropy_ignored_targets_give_zero_loss_and_zero_gradient(ignore_index: int):
    rng = np.random.default_rng(0)
    logits = tg.Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    target = np.array([0, ignore_index, 1, ignore_index])
    kw = dict(ignore_index=ignore_index)
    none = F.cross_entropy(logits, target, reduction="none", **kw)
    np.testing.assert_array_equal(none.data[[1, 3]], [0.0, 0.0])
    total = F.cross_entropy(logits, target, reduction="sum", **kw)
    mean = F.cross_entropy(logits, target, **kw)
    assert np.isclose(total.item(), none.data.sum()) and np.isclose(mean.item(), total.item() / 2)
    mean.backward()
    np.testing.assert_array_equal(logits.grad.data[[1, 3]], np.zeros((2, 3)))


def test_cross_entropy_label_smoothing_mixes_in_the_uniform_target() -> None:
    logits = np.array([[2.0, 0.0, -1.0]])
    log_probs = logits - np.log(np.exp(logits).sum())
    got = F.cross_entropy(tg.Tensor(logits), np.array([0]), label_smoothing=0.3).item()
    assert np.isclose(got, -(0.7 * log_probs[0, 0] + 0.3 * log_probs.mean()))


def test_cross_entropy_over_b_t_c_logits_matches_the_flattened_loss() -> None:
    rng = np.random.default_rng(1)
    logits, target = rng.normal(size=(2, 3, 5)), rng.integers(0, 5, size=(2, 3))
    whole = F.cross_entropy(tg.Tensor(logits), target, reduction="none")
    flat = F.cross_entropy(tg.Tensor(logits.reshape(6, 5)), target.reshape(6), reduction="none")
    assert whole.shape == (2, 3)
    assert_close(whole.data.reshape(6), flat.data, "cross_entropy (B, T, C) vs (B*T, C)")


def test_dropout_zeroes_or_scales_by_one_over_keep_probability() -> None:
    tg.manual_seed(0)
    x = tg.Tensor(np.ones((200, 50)), requires_grad=True)
    y = F.dropout(x, p=0.3)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 1 / 0.7)
    assert abs(kept.mean() - 0.7) < 0.02  # 10,000 draws: about 5 standard errors
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad.data, y.data)  # gradient is the same mask


def test_dropout_in_eval_or_with_p_zero_is_the_identity() -> None:
    x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for y in (F.dropout(x, 0.5, training=False), F.dropout(x, 0.0)):
        np.testing.assert_array_equal(y.data, x.data)
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, np.zeros((2, 3)))


def test_dropout_mask_is_reproducible_with_manual_seed() -> None:
    x = tg.Tensor(np.ones(100))
    tg.manual_seed(7)
    first = F.dropout(x, 0.5).data
    tg.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, first)
