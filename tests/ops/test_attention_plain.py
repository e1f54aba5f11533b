"""The plain attention op (ops/attention.py): forward vs numpy and gradients (the table row the
registry uses for every generic check), and equal to the fast op (ops/attention_fast.py), whole
and in blocks, to 1e-12 in float64: outputs and every input gradient under a random cotangent,
with broadcast batch dims, size-1 sides, bool and additive masks, fully blocked rows, is_causal
with L != S (both top-left aligned: query i sees keys 0..i) and the same dropout draw."""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn.ops.attention import Attention
from tinygrad_attn.ops.attention_fast import ScaledDotProductAttention
from tinygrad_attn.testing import tensors

from .checks import Row, assert_close, table_tests
from .strategies import Case
from .test_attention import _fused_ref, _grads

SIDE = st.integers(1, 3)


@st.composite
def plain_attention_case(draw: Any) -> Case:
    """q (..., L, D), k (..., S, D), v (..., S, Dv) whose batch dims (rank 0-2, size-1 axes)
    broadcast together, maybe a learned bias; params: a mask (none, bool or float with -inf
    entries, maybe a fully blocked first row), is_causal and maybe a dropout draw."""
    batches = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=2, max_side=2))
    (q_batch, k_batch, v_batch), length, source = batches.input_shapes, draw(SIDE), draw(SIDE)
    dim = draw(SIDE)
    scores = np.broadcast_shapes(q_batch, k_batch) + (length, source)
    shapes = [q_batch + (length, dim), k_batch + (source, dim), v_batch + (source, draw(SIDE))]
    parts = [draw(tensors(shape)) for shape in shapes]
    extra_shapes = st.sampled_from([scores, scores[-2:], (1, source), (length, 1)])
    if draw(st.booleans()):
        parts.append(draw(tensors(draw(extra_shapes))))
    params: dict[str, Any] = {"is_causal": draw(st.booleans())}
    kind = draw(st.sampled_from(["none", "bool", "float"]))
    if kind != "none":
        mask_shape = draw(extra_shapes)
        blocked = draw(hnp.arrays(np.bool_, mask_shape))
        if draw(st.booleans()):
            blocked[..., 0, :] = True  # a query that may see no key
        if kind == "bool":
            params["mask"] = ~blocked  # True = may attend
        else:
            values = draw(hnp.arrays(np.float64, mask_shape, elements=st.floats(-2.0, 2.0)))
            params["mask"] = np.where(blocked, -np.inf, values)
    if draw(st.booleans()):
        params["keep"] = draw(hnp.arrays(np.bool_, scores))
        params["dropout_p"] = draw(st.sampled_from([0.25, 0.5]))
    return Case(tuple(parts), params)


def _plain(*tensors: tg.Tensor, **params: Any) -> tg.Tensor:
    q, k, v, bias = (*tensors, None)[:4]
    return Attention.apply(q, k, v, bias, **params)


def _fast_params(params: dict, block_size: int | None) -> dict:
    """The plain op's params in the fast op's terms: an additive mask, causal offset 0."""
    mask = params.get("mask")
    if mask is not None and mask.dtype == np.bool_:
        mask = np.where(mask, 0.0, -np.inf)
    causal = 0 if params["is_causal"] else None
    fast = dict(num_heads=0, packed=False, mask=mask, causal_offset=causal, block_size=block_size)
    return {**fast, "keep": params.get("keep"), "dropout_p": params.get("dropout_p", 0.0)}


def _fast(*tensors: tg.Tensor, **params: Any) -> tg.Tensor:
    q, k, v, bias = (*tensors, None)[:4]
    return ScaledDotProductAttention.apply(q, k, v, bias, **params)


def _plain_ref(*arrays: np.ndarray, **params: Any) -> np.ndarray:
    """The module docstring's math in numpy (tests/ops/test_attention.py's reference)."""
    return _fused_ref(*arrays, **_fast_params(params, None))


TABLE = [Row("plain_attention", _plain, _plain_ref, plain_attention_case())]

test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = table_tests(TABLE)


def _assert_plain_equals_fast(case: Case, block_size: int | None, seed: int) -> None:
    """Output and input gradients of both ops, one random cotangent, to 1e-12."""
    upstream = np.random.default_rng(seed).standard_normal(
        _plain(*case.tensors, **case.params).shape
    )
    plain = _grads(_plain, case.tensors, case.params, upstream)
    fast = _grads(_fast, case.tensors, _fast_params(case.params, block_size), upstream)
    assert len(plain) == len(fast) == 1 + len(case.tensors)
    for name, a, b in zip(["out", "q", "k", "v", "bias"], plain, fast):
        assert_close(a, b, f"plain vs fast (block_size={block_size}): {name}", tol=1e-12)


@given(data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_plain_op_equals_the_fast_op_whole_and_in_blocks(data: Any, seed: int) -> None:
    case = data.draw(plain_attention_case())
    length = case.tensors[0].shape[-2]
    _assert_plain_equals_fast(case, None, seed)
    if length > 1:  # the blocked path: fewer query rows per block than L
        _assert_plain_equals_fast(case, data.draw(st.integers(1, length - 1)), seed)


def _t(*shape: int, seed: int) -> tg.Tensor:
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


ROW_BLOCKED = np.array([[True] * 5, [False] * 5, [True, False, True, False, True]])
CASES = {  # the draws above hold these too, but not on every run
    "causal_fewer_queries": (((2, 3, 4), (2, 5, 4), (2, 5, 2)), dict(is_causal=True)),
    "causal_more_queries": (((4, 4), (2, 2, 4), (2, 1)), dict(is_causal=True)),
    "bool_row_blocked": (((3, 2), (5, 2), (1, 5, 3), (3, 5)), dict(mask=ROW_BLOCKED)),
    "float_row_blocked": (
        ((2, 1, 3, 2), (3, 5, 2), (5, 3)),
        dict(mask=np.where(ROW_BLOCKED, np.linspace(-1, 1, 15).reshape(3, 5), -np.inf)),
    ),
    "dropout_causal": (
        ((2, 3, 1), (2, 5, 1), (2, 5, 1), (1, 5)),
        dict(is_causal=True, keep=np.random.default_rng(1).random((2, 3, 5)) > 0.4, dropout_p=0.4),
    ),
    "size_one": (((1, 1), (1, 1), (1, 1)), dict(is_causal=True)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_plain_op_equals_the_fast_op_on_fixed_cases(name: str) -> None:
    shapes, params = CASES[name]
    case = Case(tuple(_t(*s, seed=i) for i, s in enumerate(shapes)), {"is_causal": False, **params})
    for block_size in (None, 1, 2):
        _assert_plain_equals_fast(case, block_size, seed=3)
    if "row_blocked" in name:  # query 1 sees no key: zero output, zero dq, finite everywhere
        out = _plain(*case.tensors, **case.params)
        out.backward(np.ones(out.shape))
        assert not out.data[..., 1, :].any() and not case.tensors[0].grad.data[..., 1, :].any()
        assert all(np.isfinite(t.grad.data).all() for t in case.tensors)
