"""Evaluate a trained translator: greedy decoding, the metrics of every test split, the
cross-attention alignment of each decoder layer and head, sample translations, and the
decoding walk of docs/self_attention.md (BOS -> "machine" -> "learning" -> EOS) with the
attention at each step.

Every metric is a percentage: exact match and BLEU on batched greedy decodes; token accuracy
and alignment accuracy with teacher forcing (the decoder reads the gold prefix), where row j of
a cross-attention map is the one used to predict target token j, so it can be compared with
the gold alignment of that token.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from _unk_copy import copy_unknowns
from toydata import (
    BOS,
    EOS,
    PAD,
    Pair,
    Vocab,
    alignment_accuracy,
    batches,
    corpus_bleu,
    detokenize_en,
    detokenize_zh,
    exact_match,
    pad_sequences,
)
from toydata.lexicon import NOUNS, PLACES
from toydata.splits import HELD_OUT_COMBOS, HELD_OUT_STRUCTS

from models import Transformer
from models.decoding import ban_repeats, safeguards


def detokenize(tokens: Sequence[str], lang: str) -> str:
    """Display form of a token list: English or Chinese spelling, else tokens joined by spaces."""
    if lang == "en":
        return detokenize_en(list(tokens))
    if lang == "zh":
        return detokenize_zh(list(tokens))
    return " ".join(tokens)


@contextmanager
def cross_attention_recorded(model: Transformer) -> Iterator[None]:
    """Make each decoder layer's cross-attention keep its per-head weights (B, H, T, S)."""
    layers = [layer.cross_attn for layer in model.decoder]
    for attn in layers:
        attn.store_attn_weights = True
    try:
        yield
    finally:
        for attn in layers:
            attn.store_attn_weights = False
            attn.last_attn_weights = None


