"""The one registry of ops: for every `Function` in tinygrad_attn, the table row that tests it and
a fixed, well-conditioned example on which its gradient check must be able to fail.

A row's `function(params)` builds the gradcheck-able function and `cases` is its strategy (both
come from the per-kind tables in tests/ops/test_<kind>.py). tests/ops/test_registry.py fails when
an op is missing here; tests/test_mutations.py breaks each op's backward and expects the check
on `example()` to notice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis.strategies import SearchStrategy

from tinygrad_attn import Function, Tensor, gradcheck
from tinygrad_attn.autograd import SavedValue
from tinygrad_attn.learn.attention_op import CausalAttention
from tinygrad_attn.ops import (
    activations,
    arithmetic,
    attention,
    attention_fast,
    matmul,
    movement,
    norm,
    position,
    reduce,
    selection,
    softmax,
    unary,
)
from tinygrad_attn.ops import nn as nn_ops

from . import (
    test_attention,
    test_attention_plain,
    test_elementwise,
    test_matmul,
    test_movement,
    test_nn,
    test_norm,
    test_position,
    test_reduce,
    test_softmax,
)
from .checks import Row
from .strategies import Case


@dataclass(frozen=True)
class OpCase:
    """A registry row: the Function it covers, its table row, and a fixed example."""

    op: type[Function]
    row: Row
    example: Callable[[], Case]  # a fresh Case per call (batch norm updates arrays in place)

    def function(self, params: dict) -> Callable[..., Tensor]:
        """The gradcheck-able function of the case's tensors."""
        return lambda *tensors: self.row.fn(*tensors, **params)

    @property
    def cases(self) -> SearchStrategy[Case]:
        return self.row.cases

    def gradcheck(self, case: Case | None = None) -> bool:
        case = self.example() if case is None else case
        return gradcheck(self.function(case.params), case.tensors)


def _rows(module: object) -> dict[str, Row]:
    return {row.name: row for row in module.TABLE}


