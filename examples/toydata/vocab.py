"""Vocabulary (token <-> id) and padded numpy batches for training."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np

from .data import Pair
from .prng import SplitMix64

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")


class Vocab:
    """Token <-> id map with the four specials first: PAD=0 <pad>, BOS=1 <s>, EOS=2 </s>, UNK=3."""

    def __init__(self, itos: Sequence[str]) -> None:
        if tuple(itos[:4]) != SPECIALS:
            raise ValueError(f"Vocab: the first tokens must be {SPECIALS}, got {tuple(itos[:4])}")
        self.itos = list(itos)
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]], min_freq: int = 1) -> Vocab:
        """From training token lists; most frequent first, ties broken alphabetically."""
        counts = Counter(tok for toks in token_lists for tok in toks)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq and t not in SPECIALS),
            key=lambda t: (-counts[t], t),
        )
        return cls(list(SPECIALS) + kept)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Tokens -> ids; unknown tokens -> UNK."""
        return [self.stoi.get(tok, UNK) for tok in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Ids -> tokens, stopping at EOS and dropping PAD and BOS."""
        tokens = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i not in (PAD, BOS):
                tokens.append(self.itos[i])
        return tokens

    def to_json(self) -> str:
        """JSON text to save beside a checkpoint."""
        return json.dumps({"itos": self.itos}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        return cls(json.loads(text)["itos"])


def pad_sequences(
    seqs: Sequence[Sequence[int]], pad_id: int = PAD, length: int | None = None
) -> np.ndarray:
    """Right-pad id lists into one int64 array.  Shapes: B lists -> (B, max_len or length)."""
    width = max((len(s) for s in seqs), default=0) if length is None else length
    out = np.full((len(seqs), width), pad_id, dtype=np.int64)
    for row, seq in enumerate(seqs):
        out[row, : len(seq)] = seq[:width]
    return out


def batches(
    pairs: Sequence[Pair],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    batch_size: int,
    shuffle_seed: int | None = None,
    rng: SplitMix64 | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (src, tgt_in, tgt_out) int64 arrays padded with PAD.

    Shapes: src (B, S), tgt_in (B, T) = [BOS] + target, tgt_out (B, T) = target + [EOS].
    Order is shuffled by `rng` or `SplitMix64(shuffle_seed)` if given, else kept.
    """
    order = list(range(len(pairs)))
    if rng is None and shuffle_seed is not None:
        rng = SplitMix64(shuffle_seed)
    if rng is not None:
        rng.shuffle(order)
    for start in range(0, len(order), batch_size):
        chunk = [pairs[i] for i in order[start : start + batch_size]]
        if drop_last and len(chunk) < batch_size:
            break
        tgt = [tgt_vocab.encode(p.tgt) for p in chunk]
        yield (
            pad_sequences([src_vocab.encode(p.src) for p in chunk]),
            pad_sequences([[BOS] + t for t in tgt]),
            pad_sequences([t + [EOS] for t in tgt]),
        )
