"""Evaluation metrics in pure Python / numpy: exact match, token accuracy, BLEU, alignment."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


def exact_match(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[str]]) -> float:
    """Fraction of hypotheses equal to their reference token for token (0..1)."""
    _check_lengths("exact_match", hyps, refs)
    if not refs:
        return 0.0
    return sum(list(h) == list(r) for h, r in zip(hyps, refs)) / len(refs)


def token_accuracy(pred_ids: np.ndarray, gold_ids: np.ndarray, pad_id: int = 0) -> float:
    """Fraction of non-pad gold positions where the prediction matches (teacher forcing).

    Shapes: pred_ids (B, T), gold_ids (B, T) -> float in 0..1 (0.0 if there is no token).
    """
    pred, gold = np.asarray(pred_ids), np.asarray(gold_ids)
    if pred.shape != gold.shape:
        raise ValueError(f"token_accuracy: pred {pred.shape} != gold {gold.shape}")
    mask = gold != pad_id
    total = int(mask.sum())
    return float((pred == gold)[mask].sum()) / total if total else 0.0


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu_stats(
    hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[str]], max_order: int = 4
) -> tuple[list, list, int, int]:
    """Corpus sums: (clipped n-gram matches per order, hypothesis n-grams per order,
    hypothesis length, reference length)."""
    _check_lengths("corpus_bleu", hyps, refs)
    correct, totals = [0] * max_order, [0] * max_order
    hyp_len = ref_len = 0
    for hyp, ref in zip(hyps, refs):
        hyp_len += len(hyp)
        ref_len += len(ref)
        for n in range(1, max_order + 1):
            hyp_counts, ref_counts = _ngrams(hyp, n), _ngrams(ref, n)
            correct[n - 1] += sum(min(c, ref_counts[g]) for g, c in hyp_counts.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    return correct, totals, hyp_len, ref_len


def corpus_bleu(
    hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[str]], max_order: int = 4
) -> float:
    """Corpus BLEU-4 (Papineni et al. 2002) on token lists, one reference each, 0..100.

    Geometric mean of clipped n-gram precisions (n = 1..4) times the brevity penalty
    exp(1 - r / c) when the hypotheses are shorter (c < r).  No smoothing: any order with no
    match gives 0.  Equals sacrebleu's corpus_bleu(tokenize="none", smooth_method="none").
    """
    correct, totals, hyp_len, ref_len = bleu_stats(hyps, refs, max_order)
    if hyp_len == 0 or min(correct) == 0:
        return 0.0
    log_precision = sum(math.log(c / t) for c, t in zip(correct, totals)) / max_order
    brevity = 1.0 if hyp_len >= ref_len else math.exp(1.0 - ref_len / hyp_len)
    return 100.0 * brevity * math.exp(log_precision)


def alignment_accuracy(
    attn: Sequence[np.ndarray],
    aligns: Sequence[Sequence[Sequence[int]]],
    src_lens: Sequence[int] | None = None,
) -> float:
    """Fraction of aligned target tokens whose most-attended source position is a gold one.

    Shapes: attn[b] (T_tgt, S_src) cross-attention weights of example b (average the heads
    first; a padded (B, T, S) array works too: rows past the gold length are ignored, and with
    `src_lens` so are padded source columns).  aligns[b][j] = gold source indices of target
    token j; tokens with an empty gold list are skipped.  Row j must be the attention used to
    predict target token j.  Returns 0.0 if no token has a gold alignment.
    """
    if len(attn) != len(aligns):
        raise ValueError(f"alignment_accuracy: {len(attn)} attention maps, {len(aligns)} aligns")
    hits = total = 0
    for b, (weights, gold) in enumerate(zip(attn, aligns)):
        weights = np.asarray(weights)
        if weights.ndim != 2 or weights.shape[0] < len(gold):
            raise ValueError(
                f"alignment_accuracy: example {b} needs ({len(gold)}, S) weights, "
                f"got {weights.shape}"
            )
        if src_lens is not None:
            weights = weights[:, : src_lens[b]]
        for j, sources in enumerate(gold):
            if sources:
                total += 1
                hits += int(np.argmax(weights[j])) in sources
    return hits / total if total else 0.0


def _check_lengths(name: str, hyps: Sequence, refs: Sequence) -> None:
    if len(hyps) != len(refs):
        raise ValueError(f"{name}: {len(hyps)} hypotheses but {len(refs)} references")
