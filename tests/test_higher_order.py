"""Gradients of gradients: `backward(create_graph=True)`, `tg.autograd.grad` and their rules.

PyTorch's semantics (retain_graph defaults to create_graph, `.grad` accumulates, out of place
and with history under create_graph), the version counter and freed-graph errors on the second
pass, third and higher derivatives, hooks, and the errors for ops without a second-order rule.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import Function
from tinygrad_attn.autograd import has_second_order_rule
from tinygrad_attn.ops.softmax import Softmax

RNG = np.random.default_rng(0)


def _leaf(*shape: int, seed: int = 0) -> tg.Tensor:
    return tg.Tensor(np.random.default_rng(seed).uniform(0.5, 1.5, shape), requires_grad=True)


def test_grad_of_grad_of_a_cubic_is_its_second_and_third_derivative() -> None:
    x = _leaf(4)
    (g,) = tg.autograd.grad((x * x * x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    v = RNG.standard_normal(4)
    (h,) = tg.autograd.grad(g, x, tg.Tensor(v), create_graph=True)
    np.testing.assert_allclose(h.data, 6 * x.data * v)
    (t,) = tg.autograd.grad(h.sum(), x)
    np.testing.assert_allclose(t.data, 6 * v)
    assert x.grad is None, "grad() must not touch .grad"


def test_fourth_derivative_of_tanh_through_softmax_free_chain() -> None:
    x = _leaf(3)
    y = x.tanh().sum()
    grads = []
    for _ in range(4):
        (y,) = tg.autograd.grad(y, x, create_graph=True)
        grads.append(y.data.copy())
        y = y.sum()
    t = np.tanh(x.data)
    s = (
        1 - t**2
    )  # tanh' ; tanh'' = -2 t s ; tanh''' = -2 s (1 - 3 t^2) ; tanh'''' = 8 t s (2 - 3 t^2)
    expected = [s, -2 * t * s, -2 * s * (1 - 3 * t**2), 8 * t * s * (2 - 3 * t**2)]
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


# PyTorch warns that backward(create_graph=True) makes a parameter <-> .grad reference cycle.
@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_create_graph_twice_accumulates_with_history_as_pytorch() -> None:
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(1).uniform(0.5, 1.5, (3,))
    x = tg.Tensor(data.copy(), requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)
    for value, backend in ((x, "ours"), (xt, "torch")):
        y = (value * value * value).sum() if backend == "ours" else (value**3).sum()
        y.backward(create_graph=True)
        y.backward(create_graph=True)  # the graph was retained: retain_graph defaults to True
    np.testing.assert_allclose(x.grad.data, xt.grad.detach().numpy())
    assert x.grad.grad_fn is not None, "after create_graph the accumulated .grad has history"
    (second,) = tg.autograd.grad(x.grad.sum(), x)
    (second_t,) = torch.autograd.grad(xt.grad.sum(), xt)
    np.testing.assert_allclose(second.data, second_t.numpy())  # 2 * 6x


def test_create_graph_backward_then_first_order_backward_of_the_gradient() -> None:
    x, w = _leaf(2, 3), _leaf(3, seed=1)
    loss = ((x * w).tanh()).sum()
    loss.backward(create_graph=True)
    penalty = (w.grad * w.grad).sum()  # a gradient penalty
    w.grad, x.grad = None, None
    penalty.backward()
    t = np.tanh(x.data * w.data)
    dw = ((1 - t**2) * x.data).sum(0)  # d loss / d w
    # d/dw sum(dw^2) = 2 dw * d(dw)/dw = 2 dw * sum_rows(-2 t (1 - t^2) x^2)
    expected = 2 * dw * (-2 * t * (1 - t**2) * x.data**2).sum(0)
    np.testing.assert_allclose(w.grad.data, expected, rtol=1e-12)
    assert w.grad.grad_fn is None, "a first-order backward accumulates plain gradients"


def test_retain_graph_defaults_to_create_graph_and_explicit_false_frees_the_graph() -> None:
    x = _leaf(3)
    y = (x.exp() * x).sum()
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    (g2,) = tg.autograd.grad(y, x)  # retained by the create_graph pass
    np.testing.assert_allclose(g.data, g2.data)
    with pytest.raises(RuntimeError, match="second time"):
        tg.autograd.grad(y, x)  # the first-order pass freed it
    z = (x.exp() * x).sum()
    (g,) = tg.autograd.grad(z, x, create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="second time"):
        g.sum().backward()  # the second pass needs the first one's nodes: they were freed


def test_second_pass_raises_when_a_saved_leaf_was_modified_in_place() -> None:
    x, w = _leaf(3), _leaf(3, seed=1)
    (g,) = tg.autograd.grad((x * w * w).sum(), w, create_graph=True)
    x.data = x.data + 1.0  # an in-place change of a value the second pass needs
    with pytest.raises(RuntimeError, match="modified in place"):
        g.sum().backward()


def test_second_pass_raises_when_a_saved_non_leaf_was_modified_in_place() -> None:
    x = _leaf(3)
    h = x.exp()  # a non-leaf: its Mul node keeps it as an edge, its data saved
    (g,) = tg.autograd.grad((h * h).sum(), x, create_graph=True)
    h.data = h.data * 2.0
    with pytest.raises(RuntimeError, match="modified in place"):
        g.sum().backward()


def test_grad_allow_unused_non_leaf_inputs_and_several_outputs() -> None:
    x, unused = _leaf(3), _leaf(2, seed=1)
    h = x * 2.0
    y1, y2 = (h * h).sum(), h.exp()
    with pytest.raises(RuntimeError, match="not used"):
        tg.autograd.grad(y1, [x, unused], retain_graph=True)
    gx, gu = tg.autograd.grad(y1, [x, unused], retain_graph=True, allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.data, 8 * x.data)
    v = RNG.standard_normal(3)
    (gh,) = tg.autograd.grad([y1, y2], h, [None, tg.Tensor(v)])
    np.testing.assert_allclose(gh.data, 2 * h.data + np.exp(h.data) * v)


def test_hooks_see_tensors_with_history_and_fire_again_in_the_second_pass() -> None:
    x = _leaf(3)
    h = x * x
    seen = []
    h.register_hook(lambda g: seen.append(g.grad_fn is not None) or g * 2.0)
    (g,) = tg.autograd.grad((h * x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, x.data**2 + 2.0 * x.data * 2 * x.data)
    assert seen == [True]  # the cotangent of h, 1 * x, is a Tensor that depends on x
    (gg,) = tg.autograd.grad(g.sum(), x)
    # g = h + hook(x) * 2x = 5 x^2. The second pass reaches h again through the saved h of
    # h * x, and the hook doubles that path too: 10 x + 2 x = 12 x, PyTorch's value (its
    # tensor hooks also fire in the double backward).
    np.testing.assert_allclose(gg.data, 12 * x.data)


class _FirstOrderOnly(Function):
    """x ** 2 with a numpy backward and no backward_graph."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        return 2 * ctx.saved_tensors[0] * grad_out


