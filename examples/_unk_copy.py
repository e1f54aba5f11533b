"""Copy unknown words through a translation: <unk> replacement (Luong et al. 2015).

Trained with some names, cities, numbers and nouns replaced by <unk> on both sides
(`Config.unk_rate`), the model writes <unk> where the source holds a word it does not know.
Each <unk> it writes is replaced by the unknown source word that the alignment head (the
decoder layer and cross-attention head that best follows the gold alignments on test_iid,
metrics.json's "copy_head") attends to most while writing it. Copied digits then take the
English plural rule: "1 books" -> "1 book".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from toydata import BOS, UNK, Vocab, pad_sequences
from toydata.lexicon import NOUNS

from models import Transformer
from tinygrad_attn import no_grad

UNK_TOKEN = "<unk>"
_HEAD = re.compile(r"L(\d+)H(\d+)")
# English plural -> singular of the nouns and containers the model writes ("cups" -> "cup").
SINGULAR = {n.pl[-1]: n.sg[-1] for n in NOUNS.values() if n.pl != n.sg}
SINGULAR |= {n.container[1]: n.container[0] for n in NOUNS.values() if n.container}
_NOUN_PHRASE_SPAN = 4  # the noun follows its number within this many words ("1 big red cup")


class Copy(NamedTuple):
    """One copied word: output position, source position, attention weight there."""

    target: int
    source: int
    weight: float


def parse_head(name: str | None, n_layers: int, n_heads: int) -> tuple[int, int | None]:
    """ "L2H3" -> (1, 2), 0-based; None or a head the model lacks -> (last layer, None = mean)."""
    match = _HEAD.fullmatch(name or "")
    if match:
        layer, head = int(match.group(1)) - 1, int(match.group(2)) - 1
        if layer < n_layers and head < n_heads:
            return layer, head
    return n_layers - 1, None


def head_attention(
    model: Transformer, src: np.ndarray, tgt_in: np.ndarray, layer: int, head: int | None
) -> np.ndarray:
    """Cross-attention of one decoder head (None: mean of the layer's heads), teacher forced.

    Row j is the attention while predicting target token j.  Shapes: (B, S), (B, T) -> (B, T, S).
    """
    attn = model.decoder[layer].cross_attn
    was_training = model.training
    model.eval()
    attn.store_attn_weights = True
    try:
        with no_grad():
            model(src, tgt_in)
        weights = attn.last_attn_weights.data  # (B, H, T, S)
    finally:
        attn.store_attn_weights = False
        attn.last_attn_weights = None
        model.train(was_training)
    return weights.mean(1) if head is None else weights[:, head]


def replace_unks(
    output: Sequence[str], weights: np.ndarray, src_tokens: Sequence[str], unknown: Sequence[bool]
) -> tuple[list[str], list[Copy]]:
    """Each <unk> of `output` -> the unknown source word with the most attention in its row
    (any source word when none is unknown); then the plural rule for copied digits.

    Shapes: weights (>= len(output), >= len(src_tokens)).
    """
    tokens, copies = list(output), []
    candidates = [i for i, u in enumerate(unknown) if u] or list(range(len(src_tokens)))
    for j, token in enumerate(output):
        if token != UNK_TOKEN:
            continue
        i = max(candidates, key=lambda c: weights[j, c])
        tokens[j] = src_tokens[i]
        copies.append(Copy(j, i, float(weights[j, i])))
    return english_number_agreement(tokens, [c.target for c in copies]), copies


def english_number_agreement(tokens: list[str], copied: Sequence[int]) -> list[str]:
    """After a copied number 1, the first plural noun of its phrase becomes singular (the model
    learned "<unk> books" from 两..十, so "1" arrives with a plural)."""
    out = list(tokens)
    for j in copied:
        if not out[j].isdigit() or int(out[j]) != 1:
            continue
        for k in range(j + 1, min(j + 1 + _NOUN_PHRASE_SPAN, len(out))):
            if out[k] in SINGULAR:
                out[k] = SINGULAR[out[k]]
                break
    return out


def copy_unknowns(
    model: Transformer,
    sources: Sequence[Sequence[str]],
    hyps: Sequence[Sequence[str]],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    head_name: str | None,
    batch_size: int = 250,
) -> list[list[str]]:
    """`hyps` with every <unk> replaced (see `replace_unks`), read from head `head_name`."""
    out = [list(h) for h in hyps]
    layer, head = parse_head(head_name, len(model.decoder), model.decoder[0].cross_attn.num_heads)
    todo = [k for k, h in enumerate(hyps) if UNK_TOKEN in h]
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        src_ids = [src_vocab.encode(sources[k]) for k in chunk]
        tgt_in = pad_sequences([[BOS] + tgt_vocab.encode(hyps[k]) for k in chunk])  # (B, T)
        weights = head_attention(model, pad_sequences(src_ids), tgt_in, layer, head)  # (B, T, S)
        for row, k in enumerate(chunk):
            unknown = [i == UNK for i in src_ids[row]]
            out[k], _ = replace_unks(hyps[k], weights[row], sources[k], unknown)
    return out
