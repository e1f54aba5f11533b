"""Deterministic toy bilingual data (Chinese <-> English) and evaluation metrics.

The examples put `examples/` on sys.path and write `from toydata import ...`.

Data
    load_task(task="translation", direction="zh-en", data_dir=None) -> dict[str, list[Pair]]
        task: "translation" (shipped TSVs in examples/data/zh_en: train, valid, test_iid,
        test_combo, test_struct, test_long, test_unk, test_everyday and the extra training
        files train_compound, train_neg_comparative, train_everyday), "reversal" (train, valid,
        test_iid, test_long) or "dates" (train, valid, test_iid), the last two generated on the fly.
        direction "en-zh" swaps source and target and inverts the alignments.
    Pair(src: list[str], tgt: list[str], align: list[list[int]])
        align[j] = source indices that target token j translates ([] for "the", "of", ...).
    segment(text, vocab_words) -> list[str]: greedy longest-match split of typed Chinese;
        Latin words, digit runs and runs of unknown characters come back whole (熊猫, iPhone,
        12): map them to <unk> and name them in a warning.
    load_question_statements(data_dir=None) -> list[QuestionStatement]: each of train's
        one-clause questions with the same clause as a statement (toydata.questions), for the
        consistency objective; matched_positions(question_tgt, statement_tgt) the word pairs.
    load_place_statements(data_dir=None) -> list[PlaceStatement]: each of train's one-clause
        statements with a place, beside the same clause without it (the same objective).
    toydata.everyday: the everyday sentences (greetings, 爱, 是, 叫, the weather, 非常, 也;
        words in everyday_words.py) and unpunctuated(pair, rate, rng) (a training source
        without its final 。/？, the target unchanged).
    toydata.unknown: mask_unknowns(pair, rate, rng) (<unk> on both sides, for training) and
        the test_unk construction (words the training data never contains).
    detokenize_en(tokens) -> str, detokenize_zh(tokens) -> str: for display.

Batching
    Vocab.build(token_lists) -> Vocab with PAD=0 "<pad>", BOS=1 "<s>", EOS=2 "</s>", UNK=3
        "<unk>"; encode(tokens) -> list[int], decode(ids) -> list[str] (stops at EOS, drops
        PAD/BOS), to_json() -> str, Vocab.from_json(text), len(vocab).
    batches(pairs, src_vocab, tgt_vocab, batch_size, shuffle_seed=None, rng=None,
        drop_last=False) -> iterator of (src (B, S), tgt_in (B, T), tgt_out (B, T)) int64
        arrays padded with PAD; tgt_in = [BOS] + tgt, tgt_out = tgt + [EOS].
    pad_sequences(seqs, pad_id=PAD, length=None) -> (B, L) int64 array.
    SplitMix64(seed): the project's PRNG (pure Python ints, same stream everywhere).

Metrics (toydata.metrics)
    exact_match(hyps, refs), token_accuracy(pred_ids, gold_ids, pad_id),
    corpus_bleu(hyps, refs) (BLEU-4, 0..100, = sacrebleu tokenize="none", smooth_method="none"),
    alignment_accuracy(attn, aligns, src_lens=None).

Regenerate the shipped files with `python examples/toydata/generate.py`; the grammar lives in
lexicon.py / verbs.py (words), grammar.py (structures), render.py (Chinese and English word
order, morphology, alignments) and splits.py (held-out combinations and lengths).
"""

from __future__ import annotations

from .data import Pair, load_place_statements, load_question_statements, load_task, read_tsv
from .metrics import alignment_accuracy, corpus_bleu, exact_match, token_accuracy
from .prng import SplitMix64
from .questions import PlaceStatement, QuestionStatement, matched_positions
from .text import detokenize_en, detokenize_zh, segment
from .vocab import BOS, EOS, PAD, UNK, Vocab, batches, pad_sequences

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "UNK",
    "Pair",
    "PlaceStatement",
    "QuestionStatement",
    "SplitMix64",
    "Vocab",
    "alignment_accuracy",
    "batches",
    "corpus_bleu",
    "detokenize_en",
    "detokenize_zh",
    "exact_match",
    "load_place_statements",
    "load_question_statements",
    "load_task",
    "matched_positions",
    "pad_sequences",
    "read_tsv",
    "segment",
    "token_accuracy",
]
