"""The engine: accumulation, fan-out, retain_graph, no_grad, detach, deep graphs, graph nodes,
hooks and the version counter that catches in-place changes to saved values."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn.autograd import toposort


def _leaf(*values: float) -> tg.Tensor:
    return tg.Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_gradients_accumulate_over_two_backwards_until_reset() -> None:
    x = _leaf(1.0, 2.0)
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [5.0, 5.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_fan_out_accumulates_every_path() -> None:
    x = _leaf(3.0)
    a = x * 2.0  # used twice below: its cotangents must add up, not overwrite
    y = a * a + a + x * x
    y.backward()
    # y = 4x^2 + 2x + x^2 -> dy/dx = 10x + 2
    np.testing.assert_allclose(x.grad.data, [32.0])


def test_same_tensor_twice_in_one_op_gets_both_gradients() -> None:
    x = _leaf(2.0, -1.0)
    (x * x).backward(np.ones(2))
    np.testing.assert_array_equal(x.grad.data, [4.0, -2.0])


def test_only_leaves_get_grad_and_it_has_no_history() -> None:
    x = _leaf(1.0, 2.0)
    h = x.exp()
    h.sum().backward()
    assert h.grad is None and not h.is_leaf and x.is_leaf
    assert isinstance(x.grad, tg.Tensor) and x.grad.grad_fn is None
    assert not x.grad.requires_grad


def test_retain_graph_allows_a_second_backward() -> None:
    x = _leaf(1.0, 2.0)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)


def test_second_backward_through_a_freed_graph_raises_naming_the_op() -> None:
    x = _leaf(1.0, 2.0)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"Sum.*retain_graph=True"):
        y.backward()


def test_freed_intermediate_shared_by_two_outputs_raises_rather_than_misleads() -> None:
    x = _leaf(1.0, 2.0)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2.0).sum().backward()


def test_no_grad_context_records_nothing_and_restores_the_mode() -> None:
    x = _leaf(1.0)
    with tg.no_grad():
        y = x * 2.0
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            z = x * 2.0
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None and tg.is_grad_enabled()


def test_no_grad_decorator_records_nothing_and_restores_after_an_exception() -> None:
    @tg.no_grad()
    def double(t: tg.Tensor) -> tg.Tensor:
        return t * 2.0

    @tg.no_grad()
    def fail() -> None:
        raise KeyError("boom")

    out = double(_leaf(1.0))
    assert out.grad_fn is None and not out.requires_grad
    with pytest.raises(KeyError):
        fail()
    assert tg.is_grad_enabled()


def test_detach_shares_data_but_stops_the_gradient() -> None:
    x = _leaf(1.0, 2.0)
    d = x.detach()
    assert d.grad_fn is None and not d.requires_grad
    assert np.shares_memory(d.data, x.data)
    (x * d).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0])  # d counted as a constant


def test_a_20000_op_chain_backpropagates_without_recursion() -> None:
    x = _leaf(1.0)
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.data, [1.0001**20_000], rtol=1e-9)
    y = x
    for _ in range(20_000):
        y = y + 1.0
    del y  # dropping a deep graph must not blow the stack either


def test_grad_fn_class_names_are_the_op_names() -> None:
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    w = tg.Tensor(np.ones((3, 3)), requires_grad=True)
    checks = {
        "Add": x + 1.0,
        "Mul": x * x,
        "MatMul": x @ w,
        "Exp": x.exp(),
        "Sum": x.sum(),
        "Permute": x.T,
        "GetItem": x[0],
        "Reshape": x.reshape(3, 2),
        "Softmax": F.softmax(x, -1),
        "LogSoftmax": F.log_softmax(x, -1),
        "CrossEntropy": F.cross_entropy(x, np.array([0, 2])),
    }
    for name, out in checks.items():
        assert type(out.grad_fn).__name__ == name == out.grad_fn.name


def test_primitives_are_one_graph_node_each() -> None:
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    w, b = tg.ones(3, requires_grad=True), tg.zeros(3, requires_grad=True)
    cases = {
        "Softmax": F.softmax(x, -1),
        "LogSoftmax": F.log_softmax(x, 0),
        "LayerNorm": F.layer_norm(x, 3, w, b),
        "BatchNorm": F.batch_norm(x, None, None, w, b, training=True),
        "CrossEntropy": F.cross_entropy(x, np.array([1, 0])),
        "Linear": F.linear(x, tg.ones(4, 3, requires_grad=True), tg.zeros(4, requires_grad=True)),
    }
    for name, out in cases.items():
        nodes = toposort(out.grad_fn)
        assert [type(n).__name__ for n in nodes] == [name], f"{name} is not a single node"
    assert F.softmax(x, -1).grad_fn.inputs == (x,)
    mm = (x @ w.reshape(3, 1)).grad_fn
    assert type(mm).__name__ == "MatMul" and mm.inputs[0] is x


def test_in_place_change_to_saved_data_makes_backward_raise_naming_the_op() -> None:
    x, w = _leaf(1.0, 2.0), _leaf(3.0, 4.0)
    y = x * w
    w.data -= 0.1
    with pytest.raises(RuntimeError, match=r"Mul: a tensor it saved for backward was modified"):
        y.sum().backward()


def test_in_place_change_to_a_saved_output_raises_too() -> None:
    x = _leaf(1.0, 2.0)
    y = x.exp()  # Exp saves its output
    y.data += 1.0
    with pytest.raises(RuntimeError, match="Exp"):
        y.backward(np.ones(2))


def test_in_place_change_through_a_detached_alias_is_caught() -> None:
    x, w = _leaf(1.0, 2.0), _leaf(3.0, 4.0)
    y = x * w
    alias = w.detach()
    alias.data *= 2.0
    with pytest.raises(RuntimeError, match="Mul"):
        y.sum().backward()


def test_in_place_change_to_unsaved_data_is_fine() -> None:
    x, w = _leaf(1.0, 2.0), _leaf(3.0, 4.0)
    y = x + w  # Add saves nothing
    w.data -= 0.1
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])


def test_hooks_see_and_may_replace_the_gradient() -> None:
    x = _leaf(1.0, 2.0)
    h = x * 3.0
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))
    handle = x.register_hook(lambda g: g * 10.0)
    h.backward(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(seen[0], [1.0, -1.0])
    np.testing.assert_array_equal(x.grad.data, [30.0, -30.0])
    handle.remove()
    x.grad = None
    (x * 3.0).backward(np.ones(2))
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_gradient_has_the_leaf_dtype() -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)  # float32
    (x.double() * 2.0).sum().backward()
    assert x.grad.dtype == np.float32


def test_backward_from_a_leaf_accumulates_the_given_gradient() -> None:
    x = _leaf(1.0, 2.0)
    x.backward(np.array([0.5, 2.0]))
    np.testing.assert_array_equal(x.grad.data, [0.5, 2.0])


def test_broadcast_inputs_get_gradients_summed_to_their_shape() -> None:
    a = tg.Tensor(np.ones((2, 1, 3)), requires_grad=True)
    b = tg.Tensor(np.ones(3), requires_grad=True)
    (a * b).backward(np.ones((2, 1, 3)))
    (a + b.reshape(1, 3)).backward(np.ones((2, 1, 3)))
    assert a.grad.shape == (2, 1, 3) and b.grad.shape == (3,)
    np.testing.assert_array_equal(b.grad.data, [4.0, 4.0, 4.0])


def test_override_ops_runs_the_replacement_inside_the_block_only():
    from tinygrad_attn.ops.softmax import Softmax

    calls = []

    class LoggedSoftmax(Softmax):
        @staticmethod
        def backward(ctx, grad_out):
            calls.append(grad_out.shape)
            return Softmax.backward(ctx, grad_out)

    x = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with tg.override_ops({Softmax: LoggedSoftmax}):
        y = tg.functional.softmax(x, dim=-1)
        assert type(y.grad_fn) is LoggedSoftmax
        with tg.override_ops({Softmax: Softmax}):  # an inner block wins, then restores
            assert type(tg.functional.softmax(x, dim=-1).grad_fn) is Softmax
        assert type(tg.functional.softmax(x, dim=-1).grad_fn) is LoggedSoftmax
    assert type(tg.functional.softmax(x, dim=-1).grad_fn) is Softmax
    (y * tg.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])).sum().backward()
    assert calls == [(2, 3)]
    expected = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (
        tg.functional.softmax(expected, dim=-1) * tg.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])
    ).sum().backward()
    np.testing.assert_allclose(x.grad.data, expected.grad.data)


def test_override_ops_refuses_what_is_not_a_function():
    from tinygrad_attn.ops.softmax import Softmax

    with pytest.raises(TypeError, match="override_ops: replacement"):
        with tg.override_ops({Softmax: print}):
            pass
