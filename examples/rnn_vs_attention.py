"""An RNN's steps run one after another; self-attention handles every position at once.

    python examples/rnn_vs_attention.py                          # T = 16 .. 512, about 10 s
    python examples/rnn_vs_attention.py --lengths 16 64 --plot rnn_vs_attention.png

docs/self_attention.md, section 1: to produce b_4 an RNN must first read a_1, a_2, a_3 (no
parallelism), while self-attention computes b_1..b_4 together. Measured here on sequences of T
positions:
  - sequential steps: the depth of the autograd graph, i.e. the longest chain of ops that must
    run one after another. The RNN h_t = tanh(W h_{t-1} + U x_t) needs a chain that grows with T;
    attention, softmax(q k^T / sqrt(E)) v, needs the same handful of ops for any T.
  - wall time of forward + backward (best of --repeats) on this CPU with numpy, with BLAS held
    to --threads threads (default 1) when threadpoolctl is installed (the `bench` extra): on a
    busy machine, BLAS threads fighting over cores make timings jump by 10-100x.
On numpy the RNN pays Python overhead for each of its T steps while attention's cost is a few
large matrix products (T x T scores: quadratic work, but done all at once); on parallel hardware
the gap in sequential steps is what matters.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
from collections.abc import Callable

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn import Tensor, stack
from tinygrad_attn.autograd import toposort

LENGTHS = (16, 32, 64, 128, 256, 512)


def make_params(dim: int, seed: int) -> dict[str, Tensor]:
    """Weights for both models, (E, E) each, scaled so activations stay O(1)."""
    rng = np.random.default_rng(seed)
    names = ("W", "U", "W_q", "W_k", "W_v")
    return {
        n: Tensor(rng.normal(0, 1 / math.sqrt(dim), (dim, dim)), requires_grad=True) for n in names
    }


def rnn(x: Tensor, p: dict[str, Tensor]) -> Tensor:
    """h_t = tanh(W h_{t-1} + U x_t), h_0 = 0.  Shapes: x (B, T, E) -> (B, T, E)."""
    batch, length, dim = x.shape
    xu = F.linear(x, p["U"])  # (B, T, E): the input terms do not depend on h, one product
    h = Tensor(np.zeros((batch, dim)))
    states = []
    for t in range(length):  # each step needs the previous h: this loop cannot be parallel
        h = (F.linear(h, p["W"]) + xu[:, t]).tanh()  # (B, E)
        states.append(h)
    return stack(states, dim=1)  # (B, T, E)


def self_attention(x: Tensor, p: dict[str, Tensor]) -> Tensor:
    """softmax(q k^T / sqrt(E)) v with q = x W_q^T etc.  Shapes: x (B, T, E) -> (B, T, E)."""
    q, k, v = (F.linear(x, p[n]) for n in ("W_q", "W_k", "W_v"))  # (B, T, E) each
    return F.scaled_dot_product_attention(q, k, v)  # (B, T, E): all positions in one product


def rnn_reference(x: np.ndarray, p: dict[str, Tensor]) -> np.ndarray:
    """The same RNN in plain numpy, to check the engine version."""
    W, U = p["W"].data, p["U"].data
    h = np.zeros((x.shape[0], x.shape[2]))
    states = []
    for t in range(x.shape[1]):
        h = np.tanh(h @ W.T + x[:, t] @ U.T)
        states.append(h)
    return np.stack(states, axis=1)


def graph_depth(out: Tensor) -> tuple[int, int]:
    """(longest chain of ops from an input to `out`, number of ops) in out's graph."""
    order = toposort(out.grad_fn)  # each node before the nodes that made its inputs
    depth: dict[int, int] = {}
    for node in reversed(order):  # inputs' nodes first
        parents = [t.grad_fn for t in node.inputs if t is not None and t.grad_fn is not None]
        depth[id(node)] = 1 + max((depth[id(n)] for n in parents), default=0)
    return depth[id(out.grad_fn)], len(order)


