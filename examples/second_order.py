"""Second derivatives with tinygrad_attn: gradients of gradients, for a learner.

    python examples/second_order.py              # ~1 minute on 2 cores
    python examples/second_order.py --quick      # a few seconds (the smoke test's run)

Three things, each checked as it is printed:

1. The Hessian of cross-entropy with respect to the logits is diag(p) - p pᵀ (p = softmax),
   whatever the target and the label smoothing: computed with tg.autograd.functional.hessian
   and asserted equal to the formula.
2. A Hessian-vector product through nn.MultiheadAttention over all its parameters, H v from
   grad(grad(L) · v), against central differences of first-order gradients, (g(θ + εv) -
   g(θ - εv)) / 2ε.
3. The curvature ("sharpness") of the toy zh->en translation model's loss: its top Hessian
   eigenvalue by power iteration on HVPs (v <- H v / |H v|, λ = vᵀ H v), at initialisation and
   after a short Adam run. docs/second_order.md explains the double backward these use.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from toydata import PAD, Vocab, batches, load_task

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from models import Transformer
from tinygrad_attn import nn, optim


def cross_entropy_hessian(num_classes: int = 5, seed: int = 0) -> float:
    """Assert the Hessian of CE w.r.t. the logits is diag(p) - p pᵀ; returns the max error."""
    rng = np.random.default_rng(seed)
    logits = tg.Tensor(rng.standard_normal(num_classes) * 2)
    p = np.exp(logits.data - logits.data.max())
    p /= p.sum()
    expected = np.diag(p) - np.outer(p, p)
    worst = 0.0
    for target, smoothing in ((1, 0.0), (3, 0.2)):

        def loss(z: tg.Tensor, target: int = target, smoothing: float = smoothing) -> tg.Tensor:
            return F.cross_entropy(z[None], np.array([target]), label_smoothing=smoothing)

        hessian = tg.autograd.functional.hessian(loss, logits).data
        error = float(np.abs(hessian - expected).max())
        assert error < 1e-12, f"CE Hessian differs from diag(p) - ppᵀ by {error:.3g}"
        worst = max(worst, error)
    return worst


def _hvp(loss_fn, params: list[tg.Tensor], vs: list[np.ndarray]) -> list[np.ndarray]:
    """H v of loss_fn() over `params`: the gradient of (gradient · v), the first with history."""
    grads = tg.autograd.grad(loss_fn(), params, create_graph=True)
    dot = (grads[0] * tg.Tensor(vs[0])).sum()
    for g, v in zip(grads[1:], vs[1:]):
        dot = dot + (g * tg.Tensor(v)).sum()
    return [h.data for h in tg.autograd.grad(dot, params)]


def attention_hvp_vs_finite_differences(seed: int = 0) -> float:
    """H v through an MHA block over all its parameters vs differences of gradients."""
    tg.manual_seed(seed)
    block = nn.MultiheadAttention(8, 2).double()
    rng = np.random.default_rng(seed)
    x, weights = tg.Tensor(rng.standard_normal((2, 5, 8))), rng.standard_normal((2, 5, 8))
    padding = np.array([[False] * 5, [False, False, False, True, True]])

    def loss() -> tg.Tensor:
        out, _ = block(x, x, x, key_padding_mask=padding, is_causal=True, need_weights=False)
        return (out.tanh() * tg.Tensor(weights)).sum()

    params = list(block.parameters())
    vs = [rng.standard_normal(p.shape) for p in params]
    hv = _hvp(loss, params, vs)
    eps, originals = 1e-5, [p.data.copy() for p in params]
    numeric = [np.zeros(p.shape) for p in params]
    for sign in (1.0, -1.0):
        for p, v, original in zip(params, vs, originals):
            p.data = original + sign * eps * v
        for acc, g in zip(numeric, tg.autograd.grad(loss(), params)):
            acc += sign * g.data / (2 * eps)
    for p, original in zip(params, originals):
        p.data = original
    scale = max(np.abs(n).max() for n in numeric)
    error = max(float(np.abs(a - n).max()) for a, n in zip(hv, numeric)) / scale
    assert error < 1e-6, f"H v differs from finite differences by {error:.3g} (relative)"
    return error


def top_eigenvalue(loss_fn, params: list[tg.Tensor], iters: int, seed: int = 0) -> float:
    """The largest-magnitude Hessian eigenvalue by power iteration on HVPs."""
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(p.shape) for p in params]
    eigenvalue = 0.0
    for _ in range(iters):
        norm = np.sqrt(sum(float(np.sum(v * v)) for v in vs))
        vs = [v / norm for v in vs]
        hv = _hvp(loss_fn, params, vs)
        eigenvalue = sum(float(np.sum(v * h)) for v, h in zip(vs, hv))  # vᵀ H v, |v| = 1
        vs = hv
    return eigenvalue


def translation_sharpness(steps: int, iters: int, pairs: int, d_model: int) -> tuple:
    """(λ_max at init, λ_max after `steps` Adam updates, first loss, last loss)."""
    data = load_task("translation", "zh-en")
    train = data["train"][:pairs]
    src_vocab = Vocab.build([p.src for p in data["train"]])
    tgt_vocab = Vocab.build([p.tgt for p in data["train"]])
    tg.manual_seed(0)
    model = Transformer(
        len(src_vocab), len(tgt_vocab), d_model=d_model, nhead=2, num_encoder_layers=1,
        num_decoder_layers=1, dim_feedforward=2 * d_model, dropout=0.0, pad_id=PAD, pos="rope",
    ).double()  # fmt: skip
    all_batches = list(batches(train, src_vocab, tgt_vocab, 32))
    probe = all_batches[0]  # the loss whose curvature is measured, the same batch each time

    def loss_on(batch: tuple) -> tg.Tensor:
        src, tgt_in, tgt_out = batch
        logits = model(src, tgt_in)
        return F.cross_entropy(logits, tgt_out, ignore_index=PAD, label_smoothing=0.1)

    params = list(model.parameters())
    at_init = top_eigenvalue(lambda: loss_on(probe), params, iters)
    first = loss_on(probe).item()
    opt = optim.Adam(params, lr=2e-3)
    for step in range(steps):
        loss = loss_on(all_batches[step % len(all_batches)])
        opt.zero_grad()
        loss.backward()
        opt.step()
    trained = top_eigenvalue(lambda: loss_on(probe), params, iters)
    return at_init, trained, first, loss_on(probe).item(), model.num_parameters()


def main(argv: list[str] | None = None) -> int:
    """Run the three parts and print what each found."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny model and run (smoke test)")
    parser.add_argument("--steps", type=int, default=None, help="Adam updates between probes")
    parser.add_argument("--iters", type=int, default=None, help="power iterations per probe")
    args = parser.parse_args(argv)
    steps = args.steps if args.steps is not None else (5 if args.quick else 150)
    iters = args.iters if args.iters is not None else (3 if args.quick else 12)
    start = time.perf_counter()
    error = cross_entropy_hessian()
    print(f"1. Hessian of cross-entropy wrt the logits = diag(p) - p pᵀ: max error {error:.1e}")
    error = attention_hvp_vs_finite_differences()
    print(f"2. HVP through MultiheadAttention vs finite differences of gradients: {error:.1e}")
    pairs, d_model = (64, 16) if args.quick else (2000, 32)
    at_init, trained, first, last, size = translation_sharpness(steps, iters, pairs, d_model)
    print(
        f"3. top Hessian eigenvalue of the translation loss ({size:,} parameters, {iters} power "
        f"iterations): {at_init:.3f} at init (loss {first:.3f}), {trained:.3f} after {steps} "
        f"Adam updates (loss {last:.3f})"
    )
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
