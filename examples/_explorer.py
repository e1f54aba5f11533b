"""The explorer pages of a translator: what translate.py --html and train_translation.py write.

    translation = explore(model, src_tokens, output_tokens, src_vocab, tgt_vocab)
    viz.attention_html(translation, path="explorer.html")
    write_run_pages(out_dir, model, pairs, hyps, src_vocab, tgt_vocab, flow)   # the training run

Every attention map is recorded in one teacher-forced forward pass over the translation the
model wrote (<s> + output): row j of each decoder map is the one used to write output token j,
the same numbers greedy decoding saw at step j (the decoder is causal), so the page's decoding
walk and its maps agree with `_translation_eval.decoding_walk`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from toydata import BOS, EOS, PAD, Pair, Vocab, batches

import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from models import Transformer
from tinygrad_attn import GradientFlow, detect_anomaly, explain_backward, no_grad
from tinygrad_attn.viz_html import Translation, attention_html, backprop_html

EXPLORER_FILE = "explorer.html"
BACKPROP_FILE = "backprop.html"
TOP_K = 3  # most likely tokens listed at each step of the walk


def _attention_modules(model: Transformer) -> dict[str, list]:
    return {
        "enc_self": [layer.self_attn for layer in model.encoder],
        "dec_self": [layer.self_attn for layer in model.decoder],
        "cross": [layer.cross_attn for layer in model.decoder],
    }


@contextmanager
def attention_recorded(model: Transformer) -> Iterator[dict[str, list]]:
    """Make every attention module keep its per-head weights (B, H, queries, keys)."""
    modules = _attention_modules(model)
    for attn in (a for group in modules.values() for a in group):
        attn.store_attn_weights = True
    try:
        yield modules
    finally:
        for attn in (a for group in modules.values() for a in group):
            attn.store_attn_weights = False
            attn.last_attn_weights = None


def explore(
    model: Transformer,
    src_tokens: Sequence[str],
    output: Sequence[str],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    copied: dict[int, int] | None = None,
    reference: Sequence[str] | None = None,
    name: str = "",
    written: Sequence[str] | None = None,
) -> Translation:
    """The explorer's data for one translation: `output` as shown (EOS excluded; copied: output
    position -> source position of each copied word), `written` what the model wrote (with its
    <unk>s; default `output`).  Shapes: cross (L, H, T, S), T = len(output) + 1 (the EOS step)."""
    written = list(output if written is None else written)
    src = np.array([src_vocab.encode(src_tokens)], dtype=np.int64)  # (1, S)
    out_ids = tgt_vocab.encode(written) + [EOS]
    tgt_in = np.array([[BOS] + out_ids[:-1]], dtype=np.int64)  # (1, T)
    with model.evaluating(), no_grad(), attention_recorded(model) as modules:
        probs = model(src, tgt_in).softmax(-1).data[0]  # (T, V)
        maps = {
            kind: np.stack([a.last_attn_weights.data[0] for a in group])  # (L, H, Q, K)
            for kind, group in modules.items()
        }
    chosen = probs[np.arange(len(out_ids)), out_ids]  # (T,)
    top = np.argsort(-probs, axis=-1)[:, :TOP_K]  # (T, TOP_K)
    alternatives = [[(tgt_vocab.itos[k], float(p[k])) for k in ids] for p, ids in zip(probs, top)]
    return Translation(
        src_tokens=list(src_tokens),
        tgt_tokens=[*output, "</s>"],
        cross=maps["cross"],
        enc_self=maps["enc_self"],
        dec_self=maps["dec_self"],
        fed_tokens=["<s>", *written],
        enc_tokens=list(src_tokens) if model.src_bos is None else ["<s>", *src_tokens],
        probs=chosen.tolist(),
        alternatives=alternatives,
        copied=dict(copied or {}),
        reference=None if reference is None else [*reference, "</s>"],
        name=name,
    )


def backward_tape(model: Transformer, pair: Pair, src_vocab: Vocab, tgt_vocab: Vocab) -> list:
    """The backward tape of one training step on one sentence pair (explain_backward's records;
    the text table it prints is discarded). The model's gradients are zeroed afterwards."""
    src, tgt_in, tgt_out = next(batches([pair], src_vocab, tgt_vocab, 1))
    was_training = model.training
    model.eval()  # no dropout: the tape shows the plain graph
    try:
        with detect_anomaly():  # each op remembers the line that created it: the tape shows it
            logits = model(src, tgt_in)  # (1, T, V)
            loss = F.cross_entropy(logits, tgt_out, ignore_index=PAD)
        tape = explain_backward(loss, file=io.StringIO())
    finally:
        model.train(was_training)
    model.zero_grad()
    return tape


def write_run_pages(
    out: Path,
    model: Transformer,
    pairs: Sequence[Pair],
    hyps: Sequence[Sequence[str]],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    flow: GradientFlow | None,
) -> None:
    """explorer.html (the sample translations, with their references) and backprop.html (the
    gradient norm per layer over training, and the tape of one step) in the run directory."""
    samples = [
        explore(model, p.src, h, src_vocab, tgt_vocab, reference=p.tgt, name=" ".join(p.src))
        for p, h in zip(pairs, hyps)
    ]
    if samples:
        attention_html(samples, out / EXPLORER_FILE, title=f"attention explorer: {out.name}")
    tape = backward_tape(model, pairs[0], src_vocab, tgt_vocab) if pairs else []
    norms = flow if flow is not None and flow.steps else None
    backprop_html(tape, norms, out / BACKPROP_FILE, title=f"backprop: {out.name}")
    written = [out / name for name in (EXPLORER_FILE, BACKPROP_FILE) if (out / name).exists()]
    print(f"\nopen in a browser: {', '.join(str(p) for p in written)}")
