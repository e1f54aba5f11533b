"""models.Transformer written with torch.nn: what `interop.to_torch(model)` returns.

Built from the same models.TransformerConfig, with the same submodule names wherever PyTorch
lets us (src_embed, tgt_embed, pos, rel_pos, encoder.<i>, decoder.<i>, encoder_norm,
decoder_norm, out_proj), same semantics:
embeddings scaled by sqrt(E) with a zero PAD row, PAD positions masked as keys everywhere, a
causal decoder, a tied output projection when asked. The layers are PyTorch's own
nn.TransformerEncoderLayer / nn.TransformerDecoderLayer (batch first). Each position scheme:
  - "sinusoidal", "learned": the table is added to the scaled embeddings, then dropout
    (_torch_positions.py);
  - "alibi", "t5": each stack's bias (H, L, L) goes into its self-attention's float attn_mask,
    repeated per batch row as (B*H, L, L) with the causal -inf in the decoder, and the padding
    as a float key_padding_mask; nn.MultiheadAttention adds them to the scores as our fused
    op adds bias, padding and causal mask;
  - "rope": each layer's self_attn is a RotarySelfAttention (_torch_rotary.py).
Relative schemes add nothing to the embeddings (dropout only, `embed_dropout`).

PyTorch's encoder layer has an inference fast path (eval mode without autograd) that runs a
fused kernel on self_attn's weights without calling self_attn, so it would skip the rotation,
and in torch 2.13 it returns NaN for any float attn_mask. PyTorch takes it only for layers
without hooks; the relative schemes' encoder layers get a no-op forward pre-hook to stay on
the ordinary path.

One difference: a query that may see no key at all (a source made only of PAD) gets zeros in
tinygrad_attn and NaN in PyTorch. Real inputs always hold at least one token.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from models.config import TransformerConfig
from models.transformer import causal_mask
from tinygrad_attn.interop._torch_positions import (
    TorchLearnedPositionalEncoding,
    TorchPositionalEncoding,
    TorchRelativeBias,
)
from tinygrad_attn.interop._torch_rotary import RotarySelfAttention

# Every models.Transformer scheme, listed here rather than imported: a scheme added to models is
# refused by to_torch (a ValueError naming the layer) until it is built here.
SCHEMES = ("sinusoidal", "learned", "rope", "alibi", "t5")


def _ordinary_path(layer: nn.Module, args: Any) -> None:
    """A forward pre-hook that does nothing: its presence keeps PyTorch's encoder layer off its
    fast path, which would bypass the rotation or the bias (see the module docstring)."""
    return None


class TorchTransformer(nn.Module):
    """models.Transformer in PyTorch, built from the same models.TransformerConfig (kept in
    `self.config`), `pos` included: every position scheme of models.Transformer (SCHEMES),
    built as the module docstring says.

    Shapes: src (B, S) ints, tgt_in (B, T) ints -> logits (B, T, tgt_vocab).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """`TorchTransformer(config)`, or TransformerConfig's arguments as for models.Transformer
        (`TorchTransformer(src_vocab, tgt_vocab, d_model=..., ...)`)."""
        super().__init__()
        self.config = cfg = TransformerConfig.of(*args, **kwargs)
        if cfg.pos not in SCHEMES:
            raise ValueError(f"TorchTransformer: pos must be one of {SCHEMES}, got {cfg.pos!r}")
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.d_model, padding_idx=cfg.pad_id)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, cfg.d_model, padding_idx=cfg.pad_id)
        self.pos, self.rel_pos = None, None  # as ours: absolute positions, relative biases
        if cfg.pos == "sinusoidal":
            self.pos = TorchPositionalEncoding(cfg.d_model, cfg.max_len, cfg.dropout)
        elif cfg.pos == "learned":
            self.pos = TorchLearnedPositionalEncoding(cfg.d_model, cfg.max_len, cfg.dropout)
        else:
            self.embed_dropout = nn.Dropout(cfg.dropout)
        if cfg.pos in ("alibi", "t5"):
            self.rel_pos = TorchRelativeBias(cfg.pos, cfg.nhead)
        layer = dict(cfg.layer_kwargs(), batch_first=True)
        self.encoder = nn.ModuleList(
            [nn.TransformerEncoderLayer(**layer) for _ in range(cfg.num_encoder_layers)]
        )
        self.decoder = nn.ModuleList(
            [nn.TransformerDecoderLayer(**layer) for _ in range(cfg.num_decoder_layers)]
        )
        if cfg.pos == "rope":
            for block in (*self.encoder, *self.decoder):
                block.self_attn = RotarySelfAttention(cfg.d_model, cfg.nhead, cfg.dropout)
        if cfg.pos not in ("sinusoidal", "learned"):
            for block in self.encoder:
                block.register_forward_pre_hook(_ordinary_path)
        if cfg.norm_first:
            self.encoder_norm = nn.LayerNorm(cfg.d_model)
            self.decoder_norm = nn.LayerNorm(cfg.d_model)
        if not cfg.tie_embeddings:
            self.out_proj = nn.Linear(cfg.d_model, cfg.tgt_vocab)
        for embedding in (self.src_embed, self.tgt_embed):  # models.Transformer's init
            nn.init.normal_(embedding.weight, std=cfg.d_model**-0.5)
            with torch.no_grad():
                embedding.weight[cfg.pad_id] = 0.0

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits.  Shapes: src (B, S), tgt_in (B, T) -> (B, T, V)."""
        return self.decode(tgt_in, self.encode(src), src)

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """Source tokens -> memory.  Shapes: (B, S) -> (B, S, E)."""
        bos = self.config.src_bos
        if bos is not None:  # as ours: a start token in the encoder, not in the memory
            src = torch.cat([torch.full_like(src[:, :1], bos), src], dim=1)
        mask, padding = self._self_attention_masks(src, causal=False)
        x = self._embed(self.src_embed, src)  # (B, S, E)
        for layer in self.encoder:
            x = layer(x, src_mask=mask, src_key_padding_mask=padding)
        if bos is not None:
            x = x[:, 1:]
        return self.encoder_norm(x) if self.config.norm_first else x

    def decode(
        self, tgt_in: torch.Tensor, memory: torch.Tensor, src: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Target prefix + memory -> logits; `src` gives the memory's padding mask.

        Shapes: (B, T), (B, S, E), (B, S) -> (B, T, V).
        """
        mask, padding = self._self_attention_masks(tgt_in, causal=True)
        memory_padding = None if src is None else src == self.config.pad_id  # (B, S)
        x = self._embed(self.tgt_embed, tgt_in)  # (B, T, E)
        for layer in self.decoder:
            x = layer(
                x,
                memory,
                tgt_mask=mask,
                tgt_key_padding_mask=padding,
                memory_key_padding_mask=memory_padding,
            )
        if self.config.norm_first:
            x = self.decoder_norm(x)
        return self.project(x)  # (B, T, V)

    def _embed(self, embedding: nn.Embedding, tokens: torch.Tensor) -> torch.Tensor:
        """Scaled token embeddings, plus absolute positions if the scheme adds them, then
        dropout.  Shapes: (B, T) -> (B, T, E)."""
        x = embedding(tokens) * math.sqrt(self.config.d_model)  # (B, T, E)
        return self.embed_dropout(x) if self.pos is None else self.pos(x)

    def _self_attention_masks(
        self, tokens: torch.Tensor, causal: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(attn_mask, key_padding_mask) of a stack's self-attention over `tokens` (B, L).

        PyTorch's bool masks (True = blocked): the causal (L, L) one in the decoder, PAD keys
        (B, L). With a relative bias, float ones: attn_mask (B*H, L, L) = the bias with -inf
        above the diagonal in the decoder, and -inf at PAD keys.
        """
        padding = tokens == self.config.pad_id  # (B, L), True at PAD
        batch, length = tokens.shape
        blocked = None
        if causal:
            blocked = torch.from_numpy(causal_mask(length)).to(tokens.device)  # (L, L)
        if self.rel_pos is None:
            return blocked, padding
        weight = self.src_embed.weight
        bias = self.rel_pos(length, causal).to(weight.device, weight.dtype)  # (H, L, L)
        if blocked is not None:
            bias = bias.masked_fill(blocked, -math.inf)
        mask = bias.expand(batch, -1, -1, -1).reshape(-1, length, length)  # (B*H, L, L)
        return mask, torch.zeros_like(padding, dtype=bias.dtype).masked_fill(padding, -math.inf)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder states to vocabulary logits.  Shapes: (B, T, E) -> (B, T, V)."""
        if self.config.tie_embeddings:
            return x @ self.tgt_embed.weight.T
        return self.out_proj(x)
