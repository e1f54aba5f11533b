"""Self-attention step by step (docs/self_attention.md), with small numbers to check by hand.

    python examples/attention_walkthrough.py                    # dim 4, 2 heads, seed 0
    python examples/attention_walkthrough.py --dim 6 --heads 3 --seed 1

Four inputs x_1..x_4 are embedded (a_i = W x_i) and projected to q_i, k_i, v_i. The attention of
query 1 is computed with an explicit loop, then every output at once in the column form
(A = K^T Q, A-hat = softmax down each column, O = V A-hat) and in the framework's row form, then
with several heads. Each stage is checked against F.scaled_dot_product_attention and
nn.MultiheadAttention given the same weights. Last, the backward of L = sum(O * R) (R random) is
derived in plain numpy (dL/dV, dL/dA-hat, the softmax backward, dL/dQ, dL/dK, dL/dW_q) and put
next to the engine's gradients. Everything is float64: "equal" means a max abs difference below
1e-10 (in practice ~1e-16). Runs in well under a second.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn import Tensor, nn

T = 4  # four inputs, as in docs/self_attention.md
TOL = 1e-10  # float64: the same maths in a different order agrees to ~1e-16


class Report:
    """Prints the walkthrough and records every comparison it calls equal (name -> max |diff|)."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.diffs: dict[str, float] = {}

    def section(self, title: str) -> None:
        self.out(f"\n=== {title} ===")

    def show(self, name: str, value: np.ndarray) -> None:
        text = np.array2string(np.asarray(value), precision=4, suppress_small=True)
        sep = "\n" if "\n" in text else " "
        self.out(f"{name} ={sep}{text}")

    def show_pair(self, name: str, by_hand: np.ndarray, engine: np.ndarray) -> None:
        left, right = (
            np.array2string(m, precision=4, suppress_small=True, max_line_width=200).splitlines()
            for m in (by_hand, engine)
        )
        width = max(len(line) for line in left)
        self.out(f"{name}\n{'by hand':<{width}}   engine")
        for row_left, row_right in zip(left, right):
            self.out(f"{row_left:<{width}}   {row_right}")

    def equal(self, name: str, ours: np.ndarray, reference: np.ndarray) -> None:
        diff = float(np.max(np.abs(np.asarray(ours) - np.asarray(reference))))
        self.diffs[name] = diff
        verdict = "equal    " if diff < TOL else "DIFFERENT"
        self.out(f"  {verdict} {name:<60} max |diff| = {diff:.1e}")


def vec(v: np.ndarray) -> str:
    return np.array2string(v, precision=3, suppress_small=True, max_line_width=200)


def make_numbers(seed: int, dim: int) -> dict[str, np.ndarray]:
    """Inputs (as columns, as in the matrix form), weights with one decimal, loss weights R."""
    rng = np.random.default_rng(seed)

    def small(*shape: int) -> np.ndarray:
        return np.round(rng.normal(0.0, 0.5, shape), 1)  # one decimal: easy to read

    X = rng.integers(-2, 3, size=(dim, T)).astype(np.float64)  # column i is x_{i+1}
    return dict(X=X, W=small(dim, dim), W_q=small(dim, dim), W_k=small(dim, dim),
                W_v=small(dim, dim), W_o=small(dim, dim), R=small(dim, T))  # fmt: skip


def softmax_columns(A: np.ndarray) -> np.ndarray:
    e = np.exp(A - A.max(axis=0, keepdims=True))  # shift by the max: no overflow
    return e / e.sum(axis=0, keepdims=True)


