"""Position information, the "add position information" step
(docs/self_attention.md, section 7), five ways.

Absolute (added to the embeddings): the sinusoidal table (PositionalEncoding) and a learned
one (LearnedPositionalEncoding). Relative (in the self-attention, nothing added): rotary
embeddings (nn.RotaryEmbedding), ALiBi's constant distance penalties (ALiBi) and T5's learned
bucketed bias (T5RelativeBias); RelativePositions hands them to the Transformer's layers as
nn.MultiheadAttention's `rotary=` and `attn_bias=` keywords.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn import Tensor, _checks, nn


def sinusoidal_table(max_len: int, d_model: int) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/E)), PE[pos, 2i+1] = cos(...).  -> (max_len, E) float32."""
    position = np.arange(max_len, dtype=np.float64)[:, None]  # (L, 1)
    frequency = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2) / d_model)  # (ceil(E/2),)
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(position * frequency)
    table[:, 1::2] = np.cos(position * frequency[: d_model // 2])
    return table.astype(np.float32)


class PositionalEncoding(nn.Module):
    """x + PE[:T], then dropout (Vaswani et al. 2017, section 3.5).  Shapes: (B, T, E) -> same.

    The table is a buffer (saved in state_dict, converted by .double()), not a parameter.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.max_len = max_len
        self.register_buffer("pe", sinusoidal_table(max_len, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0, positions: np.ndarray | None = None) -> Tensor:
        """Add the encodings of positions offset .. offset+T-1 (offset > 0 when decoding), or of
        offset + positions[t] for row t when `positions` (T,) is given."""
        rows = _positions(self, offset, x.shape[1], positions)  # (T,)
        pe = _checks.as_array(self.pe)[rows]  # (T, E)
        return self.dropout(x + Tensor(pe.astype(x.dtype, copy=False)))


class LearnedPositionalEncoding(nn.Module):
    """x + P[offset : offset + T], then dropout, with P a learned (max_len, E) table (BERT, GPT).

    P starts as N(0, 1/2), the variance of the sinusoidal table's entries. Positions past the
    longest training sequence keep their initial random rows: this scheme cannot generalise
    to longer inputs. Shapes: (B, T, E) -> same.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=math.sqrt(0.5))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0, positions: np.ndarray | None = None) -> Tensor:
        """Add the rows of positions offset .. offset+T-1 (offset > 0 when decoding), or of
        offset + positions[t] for row t when `positions` (T,) is given."""
        rows = _positions(self, offset, x.shape[1], positions)  # (T,)
        return self.dropout(x + self.embedding(rows).astype(x.dtype))  # (B, T, E)


def relative_positions(
    query_len: int,
    key_len: int,
    query_offset: int = 0,
    key_offset: int = 0,
    positions: np.ndarray | None = None,
) -> np.ndarray:
    """j - i for query positions i = query_offset + 0.. and key positions j = key_offset + 0..

    A cached decoder step has query_offset = the positions cached, key_offset = 0. Self-attention
    without a cache may instead give every row's position, `positions` (L,) for queries and keys
    alike (a sorted random subset in training, Ruoss et al. 2023).
    Shapes: -> (query_len, key_len) int64.
    """
    if positions is not None:
        rows = F.check_positions(positions, query_len, "relative_positions")
        if key_len != query_len or query_offset or key_offset:
            raise ValueError(
                "relative_positions: positions are for self-attention without a cache "
                f"(query_len == key_len, no offsets); got {query_len}, {key_len}, offsets "
                f"{query_offset}, {key_offset}"
            )
        return rows[None, :] - rows[:, None]  # (L, L)
    queries = np.arange(query_offset, query_offset + query_len)[:, None]  # (L, 1)
    keys = np.arange(key_offset, key_offset + key_len)[None, :]  # (1, S)
    return keys - queries  # (L, S)


