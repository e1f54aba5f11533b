"""PyTorch -> ours: our module with a PyTorch module's settings (weights are copied after, by
_convert.py). Imported only once torch is known to be installed."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn as tnn

import models
from tinygrad_attn import nn
from tinygrad_attn.interop._to_torch import one_value, same_structure, signature, where
from tinygrad_attn.interop._torch_positions import (
    TorchLearnedPositionalEncoding,
    TorchPositionalEncoding,
)
from tinygrad_attn.interop._torch_rotary import RotarySelfAttention
from tinygrad_attn.interop._torch_transformer import TorchTransformer, _ordinary_path


def _require(path: str, checks: dict[str, bool]) -> None:
    """ValueError naming the layer and the first setting we have no counterpart for."""
    for setting, ok in checks.items():
        if not ok:
            raise ValueError(f"from_torch: {where(path)} has {setting}; cannot be mapped")


def _from_embedding(t: tnn.Embedding, path: str) -> nn.Module:
    _require(path, {"max_norm": t.max_norm is None, "scale_grad_by_freq": not t.scale_grad_by_freq})
    _require(path, {"sparse=True": not t.sparse})
    return nn.Embedding(t.num_embeddings, t.embedding_dim, t.padding_idx)


def _from_mha(t: tnn.MultiheadAttention, path: str) -> nn.Module:
    _require(
        path,
        {
            "batch_first=False (ours is batch first)": t.batch_first,
            "kdim/vdim != embed_dim": t._qkv_same_embed_dim,
            "add_bias_kv=True": t.bias_k is None,
            "add_zero_attn=True": not t.add_zero_attn,
        },
    )
    return nn.MultiheadAttention(t.embed_dim, t.num_heads, t.dropout, t.in_proj_bias is not None)


def _torch_activation(t: Any, path: str) -> str:
    if t.activation is torch.nn.functional.relu or type(t.activation) is tnn.ReLU:
        return "relu"
    gelu = type(t.activation) is tnn.GELU and t.activation.approximate == "none"
    if t.activation is torch.nn.functional.gelu or gelu:
        return "gelu"
    raise ValueError(f"from_torch: {where(path)} has activation {t.activation}; cannot be mapped")


_LAYER_CHILDREN = {  # the type of each child a PyTorch transformer layer is built with
    "linear": tnn.Linear,
    "norm": tnn.LayerNorm,
    "dropout": tnn.Dropout,
}


def _check_layer_children(t: Any, path: str) -> None:
    """ValueError naming a child of a transformer layer that was replaced (norm1 = Identity)
    or built otherwise (a LayerNorm without its affine weight or bias)."""
    for name, child in t.named_children():
        kind = next((k for k in _LAYER_CHILDREN if name.startswith(k)), None)
        if kind is None:
            continue
        if type(child) is not _LAYER_CHILDREN[kind]:
            found = type(child).__name__
            setting = f"type {found} (expected {_LAYER_CHILDREN[kind].__name__})"
            _require(f"{path}{name}.", {setting: False})
        if kind == "norm":
            affine = child.elementwise_affine and child.bias is not None
            _require(f"{path}{name}.", {"no affine weight or bias": affine})
            _require(
                f"{path}{name}.", {"a multi-dim normalized_shape": len(child.weight.shape) == 1}
            )


def _from_layer(t: Any, path: str, in_transformer: bool = False) -> nn.Module:
    """Our encoder or decoder layer. A RotarySelfAttention (pos="rope") maps only inside a
    TorchTransformer, whose Transformer passes the rotation to our layers at each call."""
    _check_layer_children(t, path)
    dropouts = {name: m.p for name, m in t.named_children() if isinstance(m, tnn.Dropout)}
    dropouts.update({name: m.dropout for name, m in t.named_children() if name.endswith("attn")})
    norms = {name: m.eps for name, m in t.named_children() if name.startswith("norm")}
    _require(path, {"batch_first=False (ours is batch first)": t.self_attn.batch_first})
    _require(path, {"bias=False": t.linear1.bias is not None})
    for name, child in t.named_children():
        rotary = in_transformer and type(child) is RotarySelfAttention
        if name.endswith("attn") and not rotary:
            mha = type(child) is tnn.MultiheadAttention
            setting = (
                f"type {type(child).__name__} (MultiheadAttention, or a RotarySelfAttention "
                "inside a TorchTransformer with pos='rope')"
            )
            _require(f"{path}{name}.", {setting: mha})
            _from_mha(child, f"{path}{name}.")
    decoder = type(t) is tnn.TransformerDecoderLayer
    layer = models.TransformerDecoderLayer if decoder else models.TransformerEncoderLayer
    return layer(
        t.self_attn.embed_dim,
        t.self_attn.num_heads,
        t.linear1.out_features,
        one_value(path, "dropout", dropouts),
        _torch_activation(t, path),
        t.norm_first,
        one_value(path, "eps", norms),
    )


def _from_transformer(t: TorchTransformer, path: str) -> nn.Module:
    rebuilt = TorchTransformer(t.config)
    built = f"TorchTransformer({t.config})"
    same_structure(signature(rebuilt), signature(t), "from_torch", built)
    for name, layer in t.named_modules():  # checks the settings a repr does not show
        if isinstance(layer, (tnn.TransformerEncoderLayer, tnn.TransformerDecoderLayer)):
            _from_layer(layer, f"{path}{name}.", in_transformer=True)
    return models.Transformer(t.config)


FROM_TORCH: dict[type, Callable[[Any, str], nn.Module]] = {
    tnn.Linear: lambda t, _: nn.Linear(t.in_features, t.out_features, t.bias is not None),
    tnn.Embedding: _from_embedding,
    tnn.LayerNorm: lambda t, _: nn.LayerNorm(
        t.normalized_shape, t.eps, t.elementwise_affine, bias=t.bias is not None
    ),
    tnn.BatchNorm1d: lambda t, _: nn.BatchNorm1d(
        t.num_features, t.eps, t.momentum, t.affine, t.track_running_stats
    ),
    tnn.Dropout: lambda t, _: nn.Dropout(t.p),
    tnn.ReLU: lambda t, _: nn.ReLU(),
    tnn.GELU: lambda t, _: nn.GELU(t.approximate),
    tnn.MultiheadAttention: _from_mha,
    TorchPositionalEncoding: lambda t, _: models.PositionalEncoding(
        t.pe.shape[1], t.max_len, t.dropout.p
    ),
    TorchLearnedPositionalEncoding: lambda t, _: models.LearnedPositionalEncoding(
        t.embedding.embedding_dim, t.max_len, t.dropout.p
    ),
    tnn.TransformerEncoderLayer: _from_layer,
    tnn.TransformerDecoderLayer: _from_layer,
    TorchTransformer: _from_transformer,
}


def refuse_hooks(root: tnn.Module) -> None:
    """ValueError naming the first module whose call does more than its class's forward:
    forward hooks, forward pre-hooks, backward hooks, an instance-level `forward`, or a global
    module hook. (TorchTransformer's own no-op pre-hook, which only keeps PyTorch's encoder
    layer off its fast path, is the one hook that is allowed.)"""
    from torch.nn.modules import module as torch_module

    for name, kind in (("_global_forward_hooks", "forward"), ("_global_forward_pre_hooks", "pre")):
        if getattr(torch_module, name, None):
            raise ValueError(
                f"from_torch: a global module {kind} hook is registered; cannot be "
                "mapped (its effect would be lost)"
            )
    for name, m in root.named_modules():
        path = f"{name}." if name else ""
        pre = [h for h in m._forward_pre_hooks.values() if h is not _ordinary_path]
        checks = {
            "a forward hook": not m._forward_hooks,
            "a forward pre-hook": not pre,
            "a backward hook": not (m._backward_hooks or m._backward_pre_hooks),
            "an instance-level forward override": "forward" not in m.__dict__,
        }
        _require(path, checks)


def build_ours(t: tnn.Module, path: str = "") -> nn.Module:
    """Our module with the PyTorch module's settings (weights not copied yet)."""
    if type(t) in (tnn.Sequential, tnn.ModuleList):
        children = [(name, build_ours(c, f"{path}{name}.")) for name, c in t.named_children()]
        if type(t) is tnn.ModuleList:
            return nn.ModuleList([c for _, c in children])
        return nn.Sequential(OrderedDict(children))
    builder = FROM_TORCH.get(type(t))
    if builder is None:
        raise ValueError(
            f"from_torch: {where(path)} ({type(t).__name__}) has no tinygrad_attn counterpart; "
            f"mapped: {', '.join(sorted(k.__name__ for k in FROM_TORCH))}, Sequential, ModuleList"
        )
    return builder(t, path)
