"""Known mistakes of the exercises on neural-network ops: cross entropy, the norms, embedding
and attention (catalogue.py has the others and says how the catalogue is used)."""

from __future__ import annotations

from tinygrad_attn.learn.exercises import Mistake

NN_MISTAKES: dict[str, list[Mistake]] = {}
"""Exercise name -> its catalogue of known mistakes (merged into catalogue.MISTAKES)."""

_CE = """\
(probs,) = ctx.saved_tensors
grad = probs - {smooth}
grad[ctx.rows, ctx.target] -= {onehot}
valid = {valid}
if ctx.reduction == "none":
    scale = grad_out.reshape(-1, 1) * valid
elif ctx.reduction == "mean":
    scale = grad_out / {count} * valid
else:
    scale = grad_out * valid
return {sign}(grad * scale).reshape(ctx.logits_shape)
"""
_CE_RIGHT = dict(smooth="ctx.smoothing / probs.shape[1]", onehot="1 - ctx.smoothing",
                 valid="ctx.valid[:, None]", count="ctx.count", sign="")  # fmt: skip


def _ce(says_name: str, says: str, **change: str) -> Mistake:
    return Mistake(says_name, says, _CE.format(**{**_CE_RIGHT, **change}))


NN_MISTAKES["cross_entropy"] = [
    _ce(
        "label smoothing ignored",
        "with smoothing s the target is (1 - s) onehot + s / C, so "
        "dlogits = softmax - (1 - s) onehot - s / C",
        smooth="0",
        onehot="1",
    ),
    _ce(
        "smoothing not spread over the classes",
        "the smoothed target gives each class s / C, not s",
        smooth="ctx.smoothing",
    ),
    _ce(
        "ignore_index ignored",
        "rows whose target is ignore_index add nothing to the loss, so their gradient is 0",
        valid="1",
    ),
    _ce(
        "mean over every row",
        "'mean' divides by the number of non-ignored targets, not by every row",
        count="probs.shape[0]",
    ),
    _ce(
        "sign error",
        "dlogits = softmax - target distribution (the loss falls as the right logit rises)",
        sign="-",
    ),
]

_LN = """\
x_hat, inv_std, weight = ctx.saved_tensors
axes = ctx.axes
n = np.prod([x_hat.shape[a] for a in axes])
d = grad_out * weight if {use_w} and weight is not None else grad_out
mean_d = np.sum(d, axis=axes, keepdims=True) / n
mean_dx = np.sum(d * x_hat, axis=axes, keepdims=True) / n
grad_x = inv_std * (d - {mean_term} - x_hat * {var_term})
needs = ctx.needs_input_grad
grad_w = {grad_w} if needs[1] else None
return grad_x, grad_w, (grad_out if needs[2] else None)
"""
_LN_RIGHT = dict(use_w="True", mean_term="mean_d", var_term="mean_dx", grad_w="grad_out * x_hat")


def _ln(name: str, says: str, template: str = _LN, **change: str) -> Mistake:
    return Mistake(name, says, template.format(**{**_LN_RIGHT, **change}))


