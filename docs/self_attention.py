# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Self-attention and the transformer, from a loop to the code (notebook)
#
# This notebook runs the walkthrough of [self_attention.md](self_attention.md): each step is
# computed with small numbers, with the framework, and checked (an `assert` in each cell, so
# a cell that runs is a check that holds). The prose is short here; the markdown file has the
# full text of each section. Everything is float64, numpy only, and runs in a few seconds.
#
# The text source of this notebook is `docs/self_attention.py` (jupytext "percent" format);
# `python docs/build_notebook.py` regenerates `docs/self_attention.ipynb` from it and runs it.
#
# **Setup.** Run it from a clone of the repository (any folder inside it: Jupyter and VS Code
# start in `docs/`). On Colab: upload or clone the repository, `%cd` into it, run
# `!pip install -e .`, then run all cells.

# %%
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np


def repo_root(start: Path) -> Path:
    """The first folder at or above `start` holding tinygrad_attn/ and examples/."""
    for folder in (start, *start.parents):
        if (folder / "tinygrad_attn").is_dir() and (folder / "examples").is_dir():
            return folder
    raise RuntimeError(f"run this notebook from inside a clone of the repository, not {start}")


ROOT = repo_root(Path.cwd().resolve())
for path in (ROOT, ROOT / "examples"):  # the framework, and the walkthrough scripts' helpers
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import attention_walkthrough as walk
import layernorm_vs_batchnorm as norms
import rnn_vs_attention

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from models.positional import sinusoidal_table
from tinygrad_attn import Tensor, nn

np.set_printoptions(precision=4, suppress=True)
tg.manual_seed(0)  # the layers' initial weights below: the same numbers on every run
TOL = 1e-10  # float64: the same maths in another order agrees to ~1e-16


def max_diff(a, b) -> float:
    """Largest absolute difference of two arrays (or Tensors)."""
    a, b = (x.data if isinstance(x, Tensor) else np.asarray(x) for x in (a, b))
    return float(np.max(np.abs(a - b)))


# %% [markdown]
# ## 1. Why not an RNN
#
# An RNN computes h_t = tanh(W h_{t-1} + U x_t): step t needs step t-1, so its T steps run one
# after another. Self-attention computes every output from all inputs in one step. Measured on
# the autograd graph itself, the longest chain of ops that must run one after the other (the
# graph's depth) grows by 3 per position for the RNN (linear, add, tanh) and stays the same for
# attention. (`python examples/rnn_vs_attention.py` also times both.)

# %%
params = rnn_vs_attention.make_params(dim=4, seed=0)
rng = np.random.default_rng(1)
print(f"{'T':>3} | {'RNN depth':>9} | {'attention depth':>15}")
depths = {}
for length in (4, 8, 16):
    x = Tensor(rng.normal(size=(2, length, 4)))  # (B, T, E)
    rnn_depth, _ = rnn_vs_attention.graph_depth(rnn_vs_attention.rnn(x, params))
    attn_depth, _ = rnn_vs_attention.graph_depth(rnn_vs_attention.self_attention(x, params))
    depths[length] = (rnn_depth, attn_depth)
    print(f"{length:>3} | {rnn_depth:>9} | {attn_depth:>15}")
assert depths[16][0] - depths[4][0] == 3 * (16 - 4)  # the RNN: 3 more ops in the chain per step
assert depths[4][1] == depths[8][1] == depths[16][1]  # attention: the same at any length

# %% [markdown]
# ## 2. One query, as a loop
#
# Four inputs x_1 .. x_4 are embedded, a_i = W x_i, and each a_i gives a **query**
# q_i = W_q a_i (what position i looks for), a **key** k_i = W_k a_i (what it offers) and a
# **value** v_i = W_v a_i (what it hands over). Query 1 is compared with every key, the scores
# go through a softmax, and b_1 is the weighted sum of the values:
#
#     alpha_{1,i} = q_1 · k_i / sqrt(D)        alpha-hat_1 = softmax(alpha_1)
#     b_1 = sum_i alpha-hat_{1,i} v_i
#
# (The division by sqrt(D) is the paper's and the framework's: it keeps the scores near unit
# scale so the softmax does not saturate.) The numbers are the walkthrough script's: integer
# inputs, weights with one decimal, E = D = 4.