def greedy_translate(
    model: Transformer, sources: Sequence[Sequence[int]], batch_size: int = 250
) -> list[list[int]]:
    """Greedy-decode id lists in batches of similar length, with the safeguards of
    models.decoding (length bound, no loops); returns target ids, EOS excluded."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out: list[list[int]] = [[] for _ in sources]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        src = pad_sequences([sources[i] for i in chunk])  # (B, S)
        guards = safeguards(src, PAD)  # a length bound per row, no n-gram 3 times in a row
        max_len = min(model.max_len, int(guards["limits"].max()) + 1)  # BOS + the longest
        ids = model.greedy_decode(src, BOS, EOS, max_len, **guards)  # (B, <= max_len)
        for row, i in zip(ids, chunk):
            tokens = row[1:].tolist()
            out[i] = tokens[: tokens.index(EOS)] if EOS in tokens else tokens
    return out


def evaluate_split(
    model: Transformer,
    pairs: Sequence[Pair],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    copy_head: str | None = None,
) -> dict:
    """All metrics of one split (percentages) plus the greedy hypotheses as token lists.

    Each <unk> the model writes is replaced by the unknown source word that head `copy_head`
    ("L2H1"; default: this split's best head) attends to (_unk_copy) before scoring.
    Returns {"exact_match", "token_accuracy", "bleu", "alignment_accuracy" (best head),
    "best_head" "L<layer>H<head>" (1-based), "alignment" [[per head] per layer], "hyps"}.
    """
    hyp_ids = greedy_translate(model, [src_vocab.encode(p.src) for p in pairs])
    refs = [p.tgt for p in pairs]
    token_acc, align = _teacher_forced(model, pairs, src_vocab, tgt_vocab)
    layer, head = np.unravel_index(int(np.argmax(align)), align.shape)
    head_name = copy_head or f"L{layer + 1}H{head + 1}"
    hyps = [tgt_vocab.decode(ids) for ids in hyp_ids]
    hyps = copy_unknowns(model, [p.src for p in pairs], hyps, src_vocab, tgt_vocab, head_name)
    return {
        "exact_match": 100.0 * exact_match(hyps, refs),
        "token_accuracy": 100.0 * token_acc,
        "bleu": corpus_bleu(hyps, refs),
        "alignment_accuracy": 100.0 * float(align[layer, head]),
        "best_head": f"L{layer + 1}H{head + 1}",
        "alignment": (100.0 * align).round(2).tolist(),
        "hyps": hyps,
    }


def _teacher_forced(
    model: Transformer, pairs: Sequence[Pair], src_vocab: Vocab, tgt_vocab: Vocab
) -> tuple[float, np.ndarray]:
    """Token accuracy and alignment accuracy of every (layer, head).  -> float, (L, H)."""
    correct = total = 0
    n_layers, n_heads = len(model.decoder), model.decoder[0].cross_attn.num_heads
    maps: list[list[list[np.ndarray]]] = [[[] for _ in range(n_heads)] for _ in range(n_layers)]
    with model.evaluating(), cross_attention_recorded(model):
        start = 0
        for src, tgt_in, tgt_out in batches(pairs, src_vocab, tgt_vocab, 250):
            pred = model(src, tgt_in).data.argmax(-1)  # (B, T)
            live = tgt_out != PAD
            correct += int((pred == tgt_out)[live].sum())
            total += int(live.sum())
            chunk = pairs[start : start + len(src)]
            start += len(src)
            for l_idx, layer in enumerate(model.decoder):
                weights = layer.cross_attn.last_attn_weights.data  # (B, H, T, S)
                for b, pair in enumerate(chunk):
                    for h in range(n_heads):
                        maps[l_idx][h].append(weights[b, h, : len(pair.tgt), : len(pair.src)])
    aligns = [p.align for p in pairs]
    align = np.array([[alignment_accuracy(m, aligns) for m in layer] for layer in maps])
    return (correct / total if total else 0.0), align


def report_text(results: dict[str, dict]) -> str:
    """The results table, the alignment of every layer and head per split, and (if counted)
    test_combo's exact matches per held-out word pair."""
    parts = [results_table(results)]
    parts += [alignment_table(split, r["alignment"]) for split, r in results.items()]
    for split, key, what in (
        ("test_combo", "by_combination", "combination"),
        ("test_struct", "by_structure", "construction pair"),
    ):
        counts = results.get(split, {}).get(key)
        if counts:
            text = ", ".join(f"{name} {hit}/{total}" for name, (hit, total) in counts.items())
            parts.append(f"{split} exact matches by held-out {what}:\n  {text}")
    return "\n".join(parts)


def results_table(results: dict[str, dict]) -> str:
    """One row per split: exact match, token accuracy, BLEU, best-head alignment."""
    lines = [f"{'split':<12} {'exact %':>8} {'token %':>8} {'BLEU':>7} {'align %':>8} best head"]
    for split, r in results.items():
        lines.append(
            f"{split:<12} {r['exact_match']:8.2f} {r['token_accuracy']:8.2f} {r['bleu']:7.2f} "
            f"{r['alignment_accuracy']:8.2f} {r['best_head']}"
        )
    return "\n".join(lines)


def alignment_table(split: str, alignment: list[list[float]]) -> str:
    """Alignment accuracy (%) of each decoder layer (rows) and head (columns)."""
    n_heads = len(alignment[0])
    head_cols = "".join(f"{'H' + str(h + 1):>7}" for h in range(n_heads))
    lines = [f"alignment accuracy % on {split}, decoder layer x cross-attention head:"]
    lines.append(f"{'':4}{head_cols}")
    for layer, row in enumerate(alignment):
        lines.append(f"{'L' + str(layer + 1):<4}" + "".join(f"{v:7.1f}" for v in row))
    return "\n".join(lines)


def by_combination(pairs: Sequence[Pair], hyps: Sequence[Sequence[str]]) -> dict[str, list[int]]:
    """test_combo exact matches per held-out word pair: {"看+电影": [right, total], ...}.

    A sentence counts for a pair when the tokens of both words are among its source tokens
    (学习 + 机器学习 needs 学习 twice: the verb, and the noun 机器 学习).
    """
    counts: dict[str, list[int]] = {}
    for _, first, second in HELD_OUT_COMBOS:
        need = Counter(_tokens(first) + _tokens(second))
        hits = [list(h) == p.tgt for p, h in zip(pairs, hyps) if not need - Counter(p.src)]
        counts[f"{first}+{second}"] = [sum(hits), len(hits)]
    return counts


def _tokens(word: str) -> list[str]:
    return list(NOUNS[word].tokens) if word in NOUNS else [word]


# The source tokens that show each held-out construction pair of test_struct.
_STRUCT_MARKERS = {
    ("question", "place"): ({"吗"}, set(PLACES)),
    ("neg", "bene"): ({"没", "不"}, {"给"}),
    ("comparative", "question"): ({"比"}, {"吗"}),
}


def by_structure(pairs: Sequence[Pair], hyps: Sequence[Sequence[str]]) -> dict[str, list[int]]:
    """test_struct exact matches per held-out construction pair: {"question+place": [right,
    total], ...}.  A sentence counts for a pair when it holds a marker token of each part
    (吗 and a place; 没/不 and 给; 比 and 吗)."""
    counts: dict[str, list[int]] = {}
    for struct in HELD_OUT_STRUCTS:
        first, second = _STRUCT_MARKERS[struct]
        hits = [
            list(h) == p.tgt
            for p, h in zip(pairs, hyps)
            if first & set(p.src) and second & set(p.src)
        ]
        counts["+".join(struct)] = [sum(hits), len(hits)]
    return counts


def samples_text(pairs: Sequence[Pair], hyps: Sequence[Sequence[str]], n: int, langs: tuple) -> str:
    """The first n examples: source, the model's output and the reference (marked if wrong)."""
    src_lang, tgt_lang = langs
    lines = []
    for pair, hyp in list(zip(pairs, hyps))[:n]:
        mark = "ok" if list(hyp) == pair.tgt else "WRONG"
        lines.append(f"  src  {detokenize(pair.src, src_lang)}")
        lines.append(f"  out  {detokenize(hyp, tgt_lang)}   [{mark}]")
        if mark != "ok":
            lines.append(f"  ref  {detokenize(pair.tgt, tgt_lang)}")
    return "\n".join(lines)


def decoding_walk(
    model: Transformer, src_tokens: Sequence[str], src_vocab: Vocab, tgt_vocab: Vocab, layer: int
) -> str:
    """Greedy decoding one step at a time (docs/self_attention.md): feed BOS, then each output.

    Each step shows the token fed in, the token predicted (with its probability) and the
    cross-attention of decoder layer `layer` (0-based) over the source: the mean of the heads,
    then one row per head (each head is free to look somewhere else). Like greedy_translate,
    it stops at the source's length bound and never writes an n-gram a third time in a row.
    """
    src = np.array([src_vocab.encode(src_tokens)], dtype=np.int64)  # (1, S)
    guards = safeguards(src, PAD)  # the same length bound and loop guard as greedy_translate
    prefix = [BOS]
    rows = []
    with model.evaluating(), cross_attention_recorded(model):
        memory = model.encode(src)  # (1, S, E)
        while len(prefix) < min(model.max_len, 1 + int(guards["limits"][0])):
            logits = model.decode(np.array([prefix]), memory, src)[0, -1]  # (V,)
            probs = logits.softmax(-1).data
            written = np.array([prefix[1:]], dtype=np.int64)  # (1, t)
            allowed = ban_repeats(probs[None], written, guards["no_repeat"])  # (1, V)
            token = int(allowed[0].argmax())
            weights = model.decoder[layer].cross_attn.last_attn_weights.data  # (1, H, T, S)
            rows.append((prefix[-1], token, float(probs[token]), weights[0, :, -1]))  # (H, S)
            prefix.append(token)
            if token == EOS:
                break
    return _walk_table(rows, src_tokens, tgt_vocab, layer)


def _walk_table(rows: list, src_tokens: Sequence[str], tgt_vocab: Vocab, layer: int) -> str:
    width = max(6, *(_display_width(t) + 2 for t in src_tokens))
    header = f"{'step':<5}{'fed in':<12}{'-> output':<14}{'p':>5}   " + "".join(
        _pad(t, width) for t in src_tokens
    )
    lines = [
        f"cross-attention of decoder layer {layer + 1} at each step (mean, then each head):",
        header,
    ]
    for step, (fed, out, prob, heads) in enumerate(rows, start=1):
        fed_tok, out_tok = tgt_vocab.itos[fed], tgt_vocab.itos[out]
        cells = "".join(_pad(f"{a:.2f}", width) for a in heads.mean(0))
        lines.append(f"{step:<5}{fed_tok:<12}{'-> ' + out_tok:<14}{prob:5.2f}   {cells}")
        for h, attn in enumerate(heads, start=1):
            cells = "".join(_pad(f"{a:.2f}", width) for a in attn)
            lines.append(f"{'':<5}{'':<12}{'  head ' + str(h):<14}{'':>5}   {cells}")
    return "\n".join(lines)


def _display_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    """Right-align `text` in `width` terminal columns."""
    return " " * max(0, width - _display_width(text)) + text