def _t(*shape: int, seed: int = 0, kind: str = "any") -> Tensor:
    """A float64 tensor requiring grad: "any" in [-2, 2], "positive" in [0.5, 2], "nonzero"
    with |x| in [0.5, 2], "distinct" a shuffled grid (no ties)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if kind == "distinct":
        data = rng.permutation(np.linspace(-2.0, 2.0, size))
    elif kind == "any":
        data = rng.uniform(-2.0, 2.0, size)
    else:
        data = rng.uniform(0.5, 2.0, size)
        if kind == "nonzero":
            data *= rng.choice([-1.0, 1.0], size)
    return Tensor(data.reshape(shape), requires_grad=True)


def _case(*tensors: Tensor, **params: object) -> Callable[[], Case]:
    """An example factory: fresh copies of the tensors and params at each call."""

    def make() -> Case:
        copies = tuple(Tensor(t.data.copy(), requires_grad=True) for t in tensors)
        fresh = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in params.items()}
        return Case(copies, fresh)

    return make


E, R, M = _rows(test_elementwise), _rows(test_reduce), _rows(test_movement)
N, NORM = _rows(test_nn), _rows(test_norm)
A = _rows(test_attention)
MASK = np.random.default_rng(5).random((3, 4)) > 0.5
# Attention: 2 heads, 3 queries, 4 keys; key 3 of batch row 1 padded, causal from key 1 on.
PADDING = np.where(np.array([[False] * 4, [False, False, False, True]]), -np.inf, 0.0)
ATTENTION = dict(num_heads=2, packed=False, mask=PADDING[:, None, None, :], causal_offset=1)

REGISTRY: list[OpCase] = [
    OpCase(arithmetic.Add, E["add"], _case(_t(3, 4), _t(4, seed=1))),
    OpCase(arithmetic.Sub, E["sub"], _case(_t(3, 4), _t(3, 1, seed=1))),
    OpCase(arithmetic.Mul, E["mul"], _case(_t(3, 4), _t(3, 1, seed=1))),
    OpCase(arithmetic.Div, E["div"], _case(_t(3, 4), _t(4, seed=1, kind="nonzero"))),
    OpCase(
        arithmetic.Pow, E["pow_tensor_exponent"], _case(_t(3, 3, kind="positive"), _t(3, 3, seed=1))
    ),
    OpCase(arithmetic.Neg, E["neg"], _case(_t(2, 3))),
    OpCase(unary.Exp, E["exp"], _case(_t(2, 3))),
    OpCase(unary.Log, E["log"], _case(_t(2, 3, kind="positive"))),
    OpCase(unary.Sqrt, E["sqrt"], _case(_t(2, 3, kind="positive"))),
    OpCase(unary.Abs, E["abs"], _case(_t(3, 4, kind="nonzero"))),
    OpCase(unary.Cast, E["cast"], _case(_t(2, 3))),
    OpCase(activations.Tanh, E["tanh"], _case(_t(2, 3))),
    OpCase(activations.Sigmoid, E["sigmoid"], _case(_t(2, 3))),
    OpCase(activations.Relu, E["relu"], _case(_t(3, 4, kind="nonzero"))),
    OpCase(activations.Gelu, E["gelu"], _case(_t(2, 3))),
    OpCase(activations.NormalCdf, E["normal_cdf"], _case(_t(2, 3))),
    OpCase(selection.Clip, E["clip"], _case(_t(3, 4, kind="distinct"), min=-1.1, max=1.1)),
    OpCase(selection.Where, E["where"], _case(_t(3, 4), _t(4, seed=1), cond=MASK)),
    OpCase(selection.MaskedFill, E["masked_fill"], _case(_t(3, 4), mask=MASK, value=0.0)),
    OpCase(SavedValue, E["saved_value"], _case(_t(2, 3))),
    OpCase(reduce.Sum, R["sum"], _case(_t(3, 4), dim=1, keepdim=False)),
    OpCase(reduce.Max, R["max"], _case(_t(3, 4, kind="distinct"), dim=-1, keepdim=False)),
    OpCase(reduce.Min, R["min"], _case(_t(3, 4, kind="distinct"), dim=(0,), keepdim=True)),
    OpCase(reduce.Var, R["var"], _case(_t(3, 4), dim=1, keepdim=False, unbiased=True)),
    OpCase(movement.Reshape, M["reshape"], _case(_t(3, 4), shape=(2, 6))),
    OpCase(movement.Permute, M["permute"], _case(_t(2, 3, 4), dims=(2, 0, 1))),
    OpCase(movement.Expand, M["expand"], _case(_t(3, 1), shape=(2, 3, 4))),
    OpCase(movement.Squeeze, M["squeeze"], _case(_t(3, 1, 4), dim=None)),
    OpCase(movement.Unsqueeze, M["unsqueeze"], _case(_t(3, 4), dim=1)),
    OpCase(
        movement.GetItem,
        M["getitem_int_array"],
        _case(_t(4, 3), index=(np.array([0, 2, 0, 3]),)),
    ),
    OpCase(movement.IndexAdd, M["index_add"], _case(_t(4, 3), index=(np.array([0, 2, 0, 3]),))),
    OpCase(movement.Cat, M["cat"], _case(_t(2, 3), _t(1, 3, seed=1), _t(3, 3, seed=2), dim=0)),
    OpCase(movement.Stack, M["stack"], _case(_t(2, 3), _t(2, 3, seed=1), dim=1)),
    OpCase(
        matmul.MatMul, _rows(test_matmul)["matmul_operator"], _case(_t(2, 3, 3), _t(3, 3, seed=1))
    ),
    OpCase(matmul.Linear, N["linear"], _case(_t(2, 3, 4), _t(5, 4, seed=1), _t(5, seed=2))),
    OpCase(  # the plain op: a bias broadcast over the batch, a bool mask, causal, dropout
        attention.Attention,
        _rows(test_attention_plain)["plain_attention"],
        _case(
            _t(2, 3, 4),
            _t(2, 4, 4, seed=1),
            _t(2, 4, 3, seed=2),
            _t(3, 4, seed=3),
            mask=np.indices((3, 4))[0] - np.indices((3, 4))[1] != 2,  # query 2 may not see key 0
            is_causal=True,
            keep=np.random.default_rng(7).random((2, 3, 4)) > 0.25,
            dropout_p=0.25,
        ),
    ),
    OpCase(
        attention_fast.ScaledDotProductAttention,
        A["attention_heads"],
        _case(  # blocks of 2 query rows (backward recomputes the weights) and dropout
            _t(2, 3, 4),
            _t(2, 4, 4, seed=1),
            _t(2, 4, 4, seed=2),
            _t(3, 4, seed=3),
            block_size=2,
            keep=np.random.default_rng(6).random((2, 2, 3, 4)) > 0.25,
            dropout_p=0.25,
            **ATTENTION,
        ),
    ),
    OpCase(
        attention_fast.AttentionWeights,
        A["attention_weights"],
        _case(_t(2, 3, 4), _t(2, 4, 4, seed=1), _t(2, 1, 3, 4, seed=3), **ATTENTION),
    ),
    OpCase(  # the learn package's attention exercise: causal over 3 queries and 4 keys
        CausalAttention,
        A["learn_causal_attention"],
        _case(
            _t(2, 3, 4),
            _t(2, 4, 4, seed=1),
            _t(2, 4, 3, seed=2),
            mask=np.where(np.indices((3, 4))[1] > np.indices((3, 4))[0], -np.inf, 0.0),
        ),
    ),
    OpCase(  # a packed [q | k | v] of 2 heads of 2: q and k rotated from position 1, v copied
        position.Rotary,
        _rows(test_position)["rotary"],
        _case(_t(2, 3, 12), head_dim=2, offset=1, width=8, base=10.0),
    ),
    OpCase(softmax.Softmax, _rows(test_softmax)["softmax"], _case(_t(3, 4), dim=-1)),
    OpCase(softmax.LogSoftmax, _rows(test_softmax)["log_softmax"], _case(_t(3, 4), dim=1)),
    OpCase(
        norm.LayerNorm,
        NORM["layer_norm"],
        _case(_t(3, 4), _t(4, seed=1), _t(4, seed=2), normalized_shape=(4,)),
    ),
    OpCase(
        norm.BatchNorm,
        NORM["batch_norm"],
        _case(
            _t(4, 3, kind="distinct"),
            _t(3, seed=1),
            _t(3, seed=2),
            running_mean=None,
            running_var=None,
            training=True,
        ),
    ),
    OpCase(
        nn_ops.Embedding, N["embedding"], _case(_t(5, 3), indices=np.array([[0, 2, 2], [4, 1, 0]]))
    ),
    OpCase(
        nn_ops.Dropout,
        N["dropout_fixed_mask"],
        _case(_t(3, 4), mask=np.where(MASK, 2.0, 0.0)),
    ),
    OpCase(
        nn_ops.CrossEntropy,
        N["cross_entropy"],
        _case(
            _t(4, 3),
            target=np.array([0, 2, 1, -100]),
            ignore_index=-100,
            label_smoothing=0.1,
            reduction="mean",
        ),
    ),
]
