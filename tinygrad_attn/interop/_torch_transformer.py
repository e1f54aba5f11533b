"""models.Transformer written with torch.nn: what `interop.to_torch(model)` returns.

Same arguments, same submodule names wherever PyTorch lets us (src_embed, tgt_embed, pos.pe,
encoder.<i>, decoder.<i>, encoder_norm, decoder_norm, out_proj), same semantics: embeddings
scaled by sqrt(E) with a zero PAD row, the sinusoidal table added (then dropout), PAD positions
masked as keys everywhere, a causal decoder, a tied output projection when asked. The layers
are PyTorch's own nn.TransformerEncoderLayer / nn.TransformerDecoderLayer (batch first).

One difference: a query that may see no key at all (a source made only of PAD) gets zeros in
tinygrad_attn and NaN in PyTorch. Real inputs always hold at least one token.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from models.positional import sinusoidal_table


class TorchPositionalEncoding(nn.Module):
    """x + PE[offset : offset + T], then dropout; PE is the buffer `pe` (max_len, E), the same
    table as models.PositionalEncoding.  Shapes: (B, T, E) -> same."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.max_len = max_len
        self.register_buffer("pe", torch.from_numpy(sinusoidal_table(max_len, d_model)))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Add the encodings of positions offset .. offset+T-1."""
        length = x.shape[1]
        if offset + length > self.max_len:
            raise ValueError(
                f"TorchPositionalEncoding: sequence of length {offset + length} exceeds "
                f"max_len {self.max_len}"
            )
        return self.dropout(x + self.pe[offset : offset + length])  # (B, T, E)


class TorchTransformer(nn.Module):
    """models.Transformer in PyTorch, same arguments (kept in `self.args`).

    Shapes: src (B, S) ints, tgt_in (B, T) ints -> logits (B, T, tgt_vocab).
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        d_model: int = 128,
        nhead: int = 4,
        num_encoder_layers: int = 2,
        num_decoder_layers: int = 2,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        max_len: int = 256,
        norm_first: bool = False,
        pad_id: int = 0,
        activation: str = "relu",
        tie_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.args = dict(
            src_vocab=src_vocab,
            tgt_vocab=tgt_vocab,
            d_model=d_model,
            nhead=nhead,
            num_encoder_layers=num_encoder_layers,
            num_decoder_layers=num_decoder_layers,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            max_len=max_len,
            norm_first=norm_first,
            pad_id=pad_id,
            activation=activation,
            tie_embeddings=tie_embeddings,
        )
        self.d_model, self.pad_id, self.max_len = d_model, pad_id, max_len
        self.norm_first, self.tie_embeddings = norm_first, tie_embeddings
        self.src_embed = nn.Embedding(src_vocab, d_model, padding_idx=pad_id)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model, padding_idx=pad_id)
        self.pos = TorchPositionalEncoding(d_model, max_len, dropout)
        layer = dict(
            d_model=d_model,
            nhead=nhead,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            batch_first=True,
            norm_first=norm_first,
        )
        self.encoder = nn.ModuleList(
            [nn.TransformerEncoderLayer(**layer) for _ in range(num_encoder_layers)]
        )
        self.decoder = nn.ModuleList(
            [nn.TransformerDecoderLayer(**layer) for _ in range(num_decoder_layers)]
        )
        if norm_first:
            self.encoder_norm = nn.LayerNorm(d_model)
            self.decoder_norm = nn.LayerNorm(d_model)
        if not tie_embeddings:
            self.out_proj = nn.Linear(d_model, tgt_vocab)
        for embedding in (self.src_embed, self.tgt_embed):  # models.Transformer's init
            nn.init.normal_(embedding.weight, std=d_model**-0.5)
            with torch.no_grad():
                embedding.weight[pad_id] = 0.0

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits.  Shapes: src (B, S), tgt_in (B, T) -> (B, T, V)."""
        return self.decode(tgt_in, self.encode(src), src)

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """Source tokens -> memory.  Shapes: (B, S) -> (B, S, E)."""
        padding = src == self.pad_id  # (B, S), True at PAD (nn.MultiheadAttention's convention)
        x = self.pos(self.src_embed(src) * math.sqrt(self.d_model))  # (B, S, E)
        for layer in self.encoder:
            x = layer(x, src_key_padding_mask=padding)
        return self.encoder_norm(x) if self.norm_first else x

    def decode(
        self, tgt_in: torch.Tensor, memory: torch.Tensor, src: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Target prefix + memory -> logits; `src` gives the memory's padding mask.

        Shapes: (B, T), (B, S, E), (B, S) -> (B, T, V).
        """
        length = tgt_in.shape[1]
        causal = torch.from_numpy(np.triu(np.ones((length, length), dtype=bool), k=1))  # (T, T)
        memory_padding = None if src is None else src == self.pad_id  # (B, S)
        x = self.pos(self.tgt_embed(tgt_in) * math.sqrt(self.d_model))  # (B, T, E)
        for layer in self.decoder:
            x = layer(
                x,
                memory,
                tgt_mask=causal,
                tgt_key_padding_mask=tgt_in == self.pad_id,
                memory_key_padding_mask=memory_padding,
            )
        if self.norm_first:
            x = self.decoder_norm(x)
        return self.project(x)  # (B, T, V)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder states to vocabulary logits.  Shapes: (B, T, E) -> (B, T, V)."""
        if self.tie_embeddings:
            return x @ self.tgt_embed.weight.T
        return self.out_proj(x)