def step_query_one(rep: Report, n: dict, dim: int) -> dict[str, np.ndarray]:
    """docs/self_attention.md section 2: a_i = W x_i; q, k, v; alpha; alpha-hat; b_1 by loops."""
    rep.section("1. embed each input, a_i = W x_i, and project: q_i = W_q a_i, k_i, v_i")
    for m in ("W", "W_q", "W_k", "W_v"):
        rep.show(m, n[m])
    a = [n["W"] @ n["X"][:, i] for i in range(T)]
    q, k, v = ([n[m] @ a[i] for i in range(T)] for m in ("W_q", "W_k", "W_v"))
    for i in range(T):
        rep.out(f"x_{i + 1} = {vec(n['X'][:, i])}  a_{i + 1} = {vec(a[i])}")
        rep.out(f"      q_{i + 1} = {vec(q[i])}  k_{i + 1} = {vec(k[i])}  v_{i + 1} = {vec(v[i])}")
    rep.section("2. query 1 against every key: alpha_{1,i} = q_1 . k_i / sqrt(d)")
    rep.out("The plain score is alpha_{1,i} = q_1 . k_i. The framework (and the paper) divides by")
    rep.out(f"sqrt(d), d = {dim} the length of q, so the softmax does not saturate as d grows;")
    rep.out("we scale too, so that the numbers below match F.scaled_dot_product_attention.")
    alpha = np.zeros(T)
    for i in range(T):
        dot = float(q[0] @ k[i])
        alpha[i] = dot / math.sqrt(dim)
        rep.out(
            f"alpha_1,{i + 1} = q_1 . k_{i + 1} / sqrt({dim}) = {dot:8.4f} / {math.sqrt(dim):.4f}"
            f" = {alpha[i]:8.4f}"
        )
    rep.section("3. softmax: alpha-hat_{1,i} = exp(alpha_{1,i}) / sum_j exp(alpha_{1,j})")
    alpha_hat = np.exp(alpha) / np.exp(alpha).sum()
    rep.show("alpha-hat_1", alpha_hat)
    b1 = np.zeros(dim)
    for i in range(T):
        b1 = b1 + alpha_hat[i] * v[i]
    rep.out(f"b_1 = sum_i alpha-hat_1,i v_i = {vec(b1)}")
    return dict(alpha=alpha, alpha_hat=alpha_hat, b1=b1)


def step_columns(rep: Report, n: dict, loop: dict, dim: int) -> dict[str, np.ndarray]:
    """Section 3, matrix form: I = [a_1 .. a_4], Q = W_q I, A = K^T Q, A-hat, O = V A-hat."""
    rep.section("4. all queries at once, the column form (column i belongs to input i)")
    I = n["W"] @ n["X"]  # (E, T)  # noqa: E741 (the matrix form's name)
    Q, K, V = n["W_q"] @ I, n["W_k"] @ I, n["W_v"] @ I  # (E, T) each
    A = K.T @ Q / math.sqrt(dim)  # (T, T): A[i, j] = k_i . q_j / sqrt(d)
    A_hat = softmax_columns(A)  # column j: the weights of query j
    O = V @ A_hat  # (E, T): column j is b_j  # noqa: E741
    for name, value in (("Q", Q), ("A = K^T Q / sqrt(d)", A), ("A-hat", A_hat), ("O", O)):
        rep.show(name, value)
    rep.equal("column 1 of A == the loop's alpha_1", A[:, 0], loop["alpha"])
    rep.equal("column 1 of A-hat == the loop's alpha-hat_1", A_hat[:, 0], loop["alpha_hat"])
    rep.equal("each column of A-hat sums to 1", A_hat.sum(axis=0), np.ones(T))
    rep.equal("column 1 of O == the loop's b_1", O[:, 0], loop["b1"])
    return dict(I=I, Q=Q, K=K, V=V, A=A, A_hat=A_hat, O=O)


def step_rows(rep: Report, n: dict, col: dict, dim: int) -> dict:
    """The framework's layout: one token per ROW, so every matrix above appears transposed."""
    rep.section("5. the framework's row form: (T, E), one token per row")
    rep.out("q = a W_q^T = Q^T, scores = q k^T / sqrt(d) = A^T, softmax over each ROW, o = O^T")
    x = Tensor(n["X"].T.copy())  # (T, E) constant input
    params = {m: Tensor(n[m], requires_grad=True) for m in ("W", "W_q", "W_k", "W_v")}
    a = F.linear(x, params["W"])  # (T, E)
    q, k, v = (F.linear(a, params[m]) for m in ("W_q", "W_k", "W_v"))  # (T, E) each
    scores = (q @ k.T) * (1.0 / math.sqrt(dim))  # (T, T)
    weights = scores.softmax(-1)  # (T, T)
    o = weights @ v  # (T, E)
    rep.equal("engine weights (rows) == A-hat^T", weights.data, col["A_hat"].T)
    rep.equal("engine o == O^T", o.data, col["O"].T)
    sdpa = F.scaled_dot_product_attention(q, k, v)
    rep.equal("F.scaled_dot_product_attention(q, k, v) == O^T", sdpa.data, col["O"].T)
    mha = attention_module(n, dim, heads=1, out_proj=np.eye(dim))
    out, w = mha(Tensor(col["I"].T[None]), Tensor(col["I"].T[None]), Tensor(col["I"].T[None]))
    rep.out("nn.MultiheadAttention(1 head) with q_proj.weight = W_q (etc.), zero biases and an")
    rep.out("identity out_proj, fed the embeddings a_i as a batch of one (1, T, E):")
    rep.equal("MultiheadAttention output == O^T", out.data[0], col["O"].T)
    rep.equal("MultiheadAttention weights == A-hat^T", w.data[0], col["A_hat"].T)
    return dict(x=x, params=params, a=a, q=q, k=k, v=v, scores=scores, weights=weights, o=o)


