"""Two small tasks for studying attention, generated on the fly (deterministic, no files).

reversal: source = 3..10 letters from a-j, target = the same reversed; alignment is the
    anti-diagonal (tgt[j] <- src[n-1-j]).  test_long has 11..16 letters.
dates: "may 3rd , 2029" | "3 may 2029" | "the 3rd of may , 2029" -> "2029 - 05 - 03".
    Tokens: month names, ordinals ("3rd") or cardinals ("3"), years 1950-2049 as single tokens;
    the year, month and day target tokens align to their source tokens, "-" to nothing.
Splits: train / valid / test_iid by a stable hash of the source string (90/5/5), plus test_long
for reversal.
"""

from __future__ import annotations

from collections.abc import Callable

from .data import Pair
from .prng import SplitMix64, seed_for, stable_hash

ALPHABET = tuple("abcdefghij")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def ordinal(day: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    if day % 10 in (1, 2, 3) and day not in (11, 12, 13):
        return f"{day}{('st', 'nd', 'rd')[day % 10 - 1]}"
    return f"{day}th"


def reversal_pair(rng: SplitMix64, min_len: int, max_len: int) -> Pair:
    """Random letters and their reversal, with the anti-diagonal alignment."""
    n = min_len + rng.below(max_len - min_len + 1)
    src = [rng.choice(ALPHABET) for _ in range(n)]
    return Pair(src, src[::-1], [[n - 1 - j] for j in range(n)])


def date_pair(rng: SplitMix64) -> Pair:
    """A date written one of three English ways -> ISO-like "yyyy - mm - dd" tokens."""
    year = 1950 + rng.below(100)
    month = rng.below(12)
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = _DAYS_IN_MONTH[month] - (1 if month == 1 and not leap else 0)
    day = 1 + rng.below(days)
    style = rng.below(3)
    if style == 0:
        src, (m, d, y) = [MONTHS[month], ordinal(day), ",", str(year)], (0, 1, 3)
    elif style == 1:
        src, (m, d, y) = [str(day), MONTHS[month], str(year)], (1, 0, 2)
    else:
        src, (m, d, y) = ["the", ordinal(day), "of", MONTHS[month], ",", str(year)], (3, 1, 5)
    tgt = [str(year), "-", f"{month + 1:02d}", "-", f"{day:02d}"]
    return Pair(src, tgt, [[y], [], [m], [], [d]])


def _hash_splits(
    make: Callable[[SplitMix64], Pair], name: str, sizes: dict[str, int]
) -> dict[str, list[Pair]]:
    rng = SplitMix64(seed_for(name))
    out: dict[str, list[Pair]] = {k: [] for k in sizes}
    seen: set[str] = set()
    while any(len(out[k]) < sizes[k] for k in sizes):
        pair = make(rng)
        key = " ".join(pair.src)
        if key in seen:
            continue
        seen.add(key)
        bucket = stable_hash(key) % 100
        split = "valid" if bucket < 5 else "test_iid" if bucket < 10 else "train"
        if len(out[split]) < sizes[split]:
            out[split].append(pair)
    return out


def reversal_splits(train: int = 10000, held: int = 500) -> dict[str, list[Pair]]:
    """{"train", "valid", "test_iid", "test_long"} for sequence reversal."""
    out = _hash_splits(
        lambda r: reversal_pair(r, 3, 10),
        "reversal",
        {"train": train, "valid": held, "test_iid": held},
    )
    rng = SplitMix64(seed_for("reversal_long"))
    out["test_long"] = [reversal_pair(rng, 11, 16) for _ in range(held)]
    return out


def dates_splits(train: int = 10000, held: int = 500) -> dict[str, list[Pair]]:
    """{"train", "valid", "test_iid"} for date normalisation."""
    return _hash_splits(date_pair, "dates", {"train": train, "valid": held, "test_iid": held})