# %%
E, T = 4, walk.T
n = walk.make_numbers(seed=0, dim=E)  # X (E, T): column i is x_{i+1}; W, W_q, W_k, W_v, W_o
a = [n["W"] @ n["X"][:, i] for i in range(T)]
q, k, v = ([n[m] @ a[i] for i in range(T)] for m in ("W_q", "W_k", "W_v"))
alpha = np.array([q[0] @ k[i] / math.sqrt(E) for i in range(T)])  # query 1 against every key
alpha_hat = np.exp(alpha) / np.exp(alpha).sum()
b1 = sum(alpha_hat[i] * v[i] for i in range(T))
print("alpha_1     =", alpha)
print("alpha-hat_1 =", alpha_hat, f" (sum {alpha_hat.sum():.4f})")
print("b_1         =", b1)
assert abs(alpha_hat.sum() - 1) < TOL and (alpha_hat > 0).all()

# %% [markdown]
# ## 3. All queries at once: the matrix form
#
# With the inputs as the columns of I = [a_1 .. a_4] (E, T), the loops become products:
#
#     Q = W_q I,  K = W_k I,  V = W_v I       each (D, T)
#     A = K^T Q / sqrt(D)                     (T, T): column j holds query j's scores
#     A-hat = softmax(A) down each column,    O = V A-hat   (D, T): column j is b_j
#
# Column 1 of each is what the loop computed for query 1.

# %%
I = n["W"] @ n["X"]  # noqa: E741 (the matrix form's name)
Q, K, V = n["W_q"] @ I, n["W_k"] @ I, n["W_v"] @ I
A = K.T @ Q / math.sqrt(E)
A_hat = walk.softmax_columns(A)
O = V @ A_hat
print("A-hat =", A_hat, sep="\n")
print("O =", O, sep="\n")
assert max_diff(A[:, 0], alpha) < TOL and max_diff(A_hat[:, 0], alpha_hat) < TOL
assert max_diff(O[:, 0], b1) < TOL
assert max_diff(A_hat.sum(axis=0), np.ones(T)) < TOL  # every column is a set of weights

# %% [markdown]
# ## 4. The same thing in row-major code
#
# The framework (like PyTorch) keeps one position per **row**: x is (T, E) and a linear layer
# computes x W^T. Everything above appears transposed:
#
#     Q = X W_q^T,  S = Q K^T / sqrt(D),  P = softmax(S, dim=-1) (each ROW sums to 1),  O = P V
#
# Built from the elementary ops, with `F.scaled_dot_product_attention` (one fused op) and with
# `nn.MultiheadAttention` (1 head, our weights copied in by the script's `attention_module`,
# zero biases, identity output projection), all three agree with the column form.

# %%
x = Tensor(n["X"].T.copy())  # (T, E): row i is x_{i+1}
W = {m: Tensor(n[m], requires_grad=True) for m in ("W", "W_q", "W_k", "W_v")}
emb = F.linear(x, W["W"])  # (T, E): row i is a_{i+1}
q_rows, k_rows, v_rows = (F.linear(emb, W[m]) for m in ("W_q", "W_k", "W_v"))
scores = (q_rows @ k_rows.T) * (1 / math.sqrt(E))  # (T, T) = A^T
weights = scores.softmax(-1)  # (T, T) = A-hat^T
o_rows = weights @ v_rows  # (T, E) = O^T
sdpa = F.scaled_dot_product_attention(q_rows, k_rows, v_rows)
mha = walk.attention_module(n, E, heads=1, out_proj=np.eye(E))
mha_out, mha_weights = mha(emb[None], emb[None], emb[None])  # a batch of one: (1, T, E)
print("weights (rows) =", weights.data, sep="\n")
for name, ours, column_form in (
    ("elementary ops: weights == A-hat^T", weights, A_hat.T),
    ("elementary ops: o == O^T", o_rows, O.T),
    ("F.scaled_dot_product_attention == O^T", sdpa, O.T),
    ("nn.MultiheadAttention output == O^T", mha_out.data[0], O.T),
    ("nn.MultiheadAttention weights == A-hat^T", mha_weights.data[0], A_hat.T),
):
    diff = max_diff(ours, column_form)
    print(f"{name:<42} max |diff| {diff:.0e}")
    assert diff < TOL