def attention_module(n: dict, dim: int, heads: int, out_proj: np.ndarray) -> nn.MultiheadAttention:
    """nn.MultiheadAttention in float64 with our weights copied in and zero biases."""
    mha = nn.MultiheadAttention(dim, heads).double()
    for proj, weight in ((mha.q_proj, n["W_q"]), (mha.k_proj, n["W_k"]), (mha.v_proj, n["W_v"]),
                         (mha.out_proj, out_proj)):  # fmt: skip
        proj.weight.data = weight.copy()
        proj.bias.data = np.zeros(dim)
    return mha


def step_heads(rep: Report, n: dict, col: dict, dim: int, heads: int) -> None:
    """Section 6, several heads: each q_i, k_i, v_i is split into `heads` pieces, one per head."""
    d = dim // heads
    rep.section(f"6. {heads} heads: rows h*{d}..(h+1)*{d} of Q, K, V belong to head h")
    rep.out(f"Each head scales by 1/sqrt({d}), its own size. The heads' outputs are stacked back")
    rep.out("into (E, T) and mixed by W_o (the output projection).")
    outs, hats = [], []
    for h in range(heads):
        rows = slice(h * d, (h + 1) * d)
        A_h = col["K"][rows].T @ col["Q"][rows] / math.sqrt(d)  # (T, T)
        hats.append(softmax_columns(A_h))
        outs.append(col["V"][rows] @ hats[-1])  # (D, T)
        rep.show(f"A-hat, head {h + 1}", hats[-1])
    final = n["W_o"] @ np.concatenate(outs, axis=0)  # (E, T)
    rep.show("W_o [O_1; O_2; ...]", final)
    per_head = Tensor(col["Q"].T.reshape(T, heads, d).transpose(1, 0, 2).copy())  # (H, T, D)
    k_heads = Tensor(col["K"].T.reshape(T, heads, d).transpose(1, 0, 2).copy())  # (H, T, D)
    v_heads = Tensor(col["V"].T.reshape(T, heads, d).transpose(1, 0, 2).copy())  # (H, T, D)
    sdpa = F.scaled_dot_product_attention(per_head, k_heads, v_heads)  # (H, T, D)
    for h in range(heads):
        rep.equal(f"head {h + 1}: F.scaled_dot_product_attention == O_h^T", sdpa.data[h], outs[h].T)
    mha = attention_module(n, dim, heads, out_proj=n["W_o"])
    emb = Tensor(col["I"].T[None])  # (1, T, E)
    out, w = mha(emb, emb, emb, average_attn_weights=False)  # (1, T, E), (1, H, T, T)
    rep.equal(f"MultiheadAttention({heads} heads) output == (W_o O)^T", out.data[0], final.T)
    for h in range(heads):
        rep.equal(f"MultiheadAttention head {h + 1} weights == A-hat_h^T", w.data[0, h], hats[h].T)


def numpy_backward(n: dict, col: dict, dim: int) -> dict[str, np.ndarray]:
    """The chain rule by hand for L = sum(O * R), O = V A-hat, A-hat = softmax(K^T Q / sqrt(d))."""
    g = {"O": n["R"]}  # dL/dO = R
    g["V"] = g["O"] @ col["A_hat"].T  # O = V A-hat  ->  dV = dO A-hat^T
    g["A_hat"] = col["V"].T @ g["O"]  # ... and dA-hat = V^T dO
    # Softmax down each column p: dA = J^T dA-hat with J = diag(p) - p p^T, i.e. p * (g - p.g).
    p = col["A_hat"]
    g["A"] = p * (g["A_hat"] - (g["A_hat"] * p).sum(axis=0, keepdims=True))
    g["S"] = g["A"] / math.sqrt(dim)  # A = S / sqrt(d) with S = K^T Q
    g["Q"] = col["K"] @ g["S"]  # S = K^T Q  ->  dQ = K dS
    g["K"] = col["Q"] @ g["S"].T  # ... and dK = Q dS^T
    for m in ("Q", "K", "V"):
        g[f"W_{m.lower()}"] = g[m] @ col["I"].T  # Q = W_q I  ->  dW_q = dQ I^T
    g["I"] = n["W_q"].T @ g["Q"] + n["W_k"].T @ g["K"] + n["W_v"].T @ g["V"]  # I feeds all three
    g["W"] = g["I"] @ n["X"].T  # I = W X  ->  dW = dI X^T
    return g


