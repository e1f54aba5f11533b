"""to_torch / from_torch: build the counterpart with the same settings, then copy the weights
through the key mapping of _keys.py. Imported only once torch is known to be installed."""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn as tnn

import models
import tinygrad_attn as tg
from tinygrad_attn import nn
from tinygrad_attn.interop import _keys
from tinygrad_attn.interop._torch_transformer import TorchPositionalEncoding, TorchTransformer

MAPPED_POSITIONS = {"sinusoidal": models.PositionalEncoding}  # scheme -> our layer class
DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _where(path: str) -> str:
    return f"layer {path.rstrip('.')!r}" if path else "the module"


def _one(path: str, what: str, values: dict[str, Any]) -> Any:
    """The value all `values` share, or a ValueError naming them (a layer we cannot express)."""
    if len(set(values.values())) != 1:
        raise ValueError(f"{_where(path)}: {what} differs between {values}; cannot be mapped")
    return next(iter(values.values()))


# ----- ours -> PyTorch ----------------------------------------------------------------------
def _mha(m: nn.MultiheadAttention, path: str) -> tnn.Module:
    bias = m.q_proj.bias is not None
    return tnn.MultiheadAttention(m.embed_dim, m.num_heads, m.dropout, bias, batch_first=True)


def _activation(m: nn.Module, path: str) -> str:
    if type(m) is nn.ReLU:
        return "relu"
    if type(m) is nn.GELU and m.approximate == "none":
        return "gelu"
    raise ValueError(f"{_where(path)}: activation {m!r} cannot be mapped (relu or exact gelu)")


def _layer_args(m: Any, path: str, dropouts: dict[str, float]) -> dict:
    norms = {name: mod.eps for name, mod in m.named_children() if name.startswith("norm")}
    return dict(
        d_model=m.self_attn.embed_dim,
        nhead=m.self_attn.num_heads,
        dim_feedforward=m.ff.linear1.out_features,
        dropout=_one(path, "dropout", dropouts),
        activation=_activation(m.ff.activation, path + "ff.activation"),
        layer_norm_eps=_one(path, "eps", norms),
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
    """The model's position scheme if mapped, else a ValueError naming the layer and scheme.

    Looked up from the model's positional module, so a scheme added to models.Transformer
    is refused here until it is mapped (MAPPED_POSITIONS), never approximated.
    """
    scheme = getattr(m, "pos_scheme", "sinusoidal")
    layer = getattr(m, "pos", None)
    relative = getattr(m, "rel_pos", None)  # relative schemes live in the attention layers
    expected = MAPPED_POSITIONS.get(scheme)
    if expected is None or type(layer) is not expected or relative is not None:
        found = type(relative if layer is None else layer).__name__
        raise ValueError(
            f"to_torch: layer 'pos' ({found}, position scheme {scheme!r}) cannot be mapped to "
            f"PyTorch; mapped schemes: {sorted(MAPPED_POSITIONS)}"
        )
    return scheme


def transformer_args(m: models.Transformer) -> dict:
    """The models.Transformer arguments that build `m` (checked: a replaced or modified layer
    is a ValueError naming it, since TorchTransformer could only approximate it)."""
    _position_scheme(m)
    first = (list(m.encoder) + list(m.decoder))[0]
    args = dict(
        src_vocab=m.src_embed.num_embeddings,
        tgt_vocab=m.tgt_embed.num_embeddings,
        d_model=m.d_model,
        nhead=first.self_attn.num_heads,
        num_encoder_layers=len(m.encoder),
        num_decoder_layers=len(m.decoder),
        dim_feedforward=first.ff.linear1.out_features,
        dropout=m.pos.dropout.p,
        max_len=m.max_len,
        norm_first=m.norm_first,
        pad_id=m.pad_id,
        activation=_activation(first.ff.activation, "ff.activation"),
        tie_embeddings=m.tie_embeddings,
    )
    rebuilt = models.Transformer(**args)
    _same_structure(_signature(rebuilt), _signature(m), "to_torch", f"Transformer(**{args})")
    return args


def _signature(m: Any) -> dict[str, str]:
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


def _same_structure(expected: dict, found: dict, who: str, built: str) -> None:
    """ValueError naming the first layer of `found` that is not as in `expected`."""
    for name in sorted(set(expected) | set(found)):
        if expected.get(name) != found.get(name):
            raise ValueError(
                f"{who}: layer {name!r} is {found.get(name, 'missing')} where "
                f"{built} has {expected.get(name, 'no such layer')}; a replaced "
                "or modified layer cannot be mapped"
            )


def _transformer(m: models.Transformer, path: str) -> tnn.Module:
    return TorchTransformer(**transformer_args(m))


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
    models.TransformerEncoderLayer: _encoder_layer,
    models.TransformerDecoderLayer: _decoder_layer,
    models.Transformer: _transformer,
}


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
            f"to_torch: {_where(path)} ({type(m).__name__}) has no PyTorch counterpart here; "
            f"mapped: {', '.join(sorted(t.__name__ for t in TO_TORCH))}, Sequential, ModuleList"
        )
    return builder(m, path)