def measure(model: Callable, x: Tensor, p: dict[str, Tensor], repeats: int) -> dict:
    """Graph depth and size, and the best wall time of forward + backward of sum(out * R)."""
    out = model(x, p)
    depth, nodes = graph_depth(out)
    R = Tensor(np.random.default_rng(0).normal(size=out.shape))
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        (model(x, p) * R).sum().backward()
        best = min(best, time.perf_counter() - start)
    return {"depth": depth, "nodes": nodes, "seconds": best}


def blas_threads(threads: int) -> contextlib.AbstractContextManager:
    """Limit BLAS to `threads` threads if threadpoolctl is installed (else change nothing)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(threads)


def run(
    lengths: tuple[int, ...] = LENGTHS,
    batch: int = 8,
    dim: int = 32,
    repeats: int = 3,
    seed: int = 0,
    threads: int = 1,
    out: Callable[[str], None] = print,
) -> list[dict]:
    """Measure both models at each length; print a table; return its rows."""
    with blas_threads(threads):
        return _run(lengths, batch, dim, repeats, seed, out)


def _run(
    lengths: tuple[int, ...], batch: int, dim: int, repeats: int, seed: int, out: Callable
) -> list[dict]:
    p = make_params(dim, seed)
    rng = np.random.default_rng(seed + 1)
    x0 = rng.normal(size=(batch, min(lengths), dim))
    rnn_error = float(np.abs(rnn(Tensor(x0), p).data - rnn_reference(x0, p)).max())
    out(f"RNN (engine) == RNN (numpy loop): max |diff| = {rnn_error:.1e}")
    out(f"batch {batch}, E = {dim}; depth = ops that must run one after another")
    out(f"{'T':>5} | {'RNN depth':>9} {'attn depth':>10} | {'RNN ops':>7} {'attn ops':>8} | "
        f"{'RNN ms':>8} {'attn ms':>8} {'ratio':>6}")  # fmt: skip
    rows = []
    for length in lengths:
        x = Tensor(rng.normal(size=(batch, length, dim)))
        r, a = measure(rnn, x, p, repeats), measure(self_attention, x, p, repeats)
        rows.append({"length": length, "rnn": r, "attention": a, "rnn_error": rnn_error})
        out(f"{length:>5} | {r['depth']:>9} {a['depth']:>10} | {r['nodes']:>7} {a['nodes']:>8} | "
            f"{1e3 * r['seconds']:>8.2f} {1e3 * a['seconds']:>8.2f} "
            f"{r['seconds'] / a['seconds']:>6.1f}")  # fmt: skip
    return rows


def plot(rows: list[dict], path: str) -> None:
    """Sequential steps and time against T, log-log (needs matplotlib)."""
    from matplotlib.figure import Figure

    lengths = [row["length"] for row in rows]
    fig = Figure(figsize=(10, 4), layout="constrained")
    depth_ax, time_ax = fig.subplots(1, 2)
    for name, key in (("RNN", "rnn"), ("self-attention", "attention")):
        depth_ax.plot(lengths, [row[key]["depth"] for row in rows], "o-", label=name)
        time_ax.plot(lengths, [1e3 * row[key]["seconds"] for row in rows], "o-", label=name)
    for ax, label in (
        (depth_ax, "sequential steps (graph depth)"),
        (time_ax, "forward+backward ms"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths, [str(length) for length in lengths])
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(label)
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
    depth_ax.set_title("ops that must run one after another")
    time_ax.set_title("wall time on this CPU (numpy)")
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--dim", type=int, default=32, help="embedding size E")
    parser.add_argument("--repeats", type=int, default=3, help="timings per point (best kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (threadpoolctl)")
    parser.add_argument("--plot", metavar="PNG", help="also save a plot (needs matplotlib)")
    args = parser.parse_args()
    rows = run(tuple(args.lengths), args.batch, args.dim, args.repeats, args.seed, args.threads)
    if args.plot:
        plot(rows, args.plot)
        print(f"plot saved to {args.plot}")


if __name__ == "__main__":
    main()
