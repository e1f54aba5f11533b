"""Autoregressive decoding: the decoder is fed BOS, then its own previous outputs.

Both decoders run under `no_grad` in eval mode (dropout off) and restore the model's mode.
Output format: an int64 array (B, <= max_len) starting with BOS; after a sequence's EOS every
position holds the model's pad_id; decoding stops early once every sequence has ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from tinygrad_attn import no_grad


@contextmanager
def _inference(model: Any) -> Iterator[None]:
    """Eval mode and no graph recording for the duration, then the previous mode again."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in numpy.  Shapes: (N, V) -> (N, V)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _check(bos_id: int, eos_id: int, max_len: int, model: Any) -> None:
    if max_len < 2:
        raise ValueError(f"decode: max_len must be at least 2 (BOS and one token), got {max_len}")
    if max_len > model.max_len:
        raise ValueError(f"decode: max_len {max_len} exceeds the model's max_len {model.max_len}")
    if bos_id == eos_id:
        raise ValueError(f"decode: bos_id and eos_id must differ, both are {bos_id}")


def greedy_decode(
    model: Any, src: np.ndarray, bos_id: int, eos_id: int, max_len: int
) -> np.ndarray:
    """Pick the most likely next token at each step.  Shapes: src (B, S) -> (B, <= max_len)."""
    _check(bos_id, eos_id, max_len, model)
    with _inference(model):
        memory = model.encode(src)  # (B, S, E)
        step = _next_logits_fn(model, memory, src)
        out = np.full((src.shape[0], 1), bos_id, dtype=np.int64)  # (B, 1)
        done = np.zeros(src.shape[0], dtype=bool)
        while out.shape[1] < max_len and not done.all():
            token = step(out).argmax(axis=-1)  # (B,)
            token = np.where(done, model.pad_id, token)
            out = np.concatenate([out, token[:, None]], axis=1)  # (B, t+1)
            done |= token == eos_id
    return out


def _next_logits_fn(model: Any, memory: Any, src: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A function prefix (N, t) -> logits of the next token (N, V)."""

    def step(prefix: np.ndarray) -> np.ndarray:
        return model.decode(prefix, memory, src).data[:, -1, :]

    return step


def beam_search(
    model: Any,
    src: np.ndarray,
    beam_size: int,
    bos_id: int,
    eos_id: int,
    max_len: int,
    length_penalty: float = 1.0,
) -> np.ndarray:
    """Keep the `beam_size` best prefixes per source; return the best finished hypothesis.

    A hypothesis ends when EOS is among the top `beam_size` candidates of its step. Ended ones
    are ranked by sum(log p) / length**length_penalty, length counting the generated tokens;
    a source is done when it holds `beam_size` of them and no open beam could outrank the worst
    (beams still open at max_len end there).
    With beam_size=1 this is exactly greedy decoding. Shapes: src (B, S) -> (B, <= max_len).
    """
    _check(bos_id, eos_id, max_len, model)
    if beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be >= 1, got {beam_size}")
    batch, k = src.shape[0], beam_size
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    with _inference(model):
        src_k = np.repeat(src, k, axis=0)  # (B*K, S)
        step = _next_logits_fn(model, model.encode(src_k), src_k)
        prefixes = np.full((batch * k, 1), bos_id, dtype=np.int64)  # (B*K, 1)
        scores = np.full((batch, k), -np.inf)
        scores[:, 0] = 0.0  # the K beams start identical: keep one live so none is duplicated
        done = np.zeros(batch, dtype=bool)
        while prefixes.shape[1] < max_len and not done.all():
            log_probs = _log_softmax(step(prefixes).astype(np.float64))  # (B*K, V)
            total = (scores.reshape(-1, 1) + log_probs).reshape(batch, -1)  # (B, K*V)
            prefixes, scores = _advance(
                prefixes, total, log_probs.shape[1], k, eos_id, length_penalty, finished, done
            )
            generated = prefixes.shape[1] - 1
            for b in range(batch):
                # Done once K hypotheses ended and the best open beam, scored at its current
                # length, ranks below the worst of them (the usual beam-search heuristic).
                best_open = scores[b].max() / generated**length_penalty
                worst_kept = min(score for score, _ in finished[b]) if finished[b] else np.inf
                done[b] = done[b] or (len(finished[b]) >= k and best_open <= worst_kept)
        for b in range(batch):  # beams still open at max_len end here, without EOS
            for j in range(k):
                if not done[b] and np.isfinite(scores[b, j]):
                    tokens = prefixes[b * k + j, 1:].tolist()
                    finished[b].append((scores[b, j] / len(tokens) ** length_penalty, tokens))
    best = [max(f, key=lambda item: item[0])[1] for f in finished]
    return _pack(best, bos_id, model.pad_id)


def _advance(
    prefixes: np.ndarray,
    total: np.ndarray,
    vocab: int,
    k: int,
    eos_id: int,
    length_penalty: float,
    finished: list[list[tuple[float, list[int]]]],
    done: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One beam step: end hypotheses on EOS, keep the K best open ones per source.

    Shapes: prefixes (B*K, t), total (B, K*V) cumulative log-probs -> (B*K, t+1), (B, K).
    """
    batch = total.shape[0]
    order = np.argsort(-total, axis=1, kind="stable")[:, : 2 * k]  # (B, 2K): K open survive
    # Dead slots (no live hypothesis) hold token 0: valid input whose score stays -inf.
    new_prefixes = np.zeros((batch * k, prefixes.shape[1] + 1), dtype=np.int64)
    new_scores = np.full((batch, k), -np.inf)
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
            kept += 1
    return new_prefixes, new_scores


def _pack(sequences: list[list[int]], bos_id: int, pad_id: int) -> np.ndarray:
    """BOS + tokens for each sequence, right-padded with pad_id.  -> (B, 1 + longest)."""
    width = 1 + max(len(s) for s in sequences)
    out = np.full((len(sequences), width), pad_id, dtype=np.int64)
    out[:, 0] = bos_id
    for i, tokens in enumerate(sequences):
        out[i, 1 : 1 + len(tokens)] = tokens
    return out
