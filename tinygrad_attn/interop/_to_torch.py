"""ours -> PyTorch: the PyTorch module with a module's settings (weights are copied after,
by _convert.py). Imported only once torch is known to be installed."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn as tnn

import models
from tinygrad_attn import nn
from tinygrad_attn.interop._torch_positions import (
    TorchLearnedPositionalEncoding,
    TorchPositionalEncoding,
)
from tinygrad_attn.interop._torch_transformer import SCHEMES, TorchTransformer

ABSOLUTE = {"sinusoidal": models.PositionalEncoding, "learned": models.LearnedPositionalEncoding}
DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def where(path: str) -> str:
    """How an error names the layer at `path`: `layer 'encoder.0'`, or `the module` at the root."""
    return f"layer {path.rstrip('.')!r}" if path else "the module"


def one_value(path: str, what: str, values: dict[str, Any]) -> Any:
    """The value all `values` share, or a ValueError naming them (a layer we cannot express)."""
    if len(set(values.values())) != 1:
        raise ValueError(f"{where(path)}: {what} differs between {values}; cannot be mapped")
    return next(iter(values.values()))


def _mha(m: nn.MultiheadAttention, path: str) -> tnn.Module:
    bias = m.q_proj.bias is not None
    return tnn.MultiheadAttention(m.embed_dim, m.num_heads, m.dropout, bias, batch_first=True)


def _activation(m: nn.Module, path: str) -> str:
    if type(m) is nn.ReLU:
        return "relu"
    if type(m) is nn.GELU and m.approximate == "none":
        return "gelu"
    raise ValueError(f"{where(path)}: activation {m!r} cannot be mapped (relu or exact gelu)")


def _layer_args(m: Any, path: str, dropouts: dict[str, float]) -> dict:
    norms = {name: mod.eps for name, mod in m.named_children() if name.startswith("norm")}
    for name, mod in m.named_modules():  # PyTorch's layers have every bias or none
        if "bias" in mod._parameters and mod.bias is None:
            raise ValueError(f"{where(path + name)}: has no bias; cannot be mapped")
    return dict(
        d_model=m.self_attn.embed_dim,
        nhead=m.self_attn.num_heads,
        dim_feedforward=m.ff.linear1.out_features,
        dropout=one_value(path, "dropout", dropouts),
        activation=_activation(m.ff.activation, path + "ff.activation"),
        layer_norm_eps=one_value(path, "eps", norms),
        batch_first=True,
        norm_first=m.norm_first,
    )


def _encoder_layer(m: models.TransformerEncoderLayer, path: str) -> tnn.Module:
    dropouts = {"self_attn": m.self_attn.dropout, "ff.dropout": m.ff.dropout.p}
    dropouts.update(dropout1=m.dropout1.p, dropout2=m.dropout2.p)
    return tnn.TransformerEncoderLayer(**_layer_args(m, path, dropouts))


def _decoder_layer(m: models.TransformerDecoderLayer, path: str) -> tnn.Module:
    dropouts = {"self_attn": m.self_attn.dropout, "cross_attn": m.cross_attn.dropout}
    dropouts.update({"ff.dropout": m.ff.dropout.p, "dropout1": m.dropout1.p})
    dropouts.update(dropout2=m.dropout2.p, dropout3=m.dropout3.p)
    return tnn.TransformerDecoderLayer(**_layer_args(m, path, dropouts))


def _position_scheme(m: models.Transformer) -> str:
    """The model's position scheme, checked against its position layers: `pos` (absolute
    schemes, ABSOLUTE) or `rel_pos` (relative ones, in the self-attention). A scheme
    TorchTransformer does not build (SCHEMES), or a replaced position layer, is a ValueError
    naming the layer, never approximated; a modified one is caught by transformer_config."""
    scheme = m.config.pos
    absolute = ABSOLUTE.get(scheme)
    expected = (absolute, type(None)) if absolute else (type(None), models.RelativePositions)
    found = (type(m.pos), type(getattr(m, "rel_pos", None)))
    if scheme not in SCHEMES or found != expected:
        name = "pos" if absolute or m.pos is not None else "rel_pos"
        layer = found[0] if name == "pos" else found[1]
        raise ValueError(
            f"to_torch: layer {name!r} ({layer.__name__}, position scheme {scheme!r}) cannot be "
            f"mapped to PyTorch; mapped schemes: {list(SCHEMES)}"
        )
    return scheme


def transformer_config(m: models.Transformer) -> models.TransformerConfig:
    """The config `m` was built from, checked against its layers: a replaced or modified layer
    is a ValueError naming it, since TorchTransformer could only approximate it."""
    _position_scheme(m)
    rebuilt = models.Transformer(m.config)
    same_structure(signature(rebuilt), signature(m), "to_torch", f"Transformer({m.config})")
    return m.config


def signature(m: Any) -> dict[str, str]:
    """Layer path -> its class and settings: extra_repr, plus what it leaves out (norm_first;
    PyTorch's layers: the activation)."""
    signature = {}
    for name, mod in m.named_modules():
        text = f"{type(mod).__name__}({mod.extra_repr()})"
        if hasattr(mod, "norm_first"):
            text += f" norm_first={mod.norm_first}"
        if hasattr(mod, "activation") and not isinstance(mod.activation, (nn.Module, tnn.Module)):
            text += f" activation={getattr(mod.activation, '__name__', mod.activation)}"
        signature[name] = text
    return signature


def same_structure(expected: dict, found: dict, who: str, built: str) -> None:
    """ValueError naming the first layer of `found` that is not as in `expected`."""
    for name in sorted(set(expected) | set(found)):
        if expected.get(name) != found.get(name):
            raise ValueError(
                f"{who}: layer {name!r} is {found.get(name, 'missing')} where "
                f"{built} has {expected.get(name, 'no such layer')}; a replaced "
                "or modified layer cannot be mapped"
            )


def _transformer(m: models.Transformer, path: str) -> tnn.Module:
    return TorchTransformer(transformer_config(m))


TO_TORCH: dict[type, Callable[[Any, str], tnn.Module]] = {
    nn.Linear: lambda m, _: tnn.Linear(m.in_features, m.out_features, m.bias is not None),
    nn.Embedding: lambda m, _: tnn.Embedding(m.num_embeddings, m.embedding_dim, m.padding_idx),
    nn.LayerNorm: lambda m, _: tnn.LayerNorm(
        m.normalized_shape, m.eps, m.elementwise_affine, bias=m.bias is not None
    ),
    nn.BatchNorm1d: lambda m, _: tnn.BatchNorm1d(
        m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats
    ),
    nn.Dropout: lambda m, _: tnn.Dropout(m.p),
    nn.ReLU: lambda m, _: tnn.ReLU(),
    nn.GELU: lambda m, _: tnn.GELU(m.approximate),
    nn.MultiheadAttention: _mha,
    models.PositionalEncoding: lambda m, _: TorchPositionalEncoding(
        m.pe.shape[1], m.max_len, m.dropout.p
    ),
    models.LearnedPositionalEncoding: lambda m, _: TorchLearnedPositionalEncoding(
        m.embedding.embedding_dim, m.max_len, m.dropout.p
    ),
    models.TransformerEncoderLayer: _encoder_layer,
    models.TransformerDecoderLayer: _decoder_layer,
    models.Transformer: _transformer,
}


def refuse_our_hooks(root: nn.Module) -> None:
    """ValueError naming the first module with a forward hook or an instance-level `forward`:
    PyTorch's module would not run them."""
    for name, m in root.named_modules():
        for what, found in (
            ("a forward hook", bool(m._forward_hooks)),
            ("an instance-level forward override", "forward" in vars(m)),
        ):
            if found:
                raise ValueError(f"to_torch: {where(name)} has {what}; cannot be mapped")


def build_torch(m: nn.Module, path: str = "") -> tnn.Module:
    """The PyTorch module with `m`'s settings (weights not copied yet)."""
    if type(m) in (nn.Sequential, nn.ModuleList):
        children = [(name, build_torch(c, f"{path}{name}.")) for name, c in m.named_children()]
        if type(m) is nn.ModuleList:
            return tnn.ModuleList([c for _, c in children])
        return tnn.Sequential(OrderedDict(children))
    builder = TO_TORCH.get(type(m))
    if builder is None:
        raise ValueError(
            f"to_torch: {where(path)} ({type(m).__name__}) has no PyTorch counterpart here; "
            f"mapped: {', '.join(sorted(t.__name__ for t in TO_TORCH))}, Sequential, ModuleList"
        )
    return builder(m, path)
