"""The exercises, in order: what each teaches, the library op it mirrors, what the stub asks
for and its hints. The catalogue of known mistakes is in catalogue.py, the inputs in cases.py.

Adding an exercise: an `Exercise` here, a fixed Case and a strategy in cases.py, its mistakes
in catalogue.py (and a property in properties.py if it has one); docs/learn.md says more.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinygrad_attn.autograd import Function
from tinygrad_attn.learn.attention_op import CausalAttention
from tinygrad_attn.ops import activations, arithmetic, matmul, norm, reduce, softmax
from tinygrad_attn.ops import nn as nn_ops


@dataclass(frozen=True)
class Mistake:
    """A named wrong backward (catalogue.py): `body` is the source text of
    backward(ctx, grad_out), `says` the mistake in words."""

    name: str
    says: str
    body: str


@dataclass(frozen=True)
class Exercise:
    """One exercise: `op` is the library class whose forward the stub copies and whose
    numbers the grader compares with; the learner's class is `op`'s name in the stub file."""

    name: str
    op: type[Function]
    teaches: str
    inputs: tuple[str, ...]
    task: str  # the stub's docstring: what to derive, without the answer
    hints: tuple[str, ...]
    strict_shapes: bool = False  # the gradient must come back in the input's shape

    @property
    def class_name(self) -> str:
        """The class the learner's file must define (the library op's name)."""
        return self.op.__name__


_SHAPES_NOTE = (
    "Return each gradient in its input's shape. (The engine would sum a broadcast gradient\n"
    "    back for you; this exercise is about doing it yourself, so the grader does not.)"
)

EXERCISES: list[Exercise] = [
    Exercise("mul", arithmetic.Mul, "the product rule, and un-broadcasting", ("a", "b"),
             f"""out = a * b, with numpy broadcasting.

    Shapes: a and b broadcast together to out's shape; grad_out has out's shape.
    Derive dL/da and dL/db from dL/dout = grad_out. Broadcasting copies an element of a
    to several outputs: what does the chain rule do with the gradients of those copies?
    {_SHAPES_NOTE}""",
             ("d(a*b)/da = b: start from grad_out * b, which has out's shape.",
              "An input axis of size 1 (or missing in front) was stretched: its gradient is the "
              "sum over that axis.",
              "unbroadcast(g, shape) (imported in your file) sums g back to shape; or sum the "
              "leading axes, then the size-1 axes with keepdims=True."),
             strict_shapes=True),  # fmt: skip
    Exercise("matmul", matmul.MatMul, "the matrix chain rule and broadcast batch dims",
             ("a", "b"), f"""out = a @ b (np.matmul), batched.

    Shapes: a (..., N, K), b (..., K, M) -> out (..., N, M); the batch dims broadcast (the
    grader uses 2-D and higher operands only). Derive dL/da (..., N, K) and dL/db (..., K, M)
    from grad_out (..., N, M): write out[n, m] = sum_k a[n, k] b[k, m] and differentiate one
    entry; then let the shapes tell you which factor is transposed and on which side.
    {_SHAPES_NOTE}""",
             ("d out[n, m] / d a[n, k] = b[k, m]: so da[n, k] = sum_m grad_out[n, m] b[k, m].",
              "That sum is a product with b transposed: the shapes (N, M) x (M, K) -> (N, K) "
              "leave one way to write it. np.swapaxes(x, -1, -2) transposes the last two axes.",
              "A batch dim of size 1 (or missing) in b was broadcast over a's batch: sum db over "
              "it, e.g. with unbroadcast(db, b.shape)."),
             strict_shapes=True),  # fmt: skip
    Exercise("sum", reduce.Sum, "reductions: dim and keepdim", ("x",),
             """out = x.sum(dim, keepdim).

    Shapes: x (...) -> out with the axes in dim removed (kept as size 1 if keepdim).
    ctx.shape, ctx.dim (a tuple of non-negative axes) and ctx.keepdim are saved for you.
    Derive dL/dx (x's shape): how much does each x element move the output it is summed
    into? Mind the shape of grad_out when keepdim is False.""",
             ("Every x element moves its sum by exactly 1, so dx is grad_out copied back over the "
              "summed axes.",
              "With keepdim=False grad_out has lost the summed axes; np.expand_dims(grad_out, "
              "ctx.dim) puts them back as size 1.",
              "np.broadcast_to(g, ctx.shape) then copies it over them.")),  # fmt: skip
    Exercise("tanh", activations.Tanh, "a derivative written with the saved output", ("x",),
             """y = tanh(x), elementwise.

    Shapes: x (...) -> y (...); y is saved (not x).
    Derive dL/dx = grad_out * d tanh(x)/dx, written with y alone.""",
             ("tanh = sinh / cosh; differentiate the quotient.",
              "d tanh/dx = 1 / cosh²(x); and cosh² - sinh² = 1.")),  # fmt: skip
    Exercise("softmax", softmax.Softmax, "a Jacobian that couples a whole row", ("x",),
             """y = softmax(x) along ctx.dim.

    Shapes: x (...) -> y (...); y and ctx.dim are saved.
    Derive dL/dx from grad_out. Every y of a row depends on every x of that row: write
    dy_i/dx_j for i == j and i != j, then contract the Jacobian with grad_out without
    building it (an (N, N) matrix per row is not needed). The row is along ctx.dim, which
    need not be the last axis.""",
             ("dy_i/dx_j = y_i (delta_ij - y_j).",
              "Contracted with g: dx_j = sum_i g_i y_i (delta_ij - y_j) = y_j g_j - y_j sum_i g_i "
              "y_i.",
              "np.sum(..., axis=ctx.dim, keepdims=True) keeps the row sum broadcastable.")),
    Exercise("log_softmax", softmax.LogSoftmax, "log-sum-exp and its gradient", ("x",),
             """y = log_softmax(x) = x - logsumexp(x) along ctx.dim.

    Shapes: x (...) -> y (...); y (the log-probabilities) and ctx.dim are saved.
    Derive dL/dx: differentiate x_i - logsumexp(x) with respect to x_j, contract with
    grad_out; the probabilities you need can be had from y.""",
             ("d logsumexp(x)/dx_j = softmax(x)_j.",
              "softmax(x) = exp(y).",
              "dx_j = g_j - softmax_j sum_i g_i; sum along ctx.dim with keepdims=True.")),
    Exercise("cross_entropy", nn_ops.CrossEntropy, "a fused loss with label smoothing",
             ("logits",), """loss = cross entropy of logits against integer targets, fused.

    Shapes: logits (..., C), target (...) -> () for "mean"/"sum", target's shape for "none".
    Saved: probs (softmax of the logits, rows flattened to (R, C)), ctx.rows, ctx.target (ignored
    rows point at class 0), ctx.valid (R,) (False where target == ignore_index), ctx.count
    (the non-ignored rows), ctx.smoothing, ctx.reduction, ctx.logits_shape.
    With smoothing s the target distribution is q = (1 - s) onehot + s / C and the row loss
    is -sum_c q_c log p_c. Derive dL/dlogits (logits' shape) for each reduction.""",
             ("For one row, d(-sum_c q_c log p_c)/dlogits = p - q (q sums to 1).",
              "Ignored rows contribute nothing; 'mean' divides by ctx.count, not by R.",
              "grad_out is a scalar for 'mean'/'sum' and one number per row for 'none'.")),
    Exercise("layer_norm", norm.LayerNorm, "statistics that depend on the input",
             ("x", "weight", "bias"), """y = x_hat * weight + bias, x_hat = (x - mean) * inv_std.

    Shapes: x (..., *S), weight and bias S (or None) -> y x's shape; mean and var are taken
    over ctx.axes (the last num_dims axes). Saved: x_hat, inv_std = 1/sqrt(var + eps), weight.
    Derive dx, dweight and dbias. Remember that mean and var are functions of x: follow
    the chain rule through them (d = grad_out * weight is dL/dx_hat). Return None for the
    gradient of an input that is None.""",
             ("dbias = grad_out and dweight = grad_out * x_hat (the engine sums the leading axes).",
              "dx = inv_std * (d - [a term from the mean] - x_hat * [a term from the variance]).",
              "Both terms are means over ctx.axes: mean(d) and mean(d * x_hat).")),
    Exercise("batch_norm", norm.BatchNorm, "batch statistics (training mode)",
             ("x", "weight", "bias"), """y = x_hat * weight + bias, with the batch's mean and var.

    Shapes: x (N, C) or (N, C, L), weight and bias (C,) -> x's shape; the statistics are per
    feature (axis 1) over ctx.axes (every axis but 1). Training mode only (ctx.training).
    Saved: x_hat, inv_std, w (the weight reshaped to broadcast, or None).
    Derive dx, dweight (C,) and dbias (C,): in training the mean and var are computed from
    the batch, so every example's x reaches every example's output through them.""",
             ("It is layer norm's math over other axes: follow mean and var back to x.",
              "dx = inv_std * (d - mean(d) - x_hat * mean(d * x_hat)), means over ctx.axes.",
              "dweight and dbias are sums over ctx.axes: shape (C,).")),
    Exercise("embedding", nn_ops.Embedding, "a scatter-add: gradients of repeated ids add up",
             ("weight",), """out = weight[indices]: rows of the table picked by integer ids.

    Shapes: weight (V, E), indices (...) -> (..., E). Saved: ctx.indices,
    ctx.num_embeddings (V) and ctx.padding_idx (a row that gets no gradient, or None).
    Derive dL/dweight (V, E). An id may appear several times.""",
             ("Row v of dweight collects grad_out at every position whose id is v.",
              "grad_w[ids] = rows keeps only one of the repeated ids; np.add.at(grad_w, ids, "
              "rows) adds them all.",
              "Zero the padding_idx row at the end.")),
    Exercise("attention", CausalAttention, "backprop through attention: the notes' A, Â, O",
             ("q", "k", "v"), """O = softmax(s Q Kᵀ + mask) V, s = 1/sqrt(D), one head.

    Shapes: q (..., L, D), k (..., S, D), v (..., S, Dv), mask (L, S) of 0 and -inf (the grader's
    is causal: key j is blocked for query i when j > i) -> O (..., L, Dv). Saved: q, k, v, p
    (the weights P = softmax(A), A = s Q Kᵀ + mask) and ctx.scale = s.
    These are the notes' equations with rows for columns: the notes write A = KᵀQ, Â =
    softmax(A) (per column) and O = VÂ, with one query per column; here each query is a row,
    so A = s Q Kᵀ, P = softmax(A) per row and O = P V.
    Derive dq, dk, dv from grad_out (L, Dv) in three chain-rule steps: O = P V, then the
    softmax, then A = s Q Kᵀ. The mask is a constant.""",
             ("O = P V is a matmul: dV = Pᵀ g and dP = g Vᵀ (the matmul exercise).",
              "P = softmax(A) per row: dA = P * (dP - rowsum(dP * P)) (the softmax exercise).",
              "A = s Q Kᵀ: dQ = s dA K and dK = s dAᵀ Q. Masked entries have P = 0, so they need "
              "no special case.")),
]  # fmt: skip
"""The exercises in the order the course takes them."""

BY_NAME: dict[str, Exercise] = {e.name: e for e in EXERCISES}


def get(name: str) -> Exercise:
    """The exercise called `name`; KeyError listing the names otherwise."""
    if name not in BY_NAME:
        raise KeyError(f"no exercise {name!r}; the exercises are: {', '.join(BY_NAME)}")
    return BY_NAME[name]