def alibi_slopes(num_heads: int) -> np.ndarray:
    """Head h = 1..H gets slope 2^(-8h/H) (Press et al. 2022): a geometric sequence from
    2^(-8/H) to 2^-8, so some heads look far back and some only at the nearest keys."""
    return 2.0 ** (-8.0 * np.arange(1, num_heads + 1) / num_heads)


class ALiBi(nn.Module):
    """Attention with linear biases (Press et al. 2022): scores_h[i, j] -= slope_h * |i - j|.

    No parameters and no position embedding: the bias is a constant added to the scores (the
    fused attention op's `mask` input), so a key's weight decays with its distance. Causal
    (decoder self-attention) uses i - j for keys j <= i (the later ones are masked anyway);
    bidirectional (encoder) uses |i - j|, the same in both directions.
    Shapes: -> (H, L, S) float32.
    """

    def __init__(self, num_heads: int, bidirectional: bool) -> None:
        super().__init__()
        self.num_heads, self.bidirectional = num_heads, bidirectional
        self.slopes = alibi_slopes(num_heads)  # (H,)

    def forward(
        self,
        query_len: int,
        key_len: int,
        query_offset: int = 0,
        key_offset: int = 0,
        positions: np.ndarray | None = None,
    ) -> np.ndarray:
        """The bias of queries query_offset.. against keys key_offset.. (or of rows at
        `positions`, see relative_positions)  -> (H, L, S)."""
        distance = relative_positions(query_len, key_len, query_offset, key_offset, positions)
        distance = np.abs(distance) if self.bidirectional else np.maximum(-distance, 0)
        return (-self.slopes[:, None, None] * distance).astype(np.float32)  # (H, L, S)

    def extra_repr(self) -> str:
        """`ALiBi(num_heads=2, bidirectional=True)` in repr."""
        return f"num_heads={self.num_heads}, bidirectional={self.bidirectional}"


