"""tinygrad_attn <-> PyTorch: the same module, with the same weights, on both sides.

    from tinygrad_attn import interop
    theirs = interop.to_torch(model)      # a torch.nn.Module, same dtype and train/eval mode
    ours = interop.from_torch(theirs)     # back; from_torch(to_torch(m)) equals m bit for bit

PyTorch is imported only when a function here needs it; without it they raise
ModuleNotFoundError naming `pip install torch==2.13.0` (the CPU build is enough).

What maps (each to PyTorch's own class unless said otherwise):

| tinygrad_attn | PyTorch |
|---|---|
| nn.Linear, nn.Embedding, nn.LayerNorm, nn.Dropout, nn.ReLU, nn.GELU | the same names in torch.nn |
| nn.BatchNorm1d (running_mean, running_var, num_batches_tracked) | torch.nn.BatchNorm1d |
| nn.Sequential, nn.ModuleList (their children mapped one by one) | the same names in torch.nn |
| nn.MultiheadAttention | torch.nn.MultiheadAttention(batch_first=True) |
| models.TransformerEncoderLayer | torch.nn.TransformerEncoderLayer(batch_first=True) |
| models.TransformerDecoderLayer | torch.nn.TransformerDecoderLayer(batch_first=True) |
| models.PositionalEncoding (sinusoidal) | TorchPositionalEncoding (this package) |
| models.LearnedPositionalEncoding | TorchLearnedPositionalEncoding (this package) |
| models.Transformer, every position scheme | TorchTransformer (this package) |

TorchTransformer builds each of models.Transformer's position schemes exactly: "sinusoidal" and
"learned" add their table to the sqrt(E)-scaled embeddings; "alibi" and "t5" put each stack's
bias (ALiBi's constants, T5's learned bucket table, one per stack) into its self-attention's
float attn_mask (B*H, L, L), with the causal -inf in the decoder and the padding as a float
key_padding_mask, summed as our fused attention op sums them; "rope" swaps each layer's
self_attn for a RotarySelfAttention (nn.MultiheadAttention's parameters and call, q and k
rotated as our nn.RotaryEmbedding does, then F.scaled_dot_product_attention). The encoder
layers of the relative schemes are kept off PyTorch's inference fast path, which would skip
the rotation (and gives NaN with a float attn_mask in torch 2.13).

Anything else, and any setting the other side cannot express (a replaced or modified layer,
position layers included: a rotary base or T5 bucket count models.Transformer does not take;
PyTorch's batch_first=False, add_bias_kv, kdim != embed_dim, a tanh-GELU inside a transformer
layer, a RotarySelfAttention outside a TorchTransformer, a layer's norm1 replaced by Identity,
...), and any module whose call does more than its class's forward (forward, pre- or backward
hooks, an instance-level `forward`, on either side), is a ValueError naming the layer: never
an approximation. `interop.TorchTransformer`, `TorchPositionalEncoding`,
`TorchLearnedPositionalEncoding`, `TorchRelativeBias` and `RotarySelfAttention` give the
PyTorch classes.

The state-dict keys, ours -> PyTorch (read right to left for from_torch). Every key not
listed keeps its name; `X` is any prefix; in_proj stacks q, k, v along its rows, in that order.

| ours | PyTorch |
|---|---|
| X.q_proj.weight, X.k_proj.weight, X.v_proj.weight (E, E) each | X.in_proj_weight (3E, E) |
| X.q_proj.bias, X.k_proj.bias, X.v_proj.bias (E,) each | X.in_proj_bias (3E,) |
| X.out_proj.weight / .bias (of an attention) | X.out_proj.weight / .bias |
| encoder.i.ff.linear1.* / ff.linear2.* | encoder.i.linear1.* / linear2.* |
| decoder.i.ff.linear1.* / ff.linear2.* | decoder.i.linear1.* / linear2.* |
| decoder.i.cross_attn.* | decoder.i.multihead_attn.* (with the in_proj packing) |
| encoder.i / decoder.i.self_attn.* (pos="rope") | the same, packed (in a RotarySelfAttention) |
| src_embed.weight, tgt_embed.weight, out_proj.* | the same |
| pos.pe (sinusoidal, a buffer), pos.embedding.weight (learned, (max_len, E)) | the same |
| rel_pos.encoder_bias / decoder_bias.relative_attention_bias.weight (t5, (32, H)) | the same |
| encoder.i.norm1.*, ..., decoder.i.norm3.*, encoder_norm.*, decoder_norm.* | the same |

(ALiBi and rotary embeddings have no state.) `key_mapping(module)` lists the pairs for any
mappable module. Numerics: outputs and gradients agree to float32 rounding (float64: ~1e-14);
one difference: a query that may see no key at all (a source made only of PAD) gets zero
attention output here and NaN in PyTorch. Train/eval mode is copied from the top module;
dropout masks come from different random generators.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from tinygrad_attn import nn
from tinygrad_attn.interop._keys import key_mapping

INSTALL = "pip install torch==2.13.0"

__all__ = ["INSTALL", "from_torch", "key_mapping", "require_torch", "to_torch"]


def require_torch() -> ModuleType:
    """The torch module, or a ModuleNotFoundError saying how to install it."""
    try:
        import torch
    except ImportError as err:
        raise ModuleNotFoundError(
            f"tinygrad_attn.interop needs PyTorch, which is not installed: {INSTALL} "
            "(the CPU build is enough)",
            name="torch",
        ) from err
    return torch


def to_torch(module: nn.Module) -> Any:
    """The PyTorch module computing what `module` computes, holding a copy of its weights.

    Same dtype (float32 or float64), same train/eval mode; see the module docs for what maps.
    """
    require_torch()
    from tinygrad_attn.interop import _convert

    return _convert.to_torch(module)


def from_torch(torch_module: Any) -> nn.Module:
    """Our module computing what a PyTorch module computes (one to_torch can return, or PyTorch's
    own layers listed in the module docs), holding a copy of its weights, dtype and mode."""
    require_torch()
    from tinygrad_attn.interop import _convert

    return _convert.from_torch(torch_module)


_TORCH_CLASSES = {  # name -> the module defining it (imported with torch, on first use)
    "TorchTransformer": "_torch_transformer",
    "TorchPositionalEncoding": "_torch_positions",
    "TorchLearnedPositionalEncoding": "_torch_positions",
    "TorchRelativeBias": "_torch_positions",
    "RotarySelfAttention": "_torch_rotary",
}


def __getattr__(name: str) -> Any:
    """The PyTorch classes of _TORCH_CLASSES (`interop.TorchTransformer`, ...), loading torch
    first."""
    if name in _TORCH_CLASSES:
        require_torch()
        module = importlib.import_module(f"tinygrad_attn.interop.{_TORCH_CLASSES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'tinygrad_attn.interop' has no attribute {name!r}")
