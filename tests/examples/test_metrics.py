"""Metrics against hand-computed cases, and BLEU against sacrebleu when it is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from toydata import SplitMix64, load_task
from toydata.metrics import (
    alignment_accuracy,
    bleu_stats,
    corpus_bleu,
    exact_match,
    token_accuracy,
)


def test_exact_match():
    hyps = [["a", "b"], ["c"], ["d", "e"]]
    refs = [["a", "b"], ["c", "x"], ["d", "e"]]
    assert exact_match(hyps, refs) == pytest.approx(2 / 3)
    assert exact_match([], []) == 0.0
    with pytest.raises(ValueError, match="exact_match"):
        exact_match(hyps, refs[:2])


def test_token_accuracy_ignores_padding():
    gold = np.array([[5, 6, 7, 0], [8, 9, 0, 0]])
    pred = np.array([[5, 1, 7, 4], [8, 9, 3, 3]])
    assert token_accuracy(pred, gold, pad_id=0) == pytest.approx(4 / 5)
    assert token_accuracy(np.zeros((1, 2)), np.zeros((1, 2)), pad_id=0) == 0.0
    with pytest.raises(ValueError, match="token_accuracy"):
        token_accuracy(pred[:, :3], gold, pad_id=0)


def test_bleu_hand_computed():
    assert corpus_bleu([list("abcde")], [list("abcde")]) == pytest.approx(100.0)
    # precisions 4/5, 3/4, 2/3, 1/2 -> (1/5) ** (1/4); no brevity penalty
    assert corpus_bleu([list("abcdx")], [list("abcdy")]) == pytest.approx(100 * 0.2**0.25)
    # all precisions 1, hypothesis 5 tokens vs reference 6: BP = exp(1 - 6/5)
    assert corpus_bleu([list("abcde")], [list("abcdef")]) == pytest.approx(100 * math.exp(-0.2))
    # clipping: "a" four times counts once; no bigram match -> 0 without smoothing
    correct, totals, _, _ = bleu_stats([list("aaaa")], [list("abcd")])
    assert correct == [1, 0, 0, 0] and totals == [4, 3, 2, 1]
    assert corpus_bleu([list("aaaa")], [list("abcd")]) == 0.0
    assert corpus_bleu([[]], [list("abcd")]) == 0.0


def test_bleu_is_a_corpus_statistic_not_a_mean():
    hyps = [list("abcdx"), list("abcde")]
    refs = [list("abcdy"), list("abcde")]
    # pooled precisions: 9/10, 7/8, 5/6, 3/4
    expected = 100 * (9 / 10 * 7 / 8 * 5 / 6 * 3 / 4) ** 0.25
    assert corpus_bleu(hyps, refs) == pytest.approx(expected)


def _perturbed_corpus(n: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """References from the valid split; hypotheses with tokens dropped, swapped or replaced."""
    refs = [p.tgt for p in load_task("translation")["valid"][:n]]
    rng = SplitMix64(seed)
    hyps = []
    for ref in refs:
        hyp = list(ref)
        for _ in range(rng.below(4)):
            k = rng.below(len(hyp))
            action = rng.below(3)
            if action == 0 and len(hyp) > 1:
                del hyp[k]
            elif action == 1:
                hyp[k] = rng.choice(["the", "a", "book", "tea", "xyz"])
            else:
                hyp.insert(k, "the")
        hyps.append(hyp)
    return hyps, refs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bleu_matches_sacrebleu(seed):
    sacrebleu = pytest.importorskip("sacrebleu")
    hyps, refs = _perturbed_corpus(300, seed)
    ours = corpus_bleu(hyps, refs)
    theirs = sacrebleu.corpus_bleu(
        [" ".join(h) for h in hyps],
        [[" ".join(r) for r in refs]],
        tokenize="none",
        smooth_method="none",
    ).score
    assert 0 < ours < 100
    assert ours == pytest.approx(theirs, abs=1e-6)


def test_alignment_accuracy_hand_computed():
    attn = [
        np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]]),
        np.array([[0.1, 0.9], [0.6, 0.4]]),
    ]
    aligns = [[[0], [1], []], [[1], [0, 1]]]
    # example 0: row 0 hit, row 1 miss (argmax 2), row 2 skipped; example 1: both hit
    assert alignment_accuracy(attn, aligns) == pytest.approx(3 / 4)
    assert alignment_accuracy(attn, [[[], [], []], [[], []]]) == 0.0


def test_alignment_accuracy_padded_batch_and_src_lens():
    attn = np.zeros((2, 4, 5))
    attn[0, 0, 4] = attn[0, 0, 1] = 1.0  # tie broken by argmax -> first max, column 1
    attn[0, 1, 4] = 1.0  # attends a padded column: only src_lens rescues it
    attn[0, 1, 0] = 0.5
    attn[1, 0, 2] = 1.0
    aligns = [[[1], [0]], [[2]]]
    assert alignment_accuracy(attn, aligns) == pytest.approx(2 / 3)
    assert alignment_accuracy(attn, aligns, src_lens=[3, 3]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="alignment_accuracy"):
        alignment_accuracy(attn[:1], aligns)