def t5_buckets(
    relative: np.ndarray, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
) -> np.ndarray:
    """T5's bucket of each relative position j - i (Raffel et al. 2020, mesh-tensorflow).

    Half the buckets (of each direction, when bidirectional) hold one distance each: 0, 1, ...;
    the rest cover distances up to max_distance on a log scale, and farther ones share the
    last bucket. Causal: keys after the query all fall in bucket 0 (they are masked anyway).
    Shapes: relative (...) ints -> (...) ints in [0, num_buckets).
    """
    buckets = np.zeros(relative.shape, dtype=np.int64)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative > 0) * num_buckets  # keys after the query: the upper half
        distance = np.abs(relative)
    else:
        distance = np.maximum(-relative, 0)  # how far back the key is
    max_exact = num_buckets // 2
    far = np.maximum(distance, max_exact)  # the log scale only matters from max_exact on
    scaled = np.log(far / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (scaled * (num_buckets - max_exact)).astype(np.int64, copy=False)
    large = np.minimum(large, num_buckets - 1)
    return buckets + np.where(distance < max_exact, distance, large)


class T5RelativeBias(nn.Module):
    """T5's learned relative position bias: scores_h[i, j] += table[bucket(j - i), h].

    The (num_buckets, H) table is an Embedding (`relative_attention_bias`, as T5) whose rows
    are gathered into a (H, L, S) Tensor that requires grad; the fused attention op's dbias
    flows back through the gather (a scatter-add into the picked rows). The table starts as
    N(0, 1/4): distinct enough per distance for the heads to tell positions apart at step 0.
    Shapes: -> (H, L, S).
    """

    def __init__(
        self, num_heads: int, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
    ) -> None:
        super().__init__()
        self.num_heads, self.bidirectional = num_heads, bidirectional
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.relative_attention_bias = nn.Embedding(num_buckets, num_heads)
        nn.init.normal_(self.relative_attention_bias.weight, std=0.5)

    def forward(
        self,
        query_len: int,
        key_len: int,
        query_offset: int = 0,
        key_offset: int = 0,
        positions: np.ndarray | None = None,
    ) -> Tensor:
        """The bias of queries query_offset.. against keys key_offset.. (or of rows at
        `positions`, see relative_positions)  -> (H, L, S)."""
        relative = relative_positions(query_len, key_len, query_offset, key_offset, positions)
        buckets = t5_buckets(relative, self.bidirectional, self.num_buckets, self.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)  # (H, L, S)

    def extra_repr(self) -> str:
        """`num_heads=2, bidirectional=True, num_buckets=32, max_distance=128` in repr, above its
        table (the Embedding `relative_attention_bias`)."""
        return (
            f"num_heads={self.num_heads}, bidirectional={self.bidirectional}, "
            f"num_buckets={self.num_buckets}, max_distance={self.max_distance}"
        )


POSITION_SCHEMES = ("sinusoidal", "learned", "rope", "alibi", "t5")
ABSOLUTE_SCHEMES = ("sinusoidal", "learned")


class RelativePositions(nn.Module):
    """The relative position information of a Transformer's self-attention: "rope", "alibi" or
    "t5", as nn.MultiheadAttention keywords (`rotary=` or `attn_bias=`).

    The encoder's bias is bidirectional, the decoder's causal; cross-attention gets none (source
    and target positions are not on one axis). T5's tables are shared by all layers of a stack,
    as in T5: one gather per forward, and every layer's gradient adds into the same table.
    """

    def __init__(self, scheme: str, d_model: int, nhead: int) -> None:
        super().__init__()
        if scheme not in ("rope", "alibi", "t5"):
            raise ValueError(f"RelativePositions: unknown scheme {scheme!r}")
        self.scheme = scheme
        if scheme == "rope":
            self.rotary = nn.RotaryEmbedding(d_model // nhead)
        elif scheme == "alibi":
            self.encoder_bias, self.decoder_bias = ALiBi(nhead, True), ALiBi(nhead, False)
        else:
            self.encoder_bias = T5RelativeBias(nhead, bidirectional=True)
            self.decoder_bias = T5RelativeBias(nhead, bidirectional=False)

    def encoder(self, length: int, positions: np.ndarray | None = None) -> dict:
        """Keywords for encoder self-attention over `length` positions (bias (H, S, S)),
        0 .. length - 1 or the given `positions` (S,)."""
        if self.scheme == "rope":
            return {"rotary": self._rotary(positions)}
        return {"attn_bias": self.encoder_bias(length, length, positions=positions)}

    def decoder(self, length: int, offset: int = 0, positions: np.ndarray | None = None) -> dict:
        """Keywords for decoder self-attention of `length` new positions after `offset` cached
        ones (bias (H, T, offset + T): queries offset.., keys 0..), or of rows at `positions`
        (T,) without a cache."""
        if self.scheme == "rope":
            return {"rotary": self._rotary(positions)}
        bias = self.decoder_bias
        return {
            "attn_bias": bias(length, offset + length, query_offset=offset, positions=positions)
        }

    def _rotary(self, positions: np.ndarray | None) -> Callable[..., Tensor]:
        """The rotary embedding, bound to `positions` when given (MultiheadAttention calls it
        as rotary(x, offset=..., width=...))."""
        return self.rotary if positions is None else partial(self.rotary, positions=positions)


def _positions(
    module: nn.Module, offset: int, length: int, positions: np.ndarray | None
) -> np.ndarray:
    """The table rows of `length` positions: offset .. offset + length - 1, or offset +
    positions; a ValueError naming the module when one passes its max_len.  -> (length,)."""
    name = type(module).__name__
    if positions is None:
        rows = np.arange(offset, offset + length)
    else:
        rows = offset + F.check_positions(positions, length, name)
    if length and rows.max() >= module.max_len:
        what = f"sequence of length {offset + length}" if positions is None else "position"
        what += "" if positions is None else f" {rows.max()}"
        raise ValueError(
            f"{name}: {what} exceeds max_len {module.max_len}; build the model with a larger "
            "max_len"
        )
    return rows