def step_backward(rep: Report, n: dict, col: dict, rows: dict, dim: int) -> None:
    """The backward by hand next to the engine's, for L = sum(O * R)."""
    rep.section("7. backward of L = sum(O * R), R random: by hand (numpy) vs the engine")
    rep.show("R", n["R"])
    g = numpy_backward(n, col, dim)
    p, ga = col["A_hat"][:, 0], g["A_hat"][:, 0]
    J = np.diag(p) - np.outer(p, p)  # softmax Jacobian of column 1 (symmetric)
    rep.show("softmax Jacobian of column 1, J = diag(p) - p p^T", J)
    rep.equal("J^T dA-hat[:, 1] == p * (g - p.g), the one-line form", J.T @ ga, g["A"][:, 0])
    seen = {}
    for name in ("a", "q", "k", "v", "scores", "weights"):
        rows[name].register_hook(lambda grad, name=name: seen.__setitem__(name, grad.data))
    loss = (rows["o"] * Tensor(n["R"].T.copy())).sum()
    loss.backward()
    rep.out(f"L = {loss.item():.6f}; the engine's row-form gradients are transposed back:")
    pairs = (("dL/dV", "V", seen["v"].T), ("dL/dA-hat", "A_hat", seen["weights"].T),
             ("dL/dA (softmax backward)", "A", seen["scores"].T), ("dL/dQ", "Q", seen["q"].T),
             ("dL/dK", "K", seen["k"].T), ("dL/dI (the a_i)", "I", seen["a"].T))  # fmt: skip
    for label, key, engine in pairs:
        rep.show_pair(label, g[key], engine)
        rep.equal(f"{label}: by hand == engine (register_hook)", g[key], engine)
    for m in ("W_q", "W_k", "W_v", "W"):
        engine = rows["params"][m].grad.data
        if m == "W_q":
            rep.show_pair("dL/dW_q = dL/dQ I^T", g[m], engine)
        rep.equal(f"dL/d{m}: by hand == engine {m}.grad", g[m], engine)
    mha = attention_module(n, dim, heads=1, out_proj=np.eye(dim))
    emb = Tensor(col["I"].T[None])  # (1, T, E)
    out, _ = mha(emb, emb, emb, need_weights=False)
    (out * Tensor(n["R"].T[None].copy())).sum().backward()
    rep.equal("dL/dW_q: by hand == MultiheadAttention q_proj.weight.grad", g["W_q"],
              mha.q_proj.weight.grad.data)  # fmt: skip


def run(seed: int = 0, dim: int = 4, heads: int = 2, out: Callable[[str], None] = print) -> dict:
    """The whole walkthrough; returns {comparison: max abs difference} for everything it checks."""
    if dim < 1 or heads < 1 or dim % heads:
        raise ValueError(f"attention_walkthrough: dim {dim} must be a multiple of heads {heads}")
    rep = Report(out)
    n = make_numbers(seed, dim)
    loop = step_query_one(rep, n, dim)
    col = step_columns(rep, n, loop, dim)
    rows = step_rows(rep, n, col, dim)
    step_heads(rep, n, col, dim, heads)
    step_backward(rep, n, col, rows, dim)
    worst = max(rep.diffs.values())
    rep.section(f"{len(rep.diffs)} comparisons, largest difference {worst:.1e} (tolerance {TOL})")
    return rep.diffs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the example numbers")
    parser.add_argument("--dim", type=int, default=4, help="embedding size E (= d for one head)")
    parser.add_argument("--heads", type=int, default=2, help="heads in section 6 (divides dim)")
    args = parser.parse_args()
    if args.dim < 1 or args.heads < 1 or args.dim % args.heads:
        parser.error(f"--dim {args.dim} must be a positive multiple of --heads {args.heads}")
    diffs = run(args.seed, args.dim, args.heads)
    if max(diffs.values()) >= TOL:
        raise SystemExit("some comparison differs: see DIFFERENT above")


if __name__ == "__main__":
    main()
