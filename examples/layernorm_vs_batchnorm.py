"""Layer norm vs batch norm on one batch of sequences (B, T, E): which axes each normalises.

    python examples/layernorm_vs_batchnorm.py [--seed 0]

docs/self_attention.md, section 9, with numbers. For activations x of shape (B, T, E):
  - layer norm takes the mean and variance of each token's E features: x[b, t, :] -> mean 0, var 1;
    every token is normalised on its own, in training and eval alike.
  - batch norm takes them for each feature e over every token of the batch: x[:, :, e] -> mean 0,
    var 1 (nn.BatchNorm1d wants (B, E, T), hence the transposes). A token's output depends on the
    other tokens in the batch; eval mode swaps the batch statistics for running averages.
The script prints the statistics and shows what that means with batch size 1, with padding, and
in eval mode. Every "equal" it prints is checked by tests/examples/test_walkthroughs.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn import Tensor, nn

B, T, E = 3, 4, 5
EPS = 1e-5
Out = Callable[[str], None]


def fmt(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=3, suppress_small=True, max_line_width=120)


def make_batch(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Activations whose features have very different scales and offsets, and the true lengths
    of the sequences (positions past a length are padding, set to 0 as a PAD embedding is)."""
    rng = np.random.default_rng(seed)
    scale = np.array([0.5, 1.0, 2.0, 4.0, 8.0])  # feature e has its own spread...
    offset = np.array([-3.0, 0.0, 1.0, 5.0, 10.0])  # ...and its own mean
    x = rng.normal(size=(B, T, E)) * scale + offset  # (B, T, E)
    lengths = np.array([4, 2, 3])
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0.0  # padding positions
    return x, lengths


def batch_norm_train(x: np.ndarray) -> tuple[np.ndarray, nn.BatchNorm1d]:
    """nn.BatchNorm1d in training mode on (B, T, E) activations.  Shapes: -> (B, T, E)."""
    bn = nn.BatchNorm1d(x.shape[-1]).double()
    y = bn(Tensor(x.transpose(0, 2, 1).copy()))  # (B, E, T): features are channels
    return y.data.transpose(0, 2, 1), bn


def layer_norm(x: np.ndarray) -> np.ndarray:
    return F.layer_norm(Tensor(x), x.shape[-1], eps=EPS).data  # (B, T, E)


def axes(x: np.ndarray, out: Out) -> dict[str, float]:
    """The statistics each norm makes 0 and 1, and the ones it leaves alone."""
    out(f"\n=== 1. one batch: B={B} sequences, T={T} positions, E={E} features ===")
    out(f"mean of each feature over the batch (B, T):     {fmt(x.mean(axis=(0, 1)))}")
    out(f"variance of each feature over the batch:        {fmt(x.var(axis=(0, 1)))}")
    ln, (bn, _) = layer_norm(x), batch_norm_train(x)
    out("\nlayer norm: statistics over the LAST axis (E), one pair per token (b, t)")
    out(f"per-token mean after (B x T):\n{fmt(ln.mean(axis=-1))}")
    out(f"per-token variance after (0 at padding, whose features are all 0):\n{fmt(ln.var(-1))}")
    out(f"per-feature mean after (not normalised): {fmt(ln.mean(axis=(0, 1)))}")
    out("\nbatch norm: statistics over the batch and time axes (B, T), one pair per feature e")
    out(f"per-feature mean after:     {fmt(bn.mean(axis=(0, 1)))}")
    out(f"per-feature variance after: {fmt(bn.var(axis=(0, 1)))}")
    out(f"per-token mean after (not normalised):\n{fmt(bn.mean(axis=-1))}")
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    ln_ref = (x - mu) / np.sqrt(var + EPS)
    mu, var = x.mean((0, 1), keepdims=True), x.var((0, 1), keepdims=True)
    bn_ref = (x - mu) / np.sqrt(var + EPS)
    diffs = {
        "layer_norm == numpy (x - mean_E) / sqrt(var_E + eps)": np.abs(ln - ln_ref).max(),
        "batch_norm == numpy (x - mean_BT) / sqrt(var_BT + eps)": np.abs(bn - bn_ref).max(),
        "layer norm: every token has mean 0": np.abs(ln.mean(-1)).max(),
        "batch norm: every feature has mean 0": np.abs(bn.mean((0, 1))).max(),
    }
    for name, diff in diffs.items():
        out(f"  equal  {name:<58} max |diff| = {diff:.1e}")
    return {name: float(d) for name, d in diffs.items()}