class _MySoftmax(Softmax):
    """A replacement softmax with its own first-order backward and no second-order rule."""

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> np.ndarray:
        (y,) = ctx.saved_tensors
        return y * (grad_out - (grad_out * y).sum(ctx.dim, keepdims=True))


def test_an_op_without_a_second_order_rule_raises_naming_it() -> None:
    x = _leaf(3)
    y = _FirstOrderOnly.apply(x).sum()
    with pytest.raises(RuntimeError, match="_FirstOrderOnly: no second-order rule"):
        tg.autograd.grad(y, x, create_graph=True)
    (g,) = tg.autograd.grad(y, x)  # first order still works
    np.testing.assert_allclose(g.data, 2 * x.data)


def test_an_override_ops_replacement_with_its_own_backward_needs_its_own_rule() -> None:
    assert has_second_order_rule(Softmax) and not has_second_order_rule(_MySoftmax)
    x = _leaf(2, 3)
    with tg.override_ops({Softmax: _MySoftmax}):
        y = (x.softmax(-1) * tg.Tensor(RNG.standard_normal((2, 3)))).sum()
    with pytest.raises(RuntimeError, match="_MySoftmax: no second-order rule"):
        y.backward(create_graph=True)


def test_first_order_backward_never_calls_a_second_order_rule() -> None:
    class Loud(_FirstOrderOnly):
        """As _FirstOrderOnly, with a rule that must not run in a first-order pass."""

        @staticmethod
        def backward_graph(ctx: Function, grad_out: tg.Tensor) -> tg.Tensor:
            raise AssertionError("backward_graph ran in a first-order backward")

    x = _leaf(3)
    Loud.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


def test_gradgradcheck_fails_on_a_wrong_second_derivative() -> None:
    class WrongSecond(_FirstOrderOnly):
        """Right values, wrong derivative: 2 x g computed as 2 * x.detach() * g."""

        @staticmethod
        def backward_graph(ctx: Function, grad_out: tg.Tensor) -> tg.Tensor:
            return grad_out * tg.Tensor(2 * ctx.saved_tensors[0])

    x = _leaf(3)
    assert tg.gradcheck(WrongSecond.apply, x)
    with pytest.raises(tg.GradcheckError):
        tg.gradgradcheck(WrongSecond.apply, x)


def test_batch_norm_eval_with_a_constant_input_keeps_the_weight_gradient_exact() -> None:
    """Eval batch norm's rule stands x - running_mean in for x; a constant x must not be used
    in its place (its weight gradient would then be off by the running mean)."""
    rng = np.random.default_rng(3)
    x = tg.Tensor(rng.standard_normal((4, 3)))
    w = tg.Tensor(rng.standard_normal(3), requires_grad=True)
    mean, var = np.array([0.5, -0.2, 0.3]), np.array([1.5, 0.7, 1.1])
    out = tg.functional.batch_norm(x, mean, var, w, None, training=False)
    (g,) = tg.autograd.grad((out * out).sum(), w, create_graph=True)
    x_hat = (x.data - mean) / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(g.data, (2 * x_hat * x_hat * w.data).sum(0), rtol=1e-12)
    (h,) = tg.autograd.grad(g.sum(), w)
    np.testing.assert_allclose(h.data, (2 * x_hat * x_hat).sum(0), rtol=1e-12)