# %% [markdown]
# The weights as a picture (row j: where query j looks), if matplotlib is installed:

# %%
try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no heatmap (pip install matplotlib to see it)")
if plt is not None:
    fig, ax = plt.subplots(figsize=(3.2, 2.8))
    image = ax.imshow(weights.data, cmap="viridis", vmin=0, vmax=1)
    labels = [f"x_{i + 1}" for i in range(T)]
    ax.set(xticks=range(T), yticks=range(T), xticklabels=labels, yticklabels=labels)
    ax.set(xlabel="key", ylabel="query", title="attention weights P")
    for (row, col), value in np.ndenumerate(weights.data):
        ax.text(col, row, f"{value:.2f}", ha="center", va="center", color="white", fontsize=8)
    fig.colorbar(image, ax=ax)
    plt.show()

# %% [markdown]
# ## 5. The backward pass
#
# With G = dL/dO, the chain rule through the four lines of section 4, last line first:
#
#     dL/dV = P^T G
#     dL/dP = G V^T
#     dL/dS = P ⊙ (dL/dP - rowsum(dL/dP ⊙ P))      the softmax backward, row by row
#     dL/dQ = dL/dS K / sqrt(D),   dL/dK = (dL/dS)^T Q / sqrt(D)
#
# Below: these lines in numpy for L = sum(O ⊙ R), R random, next to the gradients the engine
# gives through the elementary ops and through the fused op, whose backward uses the shortcut
# rowsum(dL/dP ⊙ P) = rowsum(G ⊙ O), a (T, D) product instead of a (T, T) one.

# %%
rng = np.random.default_rng(0)
qn, kn, vn, G = (rng.normal(size=(T, E)) for _ in range(4))  # G = dL/dO = R
P = np.exp(qn @ kn.T / math.sqrt(E))
P /= P.sum(axis=-1, keepdims=True)
On = P @ vn
dV = P.T @ G
dP = G @ vn.T
dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True))
dQ, dK = dS @ kn / math.sqrt(E), dS.T @ qn / math.sqrt(E)
assert max_diff((dP * P).sum(-1), (G * On).sum(-1)) < TOL  # the fused op's shortcut


def engine_grads(attention) -> list[np.ndarray]:
    """dL/dq, dL/dk, dL/dv from the engine for L = sum(attention(q, k, v) * G)."""
    leaves = [Tensor(m.copy(), requires_grad=True) for m in (qn, kn, vn)]
    (attention(*leaves) * Tensor(G)).sum().backward()
    return [leaf.grad.data for leaf in leaves]


def elementary(q, k, v):
    """Attention from @, * and softmax: the engine chains MatMul's and Softmax's backwards."""
    return ((q @ k.T) * (1 / math.sqrt(E))).softmax(-1) @ v


for how, attention in (
    ("elementary ops", elementary),
    ("fused op", F.scaled_dot_product_attention),
):
    for name, by_hand, engine in zip(
        ("dL/dQ", "dL/dK", "dL/dV"), (dQ, dK, dV), engine_grads(attention)
    ):
        diff = max_diff(by_hand, engine)
        print(f"{how:<15} {name}: by hand vs engine, max |diff| {diff:.0e}")
        assert diff < TOL

# %% [markdown]
# `tg.gradcheck` compares the engine's gradients with central differences (float64, a random
# upstream gradient), here with a batch of 2, different lengths for queries and keys, and a
# causal mask:

# %%
q3, k3, v3 = (
    Tensor(rng.normal(size=shape), requires_grad=True)
    for shape in ((2, 3, 4), (2, 5, 4), (2, 5, 2))
)
assert tg.gradcheck(F.scaled_dot_product_attention, [q3, k3, v3])
assert tg.gradcheck(
    lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [q3, k3, v3]
)
print("gradcheck passed: plain and causal")

# %% [markdown]
# One consequence: adding the same number to every score of a row leaves the softmax
# unchanged, so the key projection's **bias** gets no gradient (only rounding noise), while
# the query projection's does:

