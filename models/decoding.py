"""Autoregressive decoding: the decoder is fed BOS, then its own previous outputs.

Both decoders run inside `model.evaluating()` (eval mode, so dropout is off, and no_grad),
which restores every submodule's mode afterwards.
Output format: an int64 array (B, <= max_len) starting with BOS; after a sequence's EOS every
position holds the model's pad_id; decoding stops early once every sequence has ended.
With `use_cache=True` (the default) each step feeds only the newest token through the decoder
and reuses the keys and values of earlier positions (models/cache.py), so the cost grows
linearly with the output length; `use_cache=False` re-runs the decoder over the whole prefix at
every step (quadratic), the plain reading of the model. Both give the same tokens: their
logits agree to float32 rounding (~1e-6), so only an exact near-tie could pick differently.

Safeguards against a model that will not stop (`safeguards(src, pad_id)` makes both):
- `limits` (B,): row b generates at most limits[b] tokens, EOS included, and ends there
  without EOS; `length_limits` gives LENGTH_RATIO * (its source tokens) + LENGTH_EXTRA
  (2 * S + 5: the toy grammar's longest target plus EOS is 2 * S + 3, a fixed phrase such as
  没关系 -> "it does not matter").
- `no_repeat` (B,) bool: in those rows a token is never chosen if it would make the output end
  with one n-gram three times in a row (any n: "you you you", "in the park in the park in the
  park"); `safeguards` leaves it off for a source that itself repeats an n-gram three times.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.cache import DecoderCache
from tinygrad_attn import Tensor

LENGTH_RATIO = 2
LENGTH_EXTRA = 5
REPEATS = 3  # an n-gram this many times in a row is a loop


def length_limits(src: np.ndarray, pad_id: int) -> np.ndarray:
    """The most tokens each row may generate, EOS included: LENGTH_RATIO * (its non-pad source
    tokens) + LENGTH_EXTRA.  Shapes: src (B, S) -> (B,) int64."""
    return LENGTH_RATIO * (np.asarray(src) != pad_id).sum(axis=1) + LENGTH_EXTRA


def has_loop(tokens: list, times: int = REPEATS) -> bool:
    """True when some n-gram occurs `times` times in a row: [5, 6, 5, 6, 5, 6] (n = 2)."""
    for n in range(1, len(tokens) // times + 1):
        for i in range(len(tokens) - times * n + 1):
            first = tokens[i : i + n]
            if all(tokens[i + k * n : i + (k + 1) * n] == first for k in range(1, times)):
                return True
    return False


def safeguards(src: np.ndarray, pad_id: int) -> dict[str, np.ndarray]:
    """{"limits": length_limits, "no_repeat": True for every row whose source has no loop of
    its own} for greedy_decode / beam_search.  Shapes: src (B, S) -> two (B,) arrays."""
    rows = [[t for t in row if t != pad_id] for row in np.asarray(src).tolist()]
    no_repeat = np.array([not has_loop(r) for r in rows], dtype=bool)
    return {"limits": length_limits(src, pad_id), "no_repeat": no_repeat}


def ban_repeats(logits: np.ndarray, generated: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`logits` with -inf on each token that would end a REPEATS-th copy in a row of an n-gram
    (for the rows where `rows` is True).  Shapes: logits (N, V), generated (N, t) without BOS,
    rows (N,) -> (N, V)."""
    logits = np.array(logits)  # a copy: the caller's array stays as it was
    length = generated.shape[1]
    for n in range(1, (length + 1) // REPEATS + 1):
        # The token that would repeat generated[-n]: banned when the copies before it agree.
        span = (REPEATS - 1) * n - 1
        agree = generated[:, length - span - n : length - n] == generated[:, length - span :]
        hit = np.nonzero(agree.all(axis=1) & rows)[0]
        logits[hit, generated[hit, length - n]] = -np.inf
    return logits


def _check(bos_id: int, eos_id: int, max_len: int, model: Any) -> None:
    if max_len < 2:
        raise ValueError(f"decode: max_len must be at least 2 (BOS and one token), got {max_len}")
    if max_len > model.max_len:
        raise ValueError(f"decode: max_len {max_len} exceeds the model's max_len {model.max_len}")
    if bos_id == eos_id:
        raise ValueError(f"decode: bos_id and eos_id must differ, both are {bos_id}")


def greedy_decode(
    model: Any,
    src: np.ndarray,
    bos_id: int,
    eos_id: int,
    max_len: int,
    use_cache: bool = True,
    limits: np.ndarray | None = None,
    no_repeat: np.ndarray | None = None,
) -> np.ndarray:
    """Pick the most likely next token at each step; `limits` and `no_repeat` (B,) as in the
    module docstring.  Shapes: src (B, S) -> (B, <= max_len)."""
    _check(bos_id, eos_id, max_len, model)
    with model.evaluating():
        memory = model.encode(src)  # (B, S, E)
        step = _stepper(model, memory, src, max_len, use_cache)
        out = np.full((src.shape[0], 1), bos_id, dtype=np.int64)  # (B, 1)
        done = np.zeros(src.shape[0], dtype=bool)
        while out.shape[1] < max_len and not done.all():
            logits = step(out)  # (B, V)
            if no_repeat is not None:
                logits = ban_repeats(logits, out[:, 1:], no_repeat & ~done)
            token = logits.argmax(axis=-1)  # (B,)
            token = np.where(done, model.pad_id, token)
            out = np.concatenate([out, token[:, None]], axis=1)  # (B, t+1)
            done |= token == eos_id
            if limits is not None:
                done |= out.shape[1] - 1 >= limits
    return out


class _FullPrefix:
    """Logits of the next token by running the decoder over the whole prefix (no cache).

    Same interface as DecoderCache: call with the prefix (N, t) -> (N, V); `reorder` has nothing
    to move, since every call gets the full prefix.
    """

    def __init__(self, model: Any, memory: Any, src: np.ndarray) -> None:
        self.model, self.memory, self.src = model, memory, src

    def __call__(self, prefix: np.ndarray) -> np.ndarray:
        return self.model.decode(prefix, self.memory, self.src).data[:, -1, :]  # (N, V)

    def reorder(self, rows: np.ndarray) -> None:
        """Nothing to do: no state is kept between calls (DecoderCache moves its cache rows)."""


def _stepper(
    model: Any, memory: Any, src: np.ndarray, max_len: int, use_cache: bool, group_size: int = 1
) -> DecoderCache | _FullPrefix:
    """A callable prefix (N, t) -> next-token logits (N, V), with `reorder(rows)`."""
    if use_cache:
        return DecoderCache(model, memory, src, max_len, group_size)
    return _FullPrefix(model, memory, src)


def beam_search(
    model: Any,
    src: np.ndarray,
    beam_size: int,
    bos_id: int,
    eos_id: int,
    max_len: int,
    length_penalty: float = 1.0,
    use_cache: bool = True,
    limits: np.ndarray | None = None,
    no_repeat: np.ndarray | None = None,
) -> np.ndarray:
    """Keep the `beam_size` best prefixes per source; return the best finished hypothesis.

    A hypothesis ends when EOS is among the top `beam_size` candidates of its step. Ended ones
    are ranked by sum(log p) / length**length_penalty, length counting the generated tokens;
    a source is done when it holds `beam_size` of them and no open beam could outrank the worst
    (beams still open at max_len, or at the source's `limits`, end there); `no_repeat` as in
    the module docstring. With beam_size=1 this is exactly greedy decoding.
    Shapes: src (B, S) -> (B, <= max_len).
    """
    _check(bos_id, eos_id, max_len, model)
    if beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be >= 1, got {beam_size}")
    batch, k = src.shape[0], beam_size
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    with model.evaluating():
        src_k = np.repeat(src, k, axis=0)  # (B*K, S)
        step = _stepper(model, model.encode(src_k), src_k, max_len, use_cache, group_size=k)
        prefixes = np.full((batch * k, 1), bos_id, dtype=np.int64)  # (B*K, 1)
        scores = np.full((batch, k), -np.inf)
        scores[:, 0] = 0.0  # the K beams start identical: keep one live so none is duplicated
        done = np.zeros(batch, dtype=bool)
        guard = None if no_repeat is None else np.repeat(no_repeat, k)  # (B*K,)
        while prefixes.shape[1] < max_len and not done.all():
            log_probs = Tensor(step(prefixes).astype(np.float64)).log_softmax(-1).data  # (B*K, V)
            if guard is not None:
                log_probs = ban_repeats(log_probs, prefixes[:, 1:], guard)
            total = (scores.reshape(-1, 1) + log_probs).reshape(batch, -1)  # (B, K*V)
            prefixes, scores, parents = _advance(
                prefixes, total, log_probs.shape[1], k, eos_id, length_penalty, finished, done
            )
            step.reorder(parents)
            generated = prefixes.shape[1] - 1
            for b in range(batch):
                # Done once K hypotheses ended and the best open beam, scored at its current
                # length, ranks below the worst of them (the usual beam-search heuristic).
                best_open = scores[b].max() / generated**length_penalty
                worst_kept = min(score for score, _ in finished[b]) if finished[b] else np.inf
                done[b] = done[b] or (len(finished[b]) >= k and best_open <= worst_kept)
                if not done[b] and limits is not None and generated >= limits[b]:
                    _end_open(finished[b], prefixes[b * k : (b + 1) * k], scores[b], length_penalty)
                    done[b] = True
        for b in range(batch):  # beams still open at max_len end here, without EOS
            if not done[b]:
                _end_open(finished[b], prefixes[b * k : (b + 1) * k], scores[b], length_penalty)
    best = [max(f, key=lambda item: item[0])[1] for f in finished]
    return _pack(best, bos_id, model.pad_id)


def _end_open(
    finished: list[tuple[float, list[int]]],
    prefixes: np.ndarray,
    scores: np.ndarray,
    length_penalty: float,
) -> None:
    """End a source's open beams where they stand, without EOS, as hypotheses.
    Shapes: prefixes (K, t), scores (K,)."""
    for row, score in zip(prefixes, scores):
        if np.isfinite(score):
            tokens = row[1:].tolist()
            finished.append((score / len(tokens) ** length_penalty, tokens))


def _advance(
    prefixes: np.ndarray,
    total: np.ndarray,
    vocab: int,
    k: int,
    eos_id: int,
    length_penalty: float,
    finished: list[list[tuple[float, list[int]]]],
    done: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One beam step: end hypotheses on EOS, keep the K best open ones per source.

    Shapes: prefixes (B*K, t), total (B, K*V) cumulative log-probs -> new prefixes (B*K, t+1),
    scores (B, K), and parents (B*K,): the old row each new row extends (for the cache; a dead
    slot points at its source's first row).
    """
    batch = total.shape[0]
    order = np.argsort(-total, axis=1, kind="stable")[:, : 2 * k]  # (B, 2K): K open survive
    # Dead slots (no live hypothesis) hold token 0: valid input whose score stays -inf.
    new_prefixes = np.zeros((batch * k, prefixes.shape[1] + 1), dtype=np.int64)
    new_scores = np.full((batch, k), -np.inf)
    parents = np.repeat(np.arange(batch) * k, k)  # (B*K,)
    for b in range(batch):
        if done[b]:  # this source is done: all its slots stay dead
            continue
        kept = 0
        for rank, flat in enumerate(order[b]):
            beam, token = divmod(int(flat), vocab)
            score = total[b, flat]
            if not np.isfinite(score) or kept == k:
                break
            row = prefixes[b * k + beam]
            if token == eos_id:
                if rank < k:
                    tokens = row[1:].tolist() + [eos_id]
                    finished[b].append((score / len(tokens) ** length_penalty, tokens))
                    finished[b].sort(key=lambda item: -item[0])
                    del finished[b][k:]  # keep the K best ended hypotheses
                continue
            new_prefixes[b * k + kept] = np.append(row, token)
            new_scores[b, kept] = score
            parents[b * k + kept] = b * k + beam
            kept += 1
    return new_prefixes, new_scores, parents


def _pack(sequences: list[list[int]], bos_id: int, pad_id: int) -> np.ndarray:
    """BOS + tokens for each sequence, right-padded with pad_id.  -> (B, 1 + longest)."""
    width = 1 + max(len(s) for s in sequences)
    out = np.full((len(sequences), width), pad_id, dtype=np.int64)
    out[:, 0] = bos_id
    for i, tokens in enumerate(sequences):
        out[i, 1 : 1 + len(tokens)] = tokens
    return out
