"""The benchmarks' PyTorch contender: models.Transformer's architecture built from torch.nn.

Same blocks as models/transformer.py: embeddings scaled by sqrt(E) (PAD row zero), the same
sinusoidal table, post-norm (or pre-norm) encoder and decoder layers from
torch.nn.TransformerEncoderLayer / TransformerDecoderLayer (ReLU, batch first), and an output
Linear. `copy_weights` loads one of our models into it, so a benchmark can check that both
compute the same loss before timing them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from models.positional import sinusoidal_table


class TorchTransformer(nn.Module):
    """models.Transformer in PyTorch.  Shapes: src (B, S), tgt_in (B, T) -> logits (B, T, V)."""

    def __init__(self, ours: Any, dropout: float = 0.0) -> None:
        super().__init__()
        d_model = ours.d_model
        first_enc, first_dec = ours.encoder[0], ours.decoder[0]
        nhead = first_enc.self_attn.num_heads
        ffn = first_enc.ff.linear1.out_features
        self.d_model, self.pad_id, self.norm_first = d_model, ours.pad_id, ours.norm_first
        self.src_embed = nn.Embedding(ours.src_embed.num_embeddings, d_model, ours.pad_id)
        self.tgt_embed = nn.Embedding(ours.tgt_embed.num_embeddings, d_model, ours.pad_id)
        self.register_buffer("pe", torch.from_numpy(sinusoidal_table(ours.max_len, d_model)))
        args = dict(dim_feedforward=ffn, dropout=dropout, batch_first=True)
        activation = type(first_dec.ff.activation).__name__.lower()  # "relu" or "gelu"
        args.update(norm_first=ours.norm_first, activation=activation)
        self.encoder = nn.ModuleList(
            [nn.TransformerEncoderLayer(d_model, nhead, **args) for _ in ours.encoder]
        )
        self.decoder = nn.ModuleList(
            [nn.TransformerDecoderLayer(d_model, nhead, **args) for _ in ours.decoder]
        )
        if ours.norm_first:
            self.encoder_norm = nn.LayerNorm(d_model)
            self.decoder_norm = nn.LayerNorm(d_model)
        self.out_proj = nn.Linear(d_model, self.tgt_embed.num_embeddings)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt_in, self.encode(src), src)

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, S, E)."""
        padding = src == self.pad_id
        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.shape[1]]
        for layer in self.encoder:
            x = layer(x, src_key_padding_mask=padding)
        return self.encoder_norm(x) if self.norm_first else x

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        """(B, T), (B, S, E) -> (B, T, V), re-running the whole prefix (no cache)."""
        length = tgt_in.shape[1]
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
        x = self.tgt_embed(tgt_in) * math.sqrt(self.d_model) + self.pe[:length]
        for layer in self.decoder:
            x = layer(
                x,
                memory,
                tgt_mask=causal,
                tgt_key_padding_mask=tgt_in == self.pad_id,
                memory_key_padding_mask=src == self.pad_id,
            )
        if self.norm_first:
            x = self.decoder_norm(x)
        return self.out_proj(x)


def copy_weights(ours: Any, theirs: TorchTransformer) -> None:
    """Load our model's parameters into the torch model (untied output projection only)."""
    pairs = [
        (theirs.src_embed.weight, ours.src_embed.weight),
        (theirs.tgt_embed.weight, ours.tgt_embed.weight),
        (theirs.out_proj.weight, ours.out_proj.weight),
        (theirs.out_proj.bias, ours.out_proj.bias),
    ]
    for torch_layer, layer in zip(theirs.encoder, ours.encoder):
        pairs += _attention_pairs(torch_layer.self_attn, layer.self_attn)
        pairs += _block_pairs(torch_layer, layer, norms=2)
    for torch_layer, layer in zip(theirs.decoder, ours.decoder):
        pairs += _attention_pairs(torch_layer.self_attn, layer.self_attn)
        pairs += _attention_pairs(torch_layer.multihead_attn, layer.cross_attn)
        pairs += _block_pairs(torch_layer, layer, norms=3)
    if ours.norm_first:
        for name in ("encoder_norm", "decoder_norm"):
            norm, our_norm = getattr(theirs, name), getattr(ours, name)
            pairs += [(norm.weight, our_norm.weight), (norm.bias, our_norm.bias)]
    with torch.no_grad():
        for target, source in pairs:
            target.copy_(torch.from_numpy(np.ascontiguousarray(source.data)))


def _attention_pairs(torch_attn: nn.MultiheadAttention, attn: Any) -> list:
    """PyTorch stacks the q, k, v projections into one (3E, E) in_proj."""
    projections = (attn.q_proj, attn.k_proj, attn.v_proj)
    stacked_w = _Stacked([p.weight for p in projections])
    stacked_b = _Stacked([p.bias for p in projections])
    return [
        (torch_attn.in_proj_weight, stacked_w),
        (torch_attn.in_proj_bias, stacked_b),
        (torch_attn.out_proj.weight, attn.out_proj.weight),
        (torch_attn.out_proj.bias, attn.out_proj.bias),
    ]


def _block_pairs(torch_layer: nn.Module, layer: Any, norms: int) -> list:
    pairs = [
        (torch_layer.linear1.weight, layer.ff.linear1.weight),
        (torch_layer.linear1.bias, layer.ff.linear1.bias),
        (torch_layer.linear2.weight, layer.ff.linear2.weight),
        (torch_layer.linear2.bias, layer.ff.linear2.bias),
    ]
    for i in range(1, norms + 1):
        norm, our_norm = getattr(torch_layer, f"norm{i}"), getattr(layer, f"norm{i}")
        pairs += [(norm.weight, our_norm.weight), (norm.bias, our_norm.bias)]
    return pairs


class _Stacked:
    """Several parameters seen as one array stacked along axis 0 (has `.data` like a Tensor)."""

    def __init__(self, params: list) -> None:
        self.data = np.concatenate([p.data for p in params], axis=0)


def greedy_decode(
    model: TorchTransformer, src: torch.Tensor, bos_id: int, eos_id: int, max_len: int
) -> torch.Tensor:
    """Greedy decoding without a cache (the whole prefix each step).  (B, S) -> (B, <= max_len)."""
    model.eval()
    with torch.no_grad():
        memory = model.encode(src)
        out = torch.full((src.shape[0], 1), bos_id, dtype=torch.long)
        done = torch.zeros(src.shape[0], dtype=torch.bool)
        while out.shape[1] < max_len and not bool(done.all()):
            token = model.decode(out, memory, src)[:, -1].argmax(-1)
            token = torch.where(done, torch.full_like(token, model.pad_id), token)
            out = torch.cat([out, token[:, None]], dim=1)
            done |= token == eos_id
    return out
