"""Every mistake a user can make gives a clear exception naming the op and the shapes/values."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tests._tiny import tiny_model
from tinygrad_attn import nn

X = tg.Tensor(np.ones((2, 3)), requires_grad=True)
I23 = tg.tensor([[1, 2, 3], [4, 5, 6]])  # int64


def _freed_backward() -> None:
    y = (X * 2.0).sum()
    y.backward()
    y.backward()


ERRORS: list[tuple[str, Callable[[], object], type, str]] = [
    # (what, call, exception, regex the message must match)
    ("shape mismatch", lambda: X + tg.Tensor(np.ones(4)), ValueError, r"Add.*\(2, ?3\).*\(4,\)"),
    ("where shapes", lambda: tg.where(np.ones(4, bool), X, 0.0), ValueError, r"where.*\(4,\)"),
    (
        "non-scalar backward",
        lambda: (X * 2.0).backward(),
        RuntimeError,
        r"backward.*one-element.*\(2, 3\)",
    ),
    (
        "backward gradient shape",
        lambda: (X * 2.0).backward(np.ones(3)),
        ValueError,
        r"\(3,\).*\(2, 3\)",
    ),
    ("freed graph", _freed_backward, RuntimeError, r"Sum.*second time.*retain_graph"),
    ("requires_grad on int", lambda: tg.Tensor([1, 2], requires_grad=True), TypeError, "int64"),
    ("dim out of range", lambda: X.sum(2), IndexError, r"sum: dim 2 is out of range"),
    ("negative dim out of range", lambda: X.softmax(-3), IndexError, r"softmax: dim -3"),
    ("dim not an int", lambda: X.mean("rows"), TypeError, r"mean: dim must be an int.*rows"),
    ("repeated dim", lambda: X.var((1, -1)), ValueError, r"var: dim .* repeats"),
    ("transpose dim", lambda: X.transpose(0, 5), IndexError, r"transpose: dim 5"),
    ("unsqueeze dim", lambda: X.unsqueeze(4), IndexError, r"unsqueeze: dim 4.*-3\.\.2"),
    ("permute", lambda: X.permute(0, 0), ValueError, r"permute: \(0, 0\)"),
    ("float index", lambda: X[1.0], TypeError, r"index: a float \(1\.0\)"),
    ("float index array", lambda: X[np.array([0.5])], TypeError, r"index.*float64"),
    ("index out of range", lambda: X[5], IndexError, r"index.*\(2, 3\)"),
    (
        "matmul inner dims",
        lambda: X @ tg.Tensor(np.ones((4, 5))),
        ValueError,
        r"matmul: \(2, 3\) @ \(4, 5\), inner dims 3 != 4",
    ),
    (
        "matmul batch dims",
        lambda: tg.Tensor(np.ones((2, 2, 3))) @ tg.Tensor(np.ones((3, 3, 2))),
        ValueError,
        r"matmul.*\(2,\).*\(3,\)",
    ),
    ("matmul 0-d", lambda: X @ tg.Tensor(2.0), ValueError, r"matmul.*at least 1 dim"),
    ("reshape", lambda: X.reshape(4, 2), ValueError, r"Reshape.*\(4, ?2\).*\(2, 3\)"),
    ("expand", lambda: X.expand(3, 4), ValueError, r"expand.*\(2, 3\).*\(3, 4\)"),
    ("flatten range", lambda: X.flatten(1, 0), ValueError, r"flatten: start_dim 1.*end_dim 0"),
    ("cat shapes", lambda: tg.cat([X, tg.ones(2, 2)], 0), ValueError, r"cat:.*\(2, 2\)"),
    ("stack shapes", lambda: tg.stack([X, tg.ones(3, 2)]), ValueError, r"stack:.*\(3, 2\)"),
    ("linear", lambda: F.linear(X, tg.ones(4, 4)), ValueError, r"linear.*\(2, 3\).*\(4, 4\)"),
    ("layer_norm", lambda: F.layer_norm(X, 4), ValueError, r"layer_norm.*\(2, 3\).*\(4,\)"),
    (
        "batch_norm stats",
        lambda: F.batch_norm(X, np.zeros(2), np.ones(2)),
        ValueError,
        r"batch_norm: running_mean \(2,\).*3 features",
    ),
    (
        "batch_norm one running stat",
        lambda: F.batch_norm(X, np.zeros(3), None, training=True),
        ValueError,
        r"batch_norm: give both running_mean and running_var",
    ),
    (
        "cross_entropy target shape",
        lambda: F.cross_entropy(X, np.array([0, 1, 2])),
        ValueError,
        r"cross_entropy.*\(2, 3\).*\(3,\)",
    ),
    (
        "cross_entropy target range",
        lambda: F.cross_entropy(X, np.array([0, 3])),
        IndexError,
        r"cross_entropy: target 3.*3 classes",
    ),
    (
        "cross_entropy float target",
        lambda: F.cross_entropy(X, np.array([0.0, 1.0])),
        TypeError,
        r"cross_entropy.*float64",
    ),
    ("embedding range", lambda: F.embedding([0, 7], X), IndexError, r"embedding: index 7.*2"),
    ("dropout p", lambda: F.dropout(X, 1.5), ValueError, r"dropout: p.*1\.5"),
    (
        "sdpa shapes",
        lambda: F.scaled_dot_product_attention(X, tg.ones(4, 2), tg.ones(4, 3)),
        ValueError,
        r"scaled_dot_product_attention.*\(2, 3\).*\(4, 2\)",
    ),
    (
        "sdpa int mask",
        lambda: F.scaled_dot_product_attention(X, X, X, attn_mask=np.eye(2, 2, dtype=np.int64)),
        TypeError,
        r"scaled_dot_product_attention: attn_mask must be bool or float, got int64",
    ),
    (
        "sdpa mask shape",
        lambda: F.scaled_dot_product_attention(X, X, X, attn_mask=np.ones((3, 2), dtype=bool)),
        ValueError,
        r"scaled_dot_product_attention: attn_mask of shape \(3, 2\) does not broadcast.*\(2, 2\)",
    ),
    (
        "MHA int query",
        lambda: nn.MultiheadAttention(2, 1)(I23[:, :2][None], X[None, :, :2], X[None, :, :2]),
        TypeError,
        r"MultiheadAttention: query must be a floating tensor, got dtype int64",
    ),
    (
        "MHA int padding mask",
        lambda: nn.MultiheadAttention(3, 1)(X[None], X[None], X[None], key_padding_mask=[[0, 1]]),
        TypeError,
        r"MultiheadAttention: key_padding_mask must be bool or float, got int64",
    ),
    ("masked_fill mask dtype", lambda: X.masked_fill(np.ones(3), 0.0), TypeError, r"masked_fill"),
    ("bad data", lambda: tg.Tensor("text"), TypeError, r"Tensor: unsupported data"),
    # --- issue 15: bad dtypes refused at the boundary, naming the op and the dtype ---
    ("object array", lambda: tg.Tensor(np.array([object()])), TypeError, r"Tensor:.*object"),
    ("string array", lambda: tg.Tensor(np.array(["a"])), TypeError, r"Tensor:.*<U1"),
    (
        "complex requires_grad",
        lambda: tg.Tensor(np.array([1j]), requires_grad=True),
        TypeError,
        r"requires_grad: only real floating.*complex128",
    ),
    ("layer_norm int", lambda: F.layer_norm(I23, 3), TypeError, r"layer_norm: input.*int64"),
    (
        "layer_norm int weight",
        lambda: F.layer_norm(X, 3, weight=tg.tensor([1, 1, 1])),
        TypeError,
        r"layer_norm: weight.*int64",
    ),
    (
        "cross_entropy int logits",
        lambda: F.cross_entropy(tg.tensor([[1, 2], [3, 4]]), [0, 1]),
        TypeError,
        r"cross_entropy: logits.*int64",
    ),
    ("gelu int", lambda: F.gelu(I23), TypeError, r"gelu: input.*int64"),
    ("softmax int", lambda: F.softmax(I23, -1), TypeError, r"softmax: input.*int64"),
    ("log_softmax bool", lambda: I23.__gt__(1).log_softmax(0), TypeError, r"log_softmax.*bool"),
    ("mean int", lambda: I23.mean(), TypeError, r"mean: input.*int64"),
    ("var int", lambda: I23.var(), TypeError, r"var: input.*int64"),
    ("dropout int", lambda: F.dropout(I23, 0.5), TypeError, r"dropout: input.*int64"),
    (
        "batch_norm int",
        lambda: F.batch_norm(I23, None, None, training=True),
        TypeError,
        r"batch_norm: input.*int64",
    ),
    ("linear int input", lambda: F.linear(I23, X), TypeError, r"linear: input.*int64"),
    ("linear int weight", lambda: F.linear(X, I23), TypeError, r"linear: weight.*int64"),
    (
        "linear int bias",
        lambda: F.linear(X, X, tg.tensor([1, 2])),
        TypeError,
        r"linear: bias.*int64",
    ),
    ("nn.Linear int input", lambda: nn.Linear(3, 2)(I23), TypeError, r"linear: input.*int64"),
    ("matmul int @ float", lambda: I23 @ X.T, TypeError, r"matmul: int64 @ float64"),
    ("matmul float @ int", lambda: X @ I23.T, TypeError, r"matmul: float64 @ int64"),
    (
        "matmul bool @ bool",
        lambda: tg.tensor([True, False]) @ tg.tensor([True, True]),
        TypeError,
        r"matmul: bool @ bool",
    ),
    (
        "max over an empty dim",
        lambda: tg.zeros(0, 3).max(0),
        IndexError,
        r"max: .*empty dim.*\(0, 3\)",
    ),
    ("min of nothing", lambda: tg.zeros(0, 3).min(), IndexError, r"min: .*empty"),
    ("argmax over an empty dim", lambda: tg.zeros(0, 3).argmax(0), IndexError, r"argmax: .*empty"),
    (
        "transformer batch mismatch",
        lambda: tiny_model()(np.ones((2, 3), int), np.ones((3, 4), int)),
        ValueError,
        r"Transformer: src has batch size 2 but tgt_in has 3",
    ),
]


@pytest.mark.parametrize(
    "call, error, pattern", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_error_is_clear_and_names_the_op(call: Callable, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        call()


class _WrongShape(tg.Function):
    @staticmethod
    def forward(ctx: tg.Function, x: np.ndarray) -> np.ndarray:
        return x * 2

    @staticmethod
    def backward(ctx: tg.Function, grad_out: np.ndarray) -> np.ndarray:
        return np.ones(7)


class _TooManyGrads(tg.Function):
    @staticmethod
    def forward(ctx: tg.Function, x: np.ndarray) -> np.ndarray:
        return x * 2

    @staticmethod
    def backward(ctx: tg.Function, grad_out: np.ndarray) -> tuple:
        return grad_out, grad_out


def test_custom_backward_with_a_wrong_gradient_shape_names_the_op_and_shapes() -> None:
    with pytest.raises(ValueError, match=r"_WrongShape.backward.*\(7,\).*\(2, 3\)"):
        _WrongShape.apply(X).backward(np.ones((2, 3)))


def test_custom_backward_with_too_many_gradients_names_the_op() -> None:
    with pytest.raises(RuntimeError, match=r"_TooManyGrads.backward returned 2 gradients for 1"):
        _TooManyGrads.apply(X).backward(np.ones((2, 3)))