def batch_size_one(x: np.ndarray, out: Out) -> dict:
    """A single token cannot be batch-normalised in training; a single sequence can, by itself."""
    out("\n=== 2. batch size 1 ===")
    bn = nn.BatchNorm1d(E).double()
    try:
        bn(Tensor(x[0, :1]))  # (1, E): one token, one value per feature
        error = ""
    except ValueError as err:
        error = str(err)
    out(f"one token (1, E) in training mode raises ValueError:\n  {error}")
    token = x[0, 0]  # the same token placed in two different sequences
    seq_a, seq_b = x[:1].copy(), x[2:3].copy()  # (1, T, E) each
    seq_b[0, 0] = token
    seq_a[0, 0] = token
    bn_a, bn_b = batch_norm_train(seq_a)[0][0, 0], batch_norm_train(seq_b)[0][0, 0]
    ln_a, ln_b = layer_norm(seq_a)[0, 0], layer_norm(seq_b)[0, 0]
    out("one sequence (1, E, T) in training works: the statistics come from its T positions, so")
    out("the SAME token is normalised differently depending on its neighbours:")
    out(f"  batch norm, token in sequence A: {fmt(bn_a)}")
    out(f"  batch norm, token in sequence B: {fmt(bn_b)}")
    out(f"  layer norm, token in sequence A: {fmt(ln_a)}")
    out(f"  layer norm, token in sequence B: {fmt(ln_b)}")
    context = {"bn": float(np.abs(bn_a - bn_b).max()), "ln": float(np.abs(ln_a - ln_b).max())}
    out(f"  change with context: batch norm {context['bn']:.3f}, layer norm {context['ln']:.1e}")
    return {
        "batch1_error": error,
        "bn_context_change": context["bn"],
        "ln_context_change": context["ln"],
    }


def padding(x: np.ndarray, lengths: np.ndarray, out: Out) -> dict:
    """Padding positions enter batch norm's statistics; layer norm never looks across tokens."""
    out("\n=== 3. padding ===")
    real = np.arange(T)[None, :] < lengths[:, None]  # (B, T) True at real tokens
    out(
        f"lengths {lengths.tolist()}: {int((~real).sum())} of {B * T} positions are padding (zeros)"
    )
    out(f"feature means over real tokens only:     {fmt(x[real].mean(axis=0))}")
    out(f"feature means batch norm uses (all B*T): {fmt(x.mean(axis=(0, 1)))}")
    longer = np.concatenate([x, np.zeros((B, 4, E))], axis=1)  # the same batch padded to T + 4
    bn_short, bn_long = batch_norm_train(x)[0], batch_norm_train(longer)[0][:, :T]
    ln_short, ln_long = layer_norm(x), layer_norm(longer)[:, :T]
    change = {
        "bn": float(np.abs(bn_short - bn_long)[real].max()),
        "ln": float(np.abs(ln_short - ln_long)[real].max()),
    }
    out("pad the same batch with 4 more positions; real tokens' outputs change by at most:")
    out(f"  batch norm {change['bn']:.3f}   layer norm {change['ln']:.1e}")
    out("(so transformers use layer norm: sequences are padded to different lengths)")
    return {"bn_padding_change": change["bn"], "ln_padding_change": change["ln"]}


def eval_mode(seed: int, out: Out) -> dict:
    """Training updates running averages; eval normalises with them, one token at a time."""
    out("\n=== 4. eval mode: running statistics ===")
    bn = nn.BatchNorm1d(E).double()  # momentum 0.1: r = 0.9 r + 0.1 * batch statistic
    for step in range(30):
        bn(Tensor(make_batch(seed + 1 + step)[0].transpose(0, 2, 1).copy()))
    out(f"after 30 training batches, running_mean = {fmt(bn.running_mean.data)}")
    out(f"                           running_var  = {fmt(bn.running_var.data)}")
    bn.eval()
    x = make_batch(seed)[0]
    batch = bn(Tensor(x.transpose(0, 2, 1).copy())).data.transpose(0, 2, 1)  # (B, T, E)
    alone = bn(Tensor(x[0, :1])).data[0]  # batch size 1 is fine in eval
    rm, rv = bn.running_mean.data, bn.running_var.data
    formula = (x - rm) / np.sqrt(rv + EPS)
    diffs = {
        "eval output == (x - running_mean) / sqrt(running_var + eps)": np.abs(
            batch - formula
        ).max(),
        "eval: a token alone == the same token inside the batch": np.abs(alone - batch[0, 0]).max(),
    }
    for name, diff in diffs.items():
        out(f"  equal  {name:<58} max |diff| = {diff:.1e}")
    out(f"features of this batch after eval-mode batch norm: mean {fmt(batch.mean((0, 1)))}")
    out("(near 0, not exactly: the running averages are estimates over earlier batches)")
    return {name: float(d) for name, d in diffs.items()}


def run(seed: int = 0, out: Out = print) -> dict:
    """Every section; returns the measured effects by name and, under "equal", every
    comparison the script prints as equal (name -> max abs difference)."""
    x, lengths = make_batch(seed)
    equal = axes(x, out)
    results = batch_size_one(x, out)
    results.update(padding(x, lengths, out))
    equal.update(eval_mode(seed, out))
    results["equal"] = equal  # every comparison printed as "equal": name -> max |diff|
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the example batch")
    run(parser.parse_args().seed)


if __name__ == "__main__":
    main()