NN_MISTAKES["layer_norm"] = [
    _ln(
        "no mean terms",
        "layer norm without its mean terms: dx = inv_std ⊙ d treats the mean "
        "and the variance as constants; both depend on every x of the row",
        mean_term="0",
        var_term="0",
    ),
    _ln(
        "gradient through the mean missing",
        "dx lacks - mean(d): the mean moves with x",
        mean_term="0",
    ),
    _ln(
        "gradient through the variance missing",
        "dx lacks - x_hat ⊙ mean(d ⊙ x_hat): the variance moves with x",
        var_term="0",
    ),
    _ln("weight forgotten in dx", "d = dL/dx_hat = g ⊙ weight, not g", use_w="False"),
    _ln("weight gradient without x_hat", "dweight = sum of g ⊙ x_hat, not of g", grad_w="grad_out"),
]
_BN = _LN.replace("grad_out if needs[2]", "np.sum(grad_out, axis=axes) if needs[2]")
_BN_RIGHT = {"grad_w": "np.sum(grad_out * x_hat, axis=axes)"}
NN_MISTAKES["batch_norm"] = [
    _ln("mean and variance treated as constants", "batch norm in training mode: the batch "
        "statistics depend on every example, so dx = inv_std ⊙ d (eval mode's backward) misses "
        "- mean(d) - x_hat ⊙ mean(d ⊙ x_hat)", _BN, mean_term="0", var_term="0", **_BN_RIGHT),
    _ln("gradient through the mean missing", "dx lacks - mean(d) over the batch axes", _BN,
        mean_term="0", **_BN_RIGHT),
    _ln("means over the wrong axes", "the statistics are per feature, over the batch (and "
        "length) axes ctx.axes, not over the feature axis", _BN.replace("axes = ctx.axes",
        "axes = (1,)"), **{"grad_w": "np.sum(grad_out * x_hat, axis=ctx.axes)"}),
    _ln("weight forgotten in dx", "d = dL/dx_hat = g ⊙ weight, not g", _BN, use_w="False",
        **_BN_RIGHT),
]  # fmt: skip

_EMB = """\
dim = grad_out.shape[-1]
grad_w = np.zeros((ctx.num_embeddings, dim))
flat, rows = ctx.indices.reshape(-1), grad_out.reshape(-1, dim)
{scatter}
{padding}return grad_w
"""
_ZERO_PADDING = "if ctx.padding_idx is not None:\n    grad_w[ctx.padding_idx] = 0\n"
NN_MISTAKES["embedding"] = [
    Mistake("assigned instead of accumulated", "an id used several times gets the sum of all "
            "its rows' gradients: grad_w[ids] = g keeps only the last (use np.add.at)",
            _EMB.format(scatter="grad_w[flat] = rows",
                        padding=_ZERO_PADDING)),
    Mistake("padding row not zeroed", "the padding_idx row is a fixed zero vector: it gets no "
            "gradient", _EMB.format(scatter="np.add.at(grad_w, flat, rows)", padding="")),
    Mistake("gradient not scattered into the table", "grad_out has one row per looked-up "
            "position (..., E); the weight's gradient is a (V, E) table those rows are added "
            "into, row ids[i] for position i", "return grad_out\n"),
]  # fmt: skip

_ATT = """\
q, k, v, p = ctx.saved_tensors
t = lambda x: np.swapaxes(x, -1, -2)
{recompute}grad_v = {grad_v}
grad_p = grad_out @ t(v)
grad_a = p * (grad_p - {row_sum})
return {scale} * (grad_a @ k), {scale} * ({grad_k}), grad_v
"""
_ATT_RIGHT = dict(
    recompute="",
    grad_v="t(p) @ grad_out",
    scale="ctx.scale",
    row_sum="np.sum(grad_p * p, axis=-1, keepdims=True)",
    grad_k="t(grad_a) @ q",
)
_UNMASKED = "a = ctx.scale * (q @ t(k))\np = np.exp(a - a.max(-1, keepdims=True))\n" \
            "p = p / p.sum(-1, keepdims=True)\n"  # fmt: skip


def _att(name: str, says: str, **change: str) -> Mistake:
    return Mistake(name, says, _ATT.format(**{**_ATT_RIGHT, **change}))


NN_MISTAKES["attention"] = [
    _att("mask forgotten", "the weights were recomputed without the mask: a blocked key has "
         "P = 0 and gets no gradient", recompute=_UNMASKED),
    _att("scale forgotten", "A = s QKᵀ, so dQ = s dA K and dK = s dAᵀ Q carry the factor "
         "s = 1/sqrt(D)", scale="1"),
    _att("no row-sum term", "softmax without its row-sum term: dA = P ⊙ (dP - rowsum(dP ⊙ P))",
         row_sum="0"),
    _att("dV with P, not Pᵀ", "O = P V, so dV = Pᵀ g (S, Dv)", grad_v="p @ grad_out"),
    _att("dK transposed", "dK = s dAᵀ Q (S, D), not s dA Q", grad_k="grad_a @ q"),
]  # fmt: skip
