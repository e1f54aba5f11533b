"""Add an op to the engine: Swish, y = x * sigmoid(beta * x), with a hand-written backward.

    python examples/custom_op.py              # checks the op, then trains a small MLP with it

The op is a `Function` subclass (the same pattern as every built-in op): `forward` gets numpy
arrays and saves what `backward` needs; `backward` returns one gradient per input. beta may be
a scalar or one value per feature: `backward` returns its gradient in the output's shape and the
engine sums it back to beta's shape (the adjoint of broadcasting). Then:
  1. the forward against a plain numpy formula,
  2. `gradcheck` in float64 (central differences against the backward, random upstream grad),
  3. a hypothesis property test in three lines with `tinygrad_attn.testing` (needs the `test`
     extra; the test suite runs it too: tests/examples/test_walkthroughs.py),
  4. an MLP with a learnable per-unit beta fitted to sin(x) for a few hundred Adam steps.
Runs in about a second.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

import tinygrad_attn as tg
from tinygrad_attn import Function, Tensor, gradcheck, nn, optim


class Swish(Function):
    """Swish / SiLU with a slope, x * sigmoid(beta * x) (Ramachandran et al. 2017)."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """y = x * s, s = sigmoid(beta x) without overflow; saves x, beta and s.
        Shapes: x (...), beta broadcastable to x (e.g. () or (features,)) -> the broadcast shape."""
        s = np.exp(-np.logaddexp(0.0, -beta * x))  # sigmoid without overflow for large |beta x|
        ctx.save_for_backward(x, beta, s)
        return x * s

    @staticmethod
    def backward(ctx: Function, grad_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """backward: with s = sigmoid(beta x): dx = g * (s + beta x s (1 - s)),
        dbeta = g * x^2 s (1 - s) (the engine sums dbeta back to beta's shape)."""
        x, beta, s = ctx.saved_tensors
        ds = s * (1.0 - s)  # sigmoid'(beta x)
        grad_x = grad_out * (s + beta * x * ds) if ctx.needs_input_grad[0] else None
        grad_beta = grad_out * x * x * ds if ctx.needs_input_grad[1] else None
        return grad_x, grad_beta


def swish(x: Tensor, beta: Tensor | float = 1.0) -> Tensor:
    """x * sigmoid(beta * x) as one graph node.  Shapes: x (...), beta broadcastable -> x's."""
    if not isinstance(beta, Tensor):
        beta = Tensor(np.asarray(beta, dtype=x.dtype))
    try:
        fits = np.broadcast_shapes(x.shape, beta.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"swish: beta {beta.shape} does not broadcast to x {x.shape}")
    return Swish.apply(x, beta)


def swish_reference(x: np.ndarray, beta: np.ndarray | float) -> np.ndarray:
    return x / (1.0 + np.exp(-beta * x))


def check_swish_gradients(max_side: int = 4) -> None:
    """The property test: gradcheck passes for every drawn pair of broadcastable (x, beta)."""
    from tinygrad_attn.testing import broadcastable_tensors, check_op_grad

    check_op_grad(lambda x, beta: Swish.apply(x, beta), broadcastable_tensors(max_side=max_side))


class SwishLayer(nn.Module):
    """Swish with a learnable beta per feature.  Shapes: (..., features) -> same."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.beta = nn.Parameter(np.ones(features, dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        return swish(x, self.beta)


def train(steps: int, seed: int, out: Callable[[str], None]) -> list[float]:
    """Fit y = sin(x) on [-3, 3] with Linear(1, 32) -> Swish -> Linear(32, 1); the losses."""
    tg.manual_seed(seed)
    x = np.linspace(-3, 3, 64, dtype=np.float32)[:, None]  # (N, 1)
    y = Tensor(np.sin(x))
    model = nn.Sequential(nn.Linear(1, 32), SwishLayer(32), nn.Linear(32, 1))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(steps):
        loss = ((model(Tensor(x)) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % max(steps // 5, 1) == 0 or step == steps - 1:
            out(f"step {step:>4}/{steps} | mse {losses[-1]:.5f}")
    beta = model[1].beta.data
    out(
        f"learned beta per unit: min {beta.min():.2f}, mean {beta.mean():.2f}, max {beta.max():.2f}"
    )
    out("one forward's graph (the new op is one node, like the built-ins):")
    loss = ((model(Tensor(x[:2])) - y[:2]) ** 2).mean()
    out(tg.graph_tree(loss, params=dict(model.named_parameters())))
    return losses


def run(steps: int = 300, seed: int = 0, out: Callable[[str], None] = print) -> dict:
    """Every check and the training run; returns what they measured."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.normal(size=(3, 4)), requires_grad=True)  # float64
    beta = Tensor(rng.uniform(0.5, 2.0, size=(4,)), requires_grad=True)  # one per feature
    forward_error = float(np.abs(swish(x, beta).data - swish_reference(x.data, beta.data)).max())
    out(f"1. forward == numpy x / (1 + exp(-beta x)): max |diff| = {forward_error:.1e}")
    gradcheck(swish, [x, beta])  # raises GradcheckError with the element if backward is wrong
    out("2. gradcheck(swish, [x (3, 4), beta (4,)]) passed (float64, random upstream gradient)")
    try:
        check_swish_gradients()
        out("3. property test (hypothesis, broadcastable shapes up to rank 4) passed")
    except ImportError:
        out("3. property test skipped: install the test extra (pytest, hypothesis)")
    out("4. an MLP with a Swish layer (learnable beta) fitted to sin(x):")
    losses = train(steps, seed, out)
    return {"forward_error": forward_error, "losses": losses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="Adam steps for the MLP")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run(args.steps, args.seed)


if __name__ == "__main__":
    main()
