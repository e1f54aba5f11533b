"""Known mistakes, per exercise: a name, what it is in words, and a backward body that makes it.

The grader runs every mistake's body on the input where the learner's backward failed; when its
gradients equal the learner's (or it fails with the same error), the diagnosis names it. The
tests paste each body into a stub and check that `check` names it. Bodies are the text of a
`backward(ctx, grad_out)` in the stub's namespace (numpy as np, `unbroadcast`, `row_sum`).
"""

from __future__ import annotations

from tinygrad_attn.learn.catalogue_nn import NN_MISTAKES
from tinygrad_attn.learn.exercises import Mistake

_UNBROADCAST_NO_KEEPDIM = """\
def reduce(g, shape):
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1))
"""

MISTAKES: dict[str, list[Mistake]] = {
    "mul": [
        Mistake(
            "missing un-broadcast",
            "a gradient is returned in the output's broadcast shape: "
            "sum it over the axes broadcasting stretched, back to the input's shape",
            "a, b = ctx.saved_tensors\nreturn grad_out * b, grad_out * a\n",
        ),
        Mistake(
            "un-broadcast without keepdims",
            "the broadcast axes are summed but the size-1 "
            "axes are dropped: sum them with keepdims=True",
            _UNBROADCAST_NO_KEEPDIM + "a, b = ctx.saved_tensors\n"
            "return reduce(grad_out * b, a.shape), reduce(grad_out * a, b.shape)\n",
        ),
        Mistake(
            "own factor",
            "each input's gradient uses the input itself: d(a*b)/da is b, not a",
            "a, b = ctx.saved_tensors\n"
            "return unbroadcast(grad_out * a, a.shape), unbroadcast(grad_out * b, b.shape)\n",
        ),
        Mistake(
            "upstream gradient dropped",
            "the chain rule's factor grad_out is missing",
            "a, b = ctx.saved_tensors\nshape = np.broadcast_shapes(a.shape, b.shape)\n"
            "return (unbroadcast(np.broadcast_to(b, shape), a.shape),\n"
            "        unbroadcast(np.broadcast_to(a, shape), b.shape))\n",
        ),
    ],  # fmt: skip
    "matmul": [
        Mistake(
            "missing un-broadcast",
            "the gradient of an operand whose batch dims were broadcast is not summed over them",
            "a, b = ctx.saved_tensors\n"
            "return grad_out @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ grad_out\n",
        ),
        Mistake(
            "transposed product",
            "da = g b and db = a g miss the transposes: da = g bᵀ (N, K) and db = aᵀ g (K, M)",
            "a, b = ctx.saved_tensors\n"
            "return unbroadcast(grad_out @ b, a.shape), unbroadcast(a @ grad_out, b.shape)\n",
        ),
        Mistake(
            "product in the wrong order",
            "db = gᵀ a is the transpose of the right "
            "(K, M) gradient aᵀ g: mind the order of the factors",
            "a, b = ctx.saved_tensors\nt = lambda x: np.swapaxes(x, -1, -2)\n"
            "return (unbroadcast(t(b @ t(grad_out)), a.shape),\n"
            "        unbroadcast(t(grad_out) @ a, b.shape))\n",
        ),
    ],  # fmt: skip
    "sum": [
        Mistake(
            "summed axis not re-inserted",
            "with keepdim=False the gradient has lost the "
            "summed axes: put them back (np.expand_dims(g, dim)) before broadcasting, or it "
            "lines up with the wrong axes",
            "return np.broadcast_to(grad_out, ctx.shape)\n",
        ),
        Mistake(
            "mean instead of sum",
            "divided by the number of summed elements: that is "
            "mean's backward; each input element moves the sum by exactly 1",
            "g = grad_out if ctx.keepdim else np.expand_dims(grad_out, ctx.dim)\n"
            "n = np.prod([ctx.shape[d] for d in ctx.dim])\n"
            "return np.broadcast_to(g, ctx.shape) / n\n",
        ),
        Mistake(
            "upstream gradient dropped",
            "returned ones: the chain rule's factor grad_out is missing",
            "return np.ones(ctx.shape)\n",
        ),
    ],  # fmt: skip
    "tanh": [
        Mistake(
            "sign error",
            "d tanh/dx = 1 - tanh², not tanh² - 1",
            "(y,) = ctx.saved_tensors\nreturn grad_out * (y * y - 1)\n",
        ),
        Mistake(
            "square forgotten",
            "d tanh/dx = 1 - y², with y squared",
            "(y,) = ctx.saved_tensors\nreturn grad_out * (1 - y)\n",
        ),
        Mistake(
            "tanh applied twice",
            "y is already tanh(x): 1 - tanh(y)² takes tanh again",
            "(y,) = ctx.saved_tensors\nreturn grad_out * (1 - np.tanh(y) ** 2)\n",
        ),
        Mistake(
            "upstream gradient dropped",
            "the chain rule's factor grad_out is missing",
            "(y,) = ctx.saved_tensors\nreturn 1 - y * y\n",
        ),
    ],  # fmt: skip
    "softmax": [
        Mistake(
            "no row-sum term",
            "softmax without its row-sum term: dx = y ⊙ g misses "
            "- y ⊙ sum(g ⊙ y) (every output depends on every input of its row)",
            "(y,) = ctx.saved_tensors\nreturn grad_out * y\n",
        ),
        Mistake(
            "sum over the wrong axis",
            "the row sum is taken over the last axis, not over ctx.dim",
            "(y,) = ctx.saved_tensors\ngy = grad_out * y\n"
            "return gy - y * np.sum(gy, axis=-1, keepdims=True)\n",
        ),
        Mistake(
            "sum without keepdim",
            "the row sum lost its axis (keepdims=False), so it broadcasts along the wrong axis",
            "(y,) = ctx.saved_tensors\ngy = grad_out * y\n"
            "return gy - y * np.sum(gy, axis=ctx.dim)\n",
        ),
        Mistake(
            "row sum of g",
            "the row sum must be of g ⊙ y, not of g",
            "(y,) = ctx.saved_tensors\n"
            "return y * (grad_out - np.sum(grad_out, axis=ctx.dim, keepdims=True))\n",
        ),
        Mistake(
            "sign error",
            "dx = y ⊙ (g - sum(g ⊙ y)): the row-sum term is subtracted",
            "(y,) = ctx.saved_tensors\ngy = grad_out * y\n"
            "return gy + y * np.sum(gy, axis=ctx.dim, keepdims=True)\n",
        ),
    ],  # fmt: skip
    "log_softmax": [
        Mistake(
            "no row-sum term",
            "dx = g misses - softmax(x) ⊙ sum(g): every output depends "
            "on the whole row through logsumexp",
            "return grad_out.copy()\n",
        ),
        Mistake(
            "log-probabilities for probabilities",
            "the row-sum term needs softmax(x) = exp(y), not y itself",
            "(y,) = ctx.saved_tensors\n"
            "return grad_out - y * np.sum(grad_out, axis=ctx.dim, keepdims=True)\n",
        ),
        Mistake(
            "sum over the wrong axis",
            "the sum is over the last axis, not ctx.dim",
            "(y,) = ctx.saved_tensors\n"
            "return grad_out - np.exp(y) * np.sum(grad_out, axis=-1, keepdims=True)\n",
        ),
        Mistake(
            "sign error",
            "dx = g - exp(y) ⊙ sum(g): the term is subtracted",
            "(y,) = ctx.saved_tensors\n"
            "return grad_out + np.exp(y) * np.sum(grad_out, axis=ctx.dim, keepdims=True)\n",
        ),
    ],  # fmt: skip
    **NN_MISTAKES,
}
"""Exercise name -> its catalogue of known mistakes."""
