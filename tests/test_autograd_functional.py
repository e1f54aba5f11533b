"""tg.autograd.functional: vjp, jvp, hvp, vhp, jacobian and hessian. Known closed forms
without torch; where torch is installed, the same calls of torch.autograd.functional, with
tuples of inputs and outputs, give the same values and structure."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg

AF = tg.autograd.functional
RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 3))
W = RNG.standard_normal((2, 3))


def test_hessian_of_a_quadratic_form_is_the_symmetrised_matrix() -> None:
    x = tg.Tensor(RNG.standard_normal(3))
    hessian = AF.hessian(lambda t: (t * (tg.Tensor(A) @ t)).sum(), x)
    np.testing.assert_allclose(hessian.data, A + A.T, rtol=1e-12)
    v = RNG.standard_normal(3)
    _, hv = AF.hvp(lambda t: (t * (tg.Tensor(A) @ t)).sum(), x, tg.Tensor(v))
    np.testing.assert_allclose(hv.data, (A + A.T) @ v, rtol=1e-12)


def test_jacobian_jvp_and_vjp_of_a_linear_map_are_the_matrix() -> None:
    x = tg.Tensor(RNG.standard_normal(3))
    f = lambda t: tg.Tensor(W) @ t
    np.testing.assert_allclose(AF.jacobian(f, x).data, W)
    v, u = RNG.standard_normal(3), RNG.standard_normal(2)
    out, jv = AF.jvp(f, x, tg.Tensor(v))
    np.testing.assert_allclose(jv.data, W @ v)
    np.testing.assert_allclose(out.data, W @ x.data)
    _, vj = AF.vjp(f, x, tg.Tensor(u))
    np.testing.assert_allclose(vj.data, W.T @ u)


def test_create_graph_keeps_results_differentiable_and_strict_rejects_unused_inputs() -> None:
    x = tg.Tensor(np.array([0.3, -0.7]), requires_grad=True)
    _, hv = AF.hvp(lambda t: t.tanh().sum(), x, tg.Tensor(np.ones(2)), create_graph=True)
    (third,) = tg.autograd.grad(hv.sum(), x)  # d/dx tanh''(x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(third.data, -2 * (1 - t**2) * (1 - 3 * t**2), rtol=1e-12)
    unused = tg.Tensor(np.ones(2))
    with pytest.raises(RuntimeError, match="independent"):
        AF.jacobian(lambda a, b: a * 2.0, (x, unused), strict=True)
    _, zero = AF.jacobian(lambda a, b: a * 2.0, (x, unused))
    np.testing.assert_array_equal(zero.data, np.zeros((2, 2)))


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    return RNG.standard_normal((2, 3)), RNG.standard_normal(3)


def _f(a, b):
    """Two inputs, two outputs, written once for both libraries (only methods both have)."""
    return (a * b).tanh(), (a @ b).exp()


def _scalar(a, b):
    return ((a * b).tanh() * (a @ b).exp()[:, None]).sum()


def test_every_function_matches_torch_autograd_functional_with_tuples() -> None:
    torch = pytest.importorskip("torch")
    tf = torch.autograd.functional
    a, b = _inputs()
    ours, theirs = (tg.Tensor(a), tg.Tensor(b)), (torch.tensor(a), torch.tensor(b))
    f = ft = _f
    scalar = scalar_t = _scalar
    u = (RNG.standard_normal((2, 3)), RNG.standard_normal(2))
    v = (RNG.standard_normal((2, 3)), RNG.standard_normal(3))

    def same(mine, other) -> None:
        if isinstance(other, tuple):
            assert isinstance(mine, tuple) and len(mine) == len(other)
            for m, o in zip(mine, other):
                same(m, o)
            return
        np.testing.assert_allclose(mine.data, other.detach().numpy(), rtol=1e-12, atol=1e-14)

    as_t = lambda xs: tuple(torch.tensor(x) for x in xs)
    as_ours = lambda xs: tuple(tg.Tensor(x) for x in xs)
    same(AF.vjp(f, ours, as_ours(u)), tf.vjp(ft, theirs, as_t(u)))
    same(AF.jvp(f, ours, as_ours(v)), tf.jvp(ft, theirs, as_t(v)))
    same(AF.hvp(scalar, ours, as_ours(v)), tf.hvp(scalar_t, theirs, as_t(v)))
    same(AF.vhp(scalar, ours, as_ours(v)), tf.vhp(scalar_t, theirs, as_t(v)))
    same(AF.jacobian(f, ours), tf.jacobian(ft, theirs))
    same(AF.hessian(scalar, ours), tf.hessian(scalar_t, theirs))
    same(AF.jacobian(lambda x: x.exp(), ours[0]), tf.jacobian(torch.exp, theirs[0]))