# %%
layer = nn.MultiheadAttention(E, 1).double()
tokens = Tensor(rng.normal(size=(1, T, E)))
out, _ = layer(tokens, tokens, tokens, need_weights=False)
(out * Tensor(rng.normal(size=out.shape))).sum().backward()
print(f"largest |grad| of k_proj.bias: {np.abs(layer.k_proj.bias.grad.data).max():.0e}")
print(f"largest |grad| of q_proj.bias: {np.abs(layer.q_proj.bias.grad.data).max():.2f}")
assert np.abs(layer.k_proj.bias.grad.data).max() < TOL < np.abs(layer.q_proj.bias.grad.data).max()

# %% [markdown]
# ## 6. Several heads
#
# H heads split each q_i, k_i, v_i into H pieces of width D = E / H; each head runs the
# attention above on its piece (scaling by its own sqrt(D)), and the heads' outputs are stacked
# and mixed by W_o. In the code the split is a reshape (T, E) -> (T, H, D) and a transpose to
# (H, T, D), so the heads are one batched product. Checked against `nn.MultiheadAttention`
# with two heads and `average_attn_weights=False` (one weight matrix per head):

# %%
H = 2
D = E // H
heads_out, heads_hat = [], []
for h in range(H):
    rows = slice(h * D, (h + 1) * D)  # head h's rows of Q, K, V (column form)
    heads_hat.append(walk.softmax_columns(K[rows].T @ Q[rows] / math.sqrt(D)))
    heads_out.append(V[rows] @ heads_hat[-1])  # (D, T)
final = n["W_o"] @ np.concatenate(heads_out)  # (E, T)
mha2 = walk.attention_module(n, E, heads=H, out_proj=n["W_o"])
out2, w2 = mha2(emb[None], emb[None], emb[None], average_attn_weights=False)  # w2: (1, H, T, T)
split = Tensor(Q.T.reshape(T, H, D).transpose(1, 0, 2).copy())  # (H, T, D): the reshape
per_head = F.scaled_dot_product_attention(
    split, *(Tensor(M.T.reshape(T, H, D).transpose(1, 0, 2).copy()) for M in (K, V))
)
for h in range(H):
    print(f"head {h + 1}: query 1 puts its weight", heads_hat[h][:, 0], "on the 4 keys")
    assert max_diff(w2.data[0, h], heads_hat[h].T) < TOL
    assert max_diff(per_head.data[h], heads_out[h].T) < TOL
assert max_diff(out2.data[0], final.T) < TOL

# %% [markdown]
# ## 7. Positions
#
# Attention by itself ignores order: shuffle the inputs and the outputs are shuffled the same
# way. Adding a position vector PE(t) to input t breaks that symmetry. The sinusoidal table
# (`models/positional.py`) uses sines and cosines at geometrically spaced frequencies: nearby
# positions get similar vectors, and a shift by k positions is the same linear map (a rotation
# of each (sin, cos) pair by k times its frequency) at every position t.

# %%
layer = nn.MultiheadAttention(E, 2).double()
seq = rng.normal(size=(1, 6, E))
perm = np.array([3, 0, 5, 1, 4, 2])


def attend(tokens: np.ndarray) -> np.ndarray:
    """The layer's self-attention output for a (1, T, E) array."""
    t = Tensor(tokens)
    return layer(t, t, t, need_weights=False)[0].data


shuffle_diff = max_diff(attend(seq[:, perm]), attend(seq)[:, perm])
print(f"shuffled inputs, shuffled outputs: max |diff| {shuffle_diff:.0e}")
assert shuffle_diff < TOL
pe = sinusoidal_table(6, E).astype(np.float64)  # (T, E)
with_pe, shuffled_with_pe = attend(seq + pe), attend(seq[:, perm] + pe)
print(f"with positions added they differ by {max_diff(shuffled_with_pe, with_pe[:, perm]):.2f}")
assert max_diff(shuffled_with_pe, with_pe[:, perm]) > 0.01

table = sinusoidal_table(32, 8).astype(np.float64)  # (positions, E = 8)
offsets = np.arange(5)
similarity = np.array([[table[t] @ table[t + k] for k in offsets] for t in (0, 10, 20)])
print("PE(t) . PE(t + k) for k = 0..4, at t = 0, 10 and 20:", similarity, sep="\n")
assert max_diff(similarity, similarity[:1]) < 1e-5  # it depends on the offset k alone
shift = 3
frequency = np.exp(-math.log(10000.0) * np.arange(0, 8, 2) / 8)  # one per (sin, cos) pair
M = np.zeros((8, 8))
for i, w in enumerate(frequency):  # [sin, cos](t + k) = rotation(k w) [sin, cos](t)
    c, s = math.cos(shift * w), math.sin(shift * w)
    M[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, s], [-s, c]]
