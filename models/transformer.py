"""The encoder-decoder transformer (Vaswani et al. 2017) on tinygrad_attn; docs/self_attention.md
derives it step by step.

Embed the words (scaled by sqrt(E)), add position information, run N encoder layers of
self-attention + feed-forward, then N decoder layers that add cross-attention over the encoder's
output; the decoder is fed BOS and then its own previous outputs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from models import decoding
from models.config import TransformerConfig
from models.positional import (
    LearnedPositionalEncoding,
    PositionalEncoding,
    RelativePositions,
)
from tinygrad_attn import Tensor, nn
from tinygrad_attn.nn import init

if TYPE_CHECKING:  # models/cache.py imports this module; annotations only
    from models.cache import DecoderLayerCache


class FeedForward(nn.Module):
    """Position-wise FFN: linear2(dropout(act(linear1(x)))).  Shapes: (B, T, E) -> (B, T, E)."""

    def __init__(self, d_model: int, dim_feedforward: int, dropout: float, activation: str) -> None:
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(
                f"FeedForward: activation must be 'relu' or 'gelu', got {activation!r}"
            )
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.activation = nn.ReLU() if activation == "relu" else nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)

    def forward(self, x: Tensor) -> Tensor:
        """linear2(dropout(activation(linear1(x)))), each position alone.  Shapes: (B, T, E)."""
        hidden = self.dropout(self.activation(self.linear1(x)))  # (B, T, F)
        return self.linear2(hidden)  # (B, T, E)


class _Sublayers(nn.Module):
    """The sublayers of an encoder or decoder layer, made in PyTorch's order (so weights map
    one to one): self-attention, cross-attention (decoder), feed-forward, a LayerNorm and a
    Dropout per sublayer. The arguments are torch.nn.TransformerEncoderLayer's."""

    cross_attention = False  # the decoder's: attention over the encoder memory

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        if self.cross_attention:
            self.cross_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.ff = FeedForward(d_model, dim_feedforward, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        if self.cross_attention:
            self.norm3 = nn.LayerNorm(d_model, eps=eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        if self.cross_attention:
            self.dropout3 = nn.Dropout(dropout)


class TransformerEncoderLayer(_Sublayers):
    """Self-attention then feed-forward, each with a residual connection and LayerNorm.

    Post-norm (the paper): x = norm(x + sublayer(x)); pre-norm (norm_first=True):
    x = x + sublayer(norm(x)). Shapes: src (B, S, E) -> (B, S, E).
    """

    def forward(
        self,
        src: Tensor,
        src_key_padding_mask: np.ndarray | None = None,
        *,
        attn_bias: Any = None,
        rotary: Any = None,
    ) -> Tensor:
        """Shapes: src (B, S, E) -> (B, S, E). attn_bias (H, S, S) and rotary are the
        self-attention's relative position information (nn.MultiheadAttention's keywords)."""
        x = src  # (B, S, E)
        position = dict(attn_bias=attn_bias, rotary=rotary)
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_key_padding_mask, position)
            return x + self.dropout2(self.ff(self.norm2(x)))
        x = self.norm1(x + self._self_attention(x, src_key_padding_mask, position))
        return self.norm2(x + self.dropout2(self.ff(x)))

    def _self_attention(
        self, x: Tensor, key_padding_mask: np.ndarray | None, position: dict
    ) -> Tensor:
        out, _ = self.self_attn(
            x, x, x, key_padding_mask=key_padding_mask, need_weights=False, **position
        )
        return self.dropout1(out)  # (B, S, E)


class TransformerDecoderLayer(_Sublayers):
    """Masked self-attention, cross-attention over the encoder memory, then feed-forward.

    Each sublayer has a residual connection and LayerNorm (post-norm, or pre-norm with
    norm_first=True). Shapes: tgt (B, T, E), memory (B, S, E) -> (B, T, E).
    """

    cross_attention = True

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: np.ndarray | None = None,
        tgt_key_padding_mask: np.ndarray | None = None,
        memory_key_padding_mask: np.ndarray | None = None,
        *,
        tgt_is_causal: bool = False,
        cache: DecoderLayerCache | None = None,
        attn_bias: Any = None,
        rotary: Any = None,
    ) -> Tensor:
        """Shapes: tgt (B, T, E), memory (B, S, E) -> (B, T, E).

        tgt_is_causal: position i may only attend to positions <= i (no mask array needed).
        cache: decoding step by step (under no_grad): tgt holds only the new positions, and the
        self-attention keys of the earlier ones come from the cache (models/cache.py).
        attn_bias (H, T, T incl. cached keys) and rotary: the self-attention's relative position
        information (nn.MultiheadAttention's keywords); cross-attention gets none.
        """
        x = tgt  # (B, T, E)
        self_kw = dict(mask=tgt_mask, padding=tgt_key_padding_mask, causal=tgt_is_causal)
        self_kw.update(attn_bias=attn_bias, rotary=rotary)
        self_cache = None if cache is None else cache.self_attn
        cross_cache = None if cache is None else cache.cross_attn
        if self.norm_first:
            x = x + self._self_block(self.norm1(x), self_cache, **self_kw)
            x = x + self._cross_block(self.norm2(x), memory, memory_key_padding_mask, cross_cache)
            return x + self.dropout3(self.ff(self.norm3(x)))
        x = self.norm1(x + self._self_block(x, self_cache, **self_kw))
        x = self.norm2(x + self._cross_block(x, memory, memory_key_padding_mask, cross_cache))
        return self.norm3(x + self.dropout3(self.ff(x)))

    def _self_block(
        self,
        x: Tensor,
        cache: nn.KVCache | None,
        mask: np.ndarray | None,
        padding: np.ndarray | None,
        causal: bool,
        attn_bias: Any,
        rotary: Any,
    ) -> Tensor:
        out, _ = self.self_attn(
            x,
            x,
            x,
            attn_mask=mask,
            key_padding_mask=padding,
            need_weights=False,
            is_causal=causal,
            cache=cache,
            attn_bias=attn_bias,
            rotary=rotary,
        )
        return self.dropout1(out)  # (B, T, E)

    def _cross_block(
        self,
        x: Tensor,
        memory: Tensor,
        padding: np.ndarray | None,
        cache: nn.KVCache | None,
    ) -> Tensor:
        out, _ = self.cross_attn(
            x, memory, memory, key_padding_mask=padding, need_weights=False, cache=cache
        )
        return self.dropout2(out)  # (B, T, E)


