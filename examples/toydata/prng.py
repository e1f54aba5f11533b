"""A tiny deterministic PRNG (SplitMix64) in pure Python integers.

We do not use `random` or numpy's generators for the data: their streams are allowed to change
between versions, and the shipped TSV files must be reproducible byte for byte everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
_MASK = (1 << 64) - 1


class SplitMix64:
    """SplitMix64 (Steele, Lea & Flood 2014): 64-bit state, one add and two xor-shift-multiplies."""

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next_u64(self) -> int:
        """Next 64-bit unsigned integer."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        """Uniform float in [0, 1) with 53 random bits."""
        return (self.next_u64() >> 11) / 9007199254740992.0

    def below(self, n: int) -> int:
        """Integer in [0, n).  The modulo bias (< n / 2**64) is irrelevant here."""
        return self.next_u64() % n

    def choice(self, seq: Sequence[T]) -> T:
        """One element of a non-empty sequence."""
        return seq[self.next_u64() % len(seq)]

    def chance(self, p: float) -> bool:
        """True with probability p."""
        return self.random() < p

    def shuffle(self, items: list) -> None:
        """Fisher-Yates shuffle in place."""
        for i in range(len(items) - 1, 0, -1):
            j = self.next_u64() % (i + 1)
            items[i], items[j] = items[j], items[i]


def stable_hash(text: str) -> int:
    """A 64-bit hash of a string that is the same on every machine (unlike the builtin `hash`)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def seed_for(name: str, base: int = 0) -> int:
    """Derive an independent stream seed from a name, e.g. seed_for("train")."""
    return stable_hash(f"{base}:{name}")