shift_diff = max_diff(table[shift:], table[:-shift] @ M.T)
print(f"PE(t + 3) == M PE(t) for every t: max |diff| {shift_diff:.0e}")
assert shift_diff < 1e-6  # the table is stored in float32

# %% [markdown]
# ## 8. The encoder–decoder transformer
#
# The translation model (`models/transformer.py`) is the paper's encoder–decoder; section 8 of
# [self_attention.md](self_attention.md#8-the-encoderdecoder-transformer) walks through it. To
# see the decoder write 机器学习 as "machine learning" one word at a time, with every head's
# cross-attention weights, train the model and run
#
#     python examples/translate.py --walk 机器学习
#
# (this notebook trains nothing). One part needs no training: the decoder's **causal mask**.
# Position t may look only at positions <= t, so in training the whole target can go through
# in one pass ("teacher forcing") and row t comes out exactly as it would in the word-by-word
# loop, which sees only the first t + 1 words:

# %%
qd, kd, vd = (Tensor(rng.normal(size=(5, E))) for _ in range(3))
one_pass = F.scaled_dot_product_attention(qd, kd, vd, is_causal=True).data  # (T, E)
for t in range(5):
    step = F.scaled_dot_product_attention(qd[t : t + 1], kd[: t + 1], vd[: t + 1]).data
    assert max_diff(one_pass[t], step[0]) < TOL
print("each row of the one-pass causal attention == the loop's step that sees only words 0..t")

# %% [markdown]
# ## 9. Layer norm vs batch norm
#
# Both subtract a mean and divide by a standard deviation; they differ in which numbers the
# statistics cover. **Layer norm** normalises each token's E features on its own; **batch
# norm** normalises each feature over all B x T tokens of the batch, so a token's output
# depends on the other tokens and on padding. The batch is the script's
# (`examples/layernorm_vs_batchnorm.py`): B = 3 sequences of T = 4 tokens, E = 5 features on
# very different scales, and padding (zeros) after each sequence's length.

# %%
xb, lengths = norms.make_batch(seed=0)  # (B, T, E), lengths (B,)
ln = norms.layer_norm(xb)
bn, _ = norms.batch_norm_train(xb)
real = np.arange(norms.T)[None, :] < lengths[:, None]  # (B, T): True at real tokens
print("layer norm: largest |mean| of a token's features:", f"{np.abs(ln.mean(-1)).max():.0e}")
print(
    "batch norm: largest |mean| of a feature over the batch:",
    f"{np.abs(bn.mean((0, 1))).max():.0e}",
)
print("batch norm, mean of each token (not normalised):", bn.mean(-1), sep="\n")
assert np.abs(ln.mean(-1)).max() < TOL and np.abs(bn.mean((0, 1))).max() < TOL
assert np.allclose(ln.var(-1)[real], 1, atol=1e-3) and np.allclose(bn.var((0, 1)), 1, atol=1e-3)

padded = np.concatenate([xb, np.zeros((norms.B, 4, norms.E))], axis=1)  # 4 more pad positions
bn_change = max_diff(norms.batch_norm_train(padded)[0][:, : norms.T][real], bn[real])
ln_change = max_diff(norms.layer_norm(padded)[:, : norms.T][real], ln[real])
print(
    f"more padding changes real tokens: batch norm by {bn_change:.3f}, layer norm {ln_change:.0e}"
)
assert bn_change > 0.1 and ln_change < TOL
try:
    nn.BatchNorm1d(norms.E).double()(Tensor(xb[0, :1]))  # one token, training mode
except ValueError as error:
    print("batch norm on a single token:", error)
else:
    raise AssertionError("batch norm should refuse a batch of one token in training")

# %% [markdown]
# That is why the transformer uses layer norm: sequences are padded to different lengths and
# decoded one token at a time. `python examples/layernorm_vs_batchnorm.py` also shows eval
# mode's running statistics. Next: [the API on one page](api.md), or the code itself, starting
# with `tinygrad_attn/ops/softmax.py` and `tinygrad_attn/ops/attention.py`.