def _same_batch(a: np.ndarray | Tensor, a_name: str, b: np.ndarray | Tensor, b_name: str) -> None:
    """ValueError naming the Transformer and both inputs when their batch sizes differ."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"Transformer: {a_name} has batch size {a.shape[0]} but {b_name} has {b.shape[0]} "
            f"(shapes {a.shape} and {b.shape})"
        )


def causal_mask(length: int) -> np.ndarray:
    """(T, T) bool, True above the diagonal: query i may not see key j > i (MHA convention)."""
    return np.triu(np.ones((length, length), dtype=bool), k=1)


def _config_field(name: str, doc: str) -> property:
    """A read-only attribute that is the config's field `name`: model.pad_id is
    model.config.pad_id."""
    return property(lambda model: getattr(model.config, name), doc=f"config.{name}: {doc}.")


class Transformer(nn.Module):
    """Encoder-decoder transformer for sequence-to-sequence tasks (e.g. translation), built
    from a TransformerConfig (models/config.py: every setting, its default and its range).

    Shapes: src (B, S) ints, tgt_in (B, T) ints -> logits (B, T, tgt_vocab).
    `pad_id` positions are masked as keys everywhere. With `tie_embeddings=True` the output
    projection reuses the target embedding matrix (Press & Wolf 2017).

    `pos` chooses the position information (models/positional.py): "sinusoidal" (the paper's,
    added to the embeddings), "learned" (a learned (max_len, E) table, added), or a relative
    scheme in the self-attention with nothing added to the embeddings: "rope" (rotary, Su et
    al. 2021), "alibi" (linear distance penalties, Press et al. 2022) or "t5" (T5's learned
    bucketed bias, Raffel et al. 2020).

    `src_bos` (a token id, e.g. BOS) is put before every source inside the encoder, and its row
    left out of the memory: an anchor whose distance is each token's absolute position, which
    the relative schemes otherwise cannot see (where a clause starts, in a long sentence). It
    sits at position 0 and the source at 1, 2, ... (or at 1 + src_positions when given).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """`Transformer(config)`, or TransformerConfig's arguments with its defaults
        (`Transformer(src_vocab, tgt_vocab, d_model=..., ...)`, models/config.py), which make
        the config first. `model.config` gives it back; the modules below are built from it
        alone, in this order (the order their parameters are drawn from the RNG)."""
        super().__init__()
        self.config = cfg = TransformerConfig.of(*args, **kwargs)
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.d_model, padding_idx=cfg.pad_id)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, cfg.d_model, padding_idx=cfg.pad_id)
        self.pos, self.rel_pos = None, None  # absolute: added to the embeddings; relative: not
        if cfg.pos == "sinusoidal":
            self.pos = PositionalEncoding(cfg.d_model, cfg.max_len, cfg.dropout)
        elif cfg.pos == "learned":
            self.pos = LearnedPositionalEncoding(cfg.d_model, cfg.max_len, cfg.dropout)
        else:
            self.rel_pos = RelativePositions(cfg.pos, cfg.d_model, cfg.nhead)
            self.embed_dropout = nn.Dropout(cfg.dropout)
        layer = cfg.layer_kwargs()
        self.encoder = nn.ModuleList(
            [TransformerEncoderLayer(**layer) for _ in range(cfg.num_encoder_layers)]
        )
        self.decoder = nn.ModuleList(
            [TransformerDecoderLayer(**layer) for _ in range(cfg.num_decoder_layers)]
        )
        if cfg.norm_first:  # pre-norm stacks end un-normalised; the usual final LayerNorm fixes it
            self.encoder_norm = nn.LayerNorm(cfg.d_model)
            self.decoder_norm = nn.LayerNorm(cfg.d_model)
        if not cfg.tie_embeddings:
            self.out_proj = nn.Linear(cfg.d_model, cfg.tgt_vocab)
        self._init_embeddings()

    # The config's fields that the methods below, decoding, interop and the examples read.
    d_model = _config_field("d_model", "E, the embedding and residual width")
    pad_id = _config_field("pad_id", "the padding token, masked as a key everywhere")
    max_len = _config_field("max_len", "the longest source or target accepted")
    norm_first = _config_field("norm_first", "pre-norm layers and a final LayerNorm per stack")
    tie_embeddings = _config_field("tie_embeddings", "the output projection is tgt_embed's")
    pos_scheme = _config_field("pos", "the position scheme's name (self.pos: its module)")
    src_bos = _config_field("src_bos", "the start token before every source, or None")

    def _init_embeddings(self) -> None:
        """Embeddings ~ N(0, 1/E) (fairseq's choice), so that after the sqrt(E) scaling tokens and
        the sinusoidal positions (entries in [-1, 1]) have the same size. With nn.Embedding's
        N(0, 1) the tokens would be sqrt(E) = 11x larger than the positions (E = 128) and word
        order (我的哥哥 vs 哥哥的我) much harder to learn. The padding row stays zero."""
        for embedding in (self.src_embed, self.tgt_embed):
            init.normal_(embedding.weight, std=self.d_model**-0.5)
            embedding.weight.data[self.pad_id] = 0.0

    def forward(
        self,
        src: np.ndarray | Tensor,
        tgt_in: np.ndarray | Tensor,
        *,
        src_positions: np.ndarray | None = None,
        tgt_positions: np.ndarray | None = None,
    ) -> Tensor:
        """Teacher-forced logits.  Shapes: src (B, S), tgt_in (B, T) -> (B, T, V).

        `src_positions` (S,) and `tgt_positions` (T,) replace the positions 0, 1, .. of the
        source and target rows (every scheme; e.g. sorted random subsets of 0 .. max_len - 1
        in training, Ruoss et al. 2023, so that longer inputs' positions were seen)."""
        _same_batch(self._tokens(src, "src"), "src", self._tokens(tgt_in, "tgt_in"), "tgt_in")
        memory = self.encode(src, positions=src_positions)  # (B, S, E)
        return self.decode(tgt_in, memory, src, positions=tgt_positions)

    def encode(self, src: np.ndarray | Tensor, positions: np.ndarray | None = None) -> Tensor:
        """Source tokens -> memory.  Shapes: (B, S), positions (S,) -> (B, S, E)."""
        src = self._tokens(src, "src")
        padding = src == self.pad_id  # (B, S), True at PAD
        padding = padding if padding.any() else None  # no mask to add when nothing is padded
        if self.src_bos is not None:  # the start token: row 0 of the encoder, not of the memory
            src = np.concatenate([np.full((src.shape[0], 1), self.src_bos), src], axis=1)
            padding = None if padding is None else np.pad(padding, ((0, 0), (1, 0)))
            if positions is not None:  # the start at 0, the source one after its given places
                rows = F.check_positions(positions, src.shape[1] - 1, "Transformer.encode")
                positions = np.concatenate([[0], 1 + rows])  # (S + 1,)
        x = self._embed(self.src_embed, src, 0, positions)  # (B, S, E), S with the start token
        position = {} if self.rel_pos is None else self.rel_pos.encoder(src.shape[1], positions)
        for layer in self.encoder:
            x = layer(x, src_key_padding_mask=padding, **position)
        if self.src_bos is not None:
            x = x[:, 1:]  # (B, S, E): one memory row per source token
        return self.encoder_norm(x) if self.norm_first else x

    def decode(
        self,
        tgt_in: np.ndarray | Tensor,
        memory: Tensor,
        src: np.ndarray | Tensor | None = None,
        cache: list[DecoderLayerCache] | None = None,
        positions: np.ndarray | None = None,
    ) -> Tensor:
        """Target prefix + memory -> logits.  Shapes: (B, T), (B, S, E) -> (B, T, V).

        `src` (B, S) gives the memory's padding mask; without it every memory position is used.
        With `cache` (one DecoderLayerCache per decoder layer, under no_grad) only the positions
        the cache does not hold yet are run: logits (B, T - cached, V), the earlier positions'
        keys and values being read from the cache (models/cache.py drives this). `positions`
        (T,) replaces the target rows' positions 0, 1, ... (see forward; not with a cache).
        """
        x = self._decoder_layers(tgt_in, memory, src, cache, positions)[-1]
        if self.norm_first:
            x = self.decoder_norm(x)
        return self.project(x)  # (B, T', V)

    def decoder_states(self, src: np.ndarray | Tensor, tgt_in: np.ndarray | Tensor) -> list[Tensor]:
        """Teacher-forced output of every decoder layer, before any final norm and the
        projection: what the consistency objective of examples/_consistency.py compares.
        Shapes: src (B, S), tgt_in (B, T) -> num_decoder_layers tensors (B, T, E)."""
        _same_batch(self._tokens(src, "src"), "src", self._tokens(tgt_in, "tgt_in"), "tgt_in")
        return self._decoder_layers(tgt_in, self.encode(src), src)

    def _decoder_layers(
        self,
        tgt_in: np.ndarray | Tensor,
        memory: Tensor,
        src: np.ndarray | Tensor | None = None,
        cache: list[DecoderLayerCache] | None = None,
        positions: np.ndarray | None = None,
    ) -> list[Tensor]:
        """The decoder stack of `decode`: each layer's output (B, T', E), first to last."""
        tgt_in = self._tokens(tgt_in, "tgt_in")
        _same_batch(tgt_in, "tgt_in", memory, "memory")
        memory_padding = None
        if src is not None:
            src = self._tokens(src, "src")
            _same_batch(src, "src", memory, "memory")
            memory_padding = src == self.pad_id if (src == self.pad_id).any() else None
        tgt_padding = tgt_in == self.pad_id  # (B, T): keys to ignore, cached ones included
        if cache is not None and positions is not None:
            raise ValueError("Transformer.decode: positions= cannot be combined with a cache")
        start = 0 if cache is None else cache[0].self_attn.length
        new = tgt_in[:, start:]  # (B, T - start): the positions to run
        x = self._embed(self.tgt_embed, new, start, positions)  # (B, T', E)
        position = {}
        if self.rel_pos is not None:
            position = self.rel_pos.decoder(new.shape[1], start, positions)
        padding = tgt_padding if tgt_padding.any() else None
        outputs = []
        for i, layer in enumerate(self.decoder):
            layer_cache = None if cache is None else cache[i]
            x = layer(
                x,
                memory,
                tgt_key_padding_mask=padding,
                memory_key_padding_mask=memory_padding,
                tgt_is_causal=True,
                cache=layer_cache,
                **position,
            )
            outputs.append(x)
        return outputs

    def _embed(
        self,
        embedding: nn.Embedding,
        tokens: np.ndarray,
        offset: int,
        positions: np.ndarray | None = None,
    ) -> Tensor:
        """Scaled token embeddings, plus absolute positions offset.. (or `positions`) if the
        scheme adds them, then dropout.  Shapes: (B, T) -> (B, T, E)."""
        x = embedding(tokens) * math.sqrt(self.d_model)  # (B, T, E)
        if self.pos is None:  # relative schemes: positions enter in the self-attention
            return self.embed_dropout(x)
        return self.pos(x, offset=offset, positions=positions)

    def project(self, x: Tensor) -> Tensor:
        """Decoder states to vocabulary logits.  Shapes: (B, T, E) -> (B, T, V)."""
        if self.tie_embeddings:
            return x @ self.tgt_embed.weight.T
        return self.out_proj(x)

    def greedy_decode(
        self, src: np.ndarray | Tensor, bos_id: int, eos_id: int, max_len: int, **options: Any
    ) -> np.ndarray:
        """Batched greedy decoding -> (B, <= max_len) ints: BOS first, pad_id after EOS.

        `options` are models.decoding.greedy_decode's: `use_cache=True` reuses earlier
        positions' keys and values (linear cost in the length; without it every step re-runs
        the decoder over the whole prefix, same output); `limits` / `no_repeat` (B,), the
        safeguards (a length bound per row, no n-gram three times in a row), which
        `decoding.safeguards(src, pad_id)` makes.
        """
        return decoding.greedy_decode(
            self, self._tokens(src, "src"), bos_id, eos_id, max_len, **options
        )

    def beam_search(
        self,
        src: np.ndarray | Tensor,
        beam_size: int,
        bos_id: int,
        eos_id: int,
        max_len: int,
        **options: Any,
    ) -> np.ndarray:
        """Beam search with length normalisation (score / length**length_penalty), same format.

        `options` are models.decoding.beam_search's: `length_penalty=1.0`, and `use_cache`,
        `limits` and `no_repeat` as in greedy_decode; beam_size=1 is greedy decoding.
        """
        src = self._tokens(src, "src")
        return decoding.beam_search(self, src, beam_size, bos_id, eos_id, max_len, **options)

    def _tokens(self, tokens: np.ndarray | Tensor, name: str) -> np.ndarray:
        array = tokens.data if isinstance(tokens, Tensor) else np.asarray(tokens)
        if array.ndim != 2 or array.dtype.kind not in "iu":
            raise ValueError(
                f"Transformer: {name} must be a (B, length) integer array, got shape "
                f"{array.shape} dtype {array.dtype}"
            )
        if array.shape[1] > self.max_len:
            raise ValueError(
                f"Transformer: {name} length {array.shape[1]} exceeds max_len {self.max_len}"
            )
        return array