# ----- PyTorch -> ours ----------------------------------------------------------------------
def _require(path: str, checks: dict[str, bool]) -> None:
    """ValueError naming the layer and the first setting we have no counterpart for."""
    for setting, ok in checks.items():
        if not ok:
            raise ValueError(f"from_torch: {_where(path)} has {setting}; cannot be mapped")


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
    raise ValueError(f"from_torch: {_where(path)} has activation {t.activation}; cannot be mapped")


def _from_layer(t: Any, path: str) -> nn.Module:
    dropouts = {name: m.p for name, m in t.named_children() if isinstance(m, tnn.Dropout)}
    dropouts.update({name: m.dropout for name, m in t.named_children() if name.endswith("attn")})
    norms = {name: m.eps for name, m in t.named_children() if name.startswith("norm")}
    _require(path, {"batch_first=False (ours is batch first)": t.self_attn.batch_first})
    _require(path, {"bias=False": t.linear1.bias is not None})
    for name, child in t.named_children():
        if name.endswith("attn"):
            _from_mha(child, f"{path}{name}.")
    decoder = type(t) is tnn.TransformerDecoderLayer
    layer = models.TransformerDecoderLayer if decoder else models.TransformerEncoderLayer
    return layer(
        t.self_attn.embed_dim,
        t.self_attn.num_heads,
        t.linear1.out_features,
        _one(path, "dropout", dropouts),
        _torch_activation(t, path),
        t.norm_first,
        _one(path, "eps", norms),
    )


def _from_transformer(t: TorchTransformer, path: str) -> nn.Module:
    rebuilt = TorchTransformer(**t.args)
    built = f"TorchTransformer(**{t.args})"
    _same_structure(_signature(rebuilt), _signature(t), "from_torch", built)
    for name, layer in t.named_modules():  # checks the settings a repr does not show
        if isinstance(layer, (tnn.TransformerEncoderLayer, tnn.TransformerDecoderLayer)):
            _from_layer(layer, f"{path}{name}.")
    return models.Transformer(**t.args)


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
    tnn.TransformerEncoderLayer: _from_layer,
    tnn.TransformerDecoderLayer: _from_layer,
    TorchTransformer: _from_transformer,
}


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
            f"from_torch: {_where(path)} ({type(t).__name__}) has no tinygrad_attn counterpart; "
            f"mapped: {', '.join(sorted(k.__name__ for k in FROM_TORCH))}, Sequential, ModuleList"
        )
    return builder(t, path)


# ----- weights ------------------------------------------------------------------------------
def float_dtype(arrays: dict[str, np.ndarray], who: str) -> np.dtype:
    """The one floating dtype (float32 or float64) of a state dict, else a ValueError."""
    found = {a.dtype for a in arrays.values() if a.dtype.kind == "f"}
    if len(found) > 1 or not found <= set(DTYPES):
        raise ValueError(f"{who}: needs one of float32/float64 throughout, found {sorted(found)}")
    return found.pop() if found else np.dtype(np.float32)


@contextlib.contextmanager
def _random_streams_kept() -> Iterator[None]:
    """Building a module draws initial weights (then overwritten): leave both random streams
    (ours and torch's) where the caller had them."""
    state = tg.random.get_state()
    try:
        with torch.random.fork_rng():
            yield
    finally:
        tg.random.set_state(state)


def to_torch(module: nn.Module) -> tnn.Module:
    """See tinygrad_attn.interop.to_torch."""
    with _random_streams_kept():
        theirs = build_torch(module)
    state = _keys.to_torch_state(module)
    theirs.to(DTYPES[float_dtype(state, "to_torch")])
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return theirs.train(module.training)


def from_torch(theirs: tnn.Module) -> nn.Module:
    """See tinygrad_attn.interop.from_torch."""
    with _random_streams_kept():
        ours = build_ours(theirs)
    state = {k: v.detach().cpu().numpy() for k, v in theirs.state_dict().items()}
    if float_dtype(state, "from_torch") == np.float64:
        ours.double()
    ours.load_state_dict(_keys.from_torch_state(ours, state))
    return ours.train(theirs.training)
