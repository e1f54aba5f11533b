"""Translate with a model trained by train_translation.py: greedy or beam search, attention plots.

    python examples/translate.py "我昨天在图书馆看了三本书。"
    # -> I read three books in the library yesterday.
    python examples/translate.py --beam 4 "他们喜欢机器学习吗？"
    python examples/translate.py --plot-attention attn.png "我学习机器学习。"
    python examples/translate.py --walk "机器学习"   # BOS -> machine -> learning -> EOS
    python examples/translate.py --html explorer.html "我昨天在图书馆看了三本书。"  # a web page
    python examples/translate.py                      # interactive: one sentence a line until EOF

Chinese is typed as usual, without spaces: it is split into the vocabulary's words by longest
match; Latin words, numbers and runs of unknown characters stay whole words. Unknown words are
read as <unk>, and each <unk> the model writes is replaced by the unknown word its alignment
head attends to (copied through: "我用了他的iPhone。" -> "I used his iPhone."); stderr names the
unknown and the copied words. When more than half the words are unknown the sentence is outside
what the model learned: stderr says so and the output line starts with
"[outside what the model learned; a guess]". The final 。 or ？ may be left out: the model was
trained on sources without it ("我每天看书" -> "I read books every day."), and a sentence it
reads as one is translated again with its mark (`final_mark`). Decoding stops within
2 * (source tokens) + 5 tokens and never writes an n-gram three times in a row
(models.decoding.safeguards), so no input makes it loop. `--strict`
refuses input with unknown words instead (exit 2). `--ckpt DIR` picks the run directory (default
runs/zh_en in this repository, where train_translation.py writes). Exit code 2 with a one-line
message on stderr for empty or too long input, input that is not valid UTF-8, a bad flag value
(--beam outside 1..64, --layer below 1 or without --plot-attention, --walk with a beam,
--plot-attention or --html into a missing directory), and a missing, corrupt, diverged (NaN)
or mismatched checkpoint, config (a field that differs from the configuration saved with the
weights) or metrics.json.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path

import _translation_eval as ev
import _translation_io as rio
import numpy as np
from _config import Config, load_config
from _explorer import explore
from _unk_copy import Copy, head_attention, parse_head, replace_unks
from toydata import BOS, EOS, PAD, UNK, Vocab, segment
from train_translation import build_model, languages

from models import Transformer
from models.decoding import safeguards
from tinygrad_attn.viz import attention_html, plot_attention

REPO = Path(__file__).resolve().parent.parent  # the default run directory is found from here
MAX_BEAM = 64  # --beam's upper bound: each step scores beam x vocabulary candidates


OUTSIDE = "[outside what the model learned; a guess]"  # before a mostly-unknown output


class InputError(Exception):
    """The sentence cannot be translated (empty, or longer than the model accepts)."""


class Translator:
    """A trained model with its vocabularies and config, loaded from a run directory."""

    def __init__(self, ckpt: Path) -> None:
        self.cfg = load_config(ckpt / rio.CONFIG_FILE)
        self.src_vocab, self.tgt_vocab = rio.read_vocabs(ckpt)
        rio.check_task(ckpt, self.cfg.task, self.cfg.direction, self.src_vocab, self.tgt_vocab)
        self.model: Transformer = build_model(self.cfg, len(self.src_vocab), len(self.tgt_vocab))
        digest = rio.vocab_digest(self.src_vocab, self.tgt_vocab)
        rio.load_weights(self.model, ckpt / rio.MODEL_FILE, digest, asdict(self.cfg))
        self.model.eval()
        self.langs = languages(self.cfg)
        self.copy_head = _copy_head(ckpt, self.model)

    def tokenize(self, text: str) -> list[str]:
        """Split typed text into source tokens: Chinese words, English words, or letters."""
        if self.langs[0] == "zh":
            return segment(text, self.src_vocab.itos[4:])
        if self.cfg.task == "reversal":
            return [ch for ch in text if not ch.isspace()]
        return re.findall(r"'s|[\w]+|[^\w\s]", text.lower())

    def encode(self, text: str, strict: bool = False) -> tuple[list[str], np.ndarray]:
        """(tokens, ids (1, S)); names unknown words (refused if `strict`), rejects empty or too
        long input."""
        tokens = self.tokenize(text)
        if not tokens:
            raise InputError("empty input: type a sentence to translate")
        if len(tokens) > self.model.max_len:
            raise InputError(
                f"input has {len(tokens)} tokens; this model accepts at most {self.model.max_len}"
            )
        ids = self.src_vocab.encode(tokens)
        _check_unknown(tokens, ids, strict)
        return tokens, np.array([ids], dtype=np.int64)

    def translate(self, src: np.ndarray, beam: int) -> list[str]:
        """Greedy (beam 1) or beam-search translation, at most 2 * S + 5 tokens and no n-gram
        three times in a row (models.decoding.safeguards).  A source typed without its final
        。/？ that the model reads as a sentence (its output ends with "." or "?") is translated
        again with the mark, as it would have been typed (`final_mark`); a bare noun phrase
        (机器学习 -> "machine learning") stays as it is.  Shapes: src (1, S) -> tokens."""
        output = self._decode(src, beam)
        mark = final_mark(self.src_vocab, src[0].tolist(), output)
        if mark is None or src.shape[1] >= self.model.max_len:
            return output
        return self._decode(np.concatenate([src, [[mark]]], axis=1), beam)

    def _decode(self, src: np.ndarray, beam: int) -> list[str]:
        guards = safeguards(src, PAD)
        max_len = min(self.model.max_len, int(guards["limits"][0]) + 1)  # BOS + the bound
        if beam > 1:
            out = self.model.beam_search(src, beam, BOS, EOS, max_len, **guards)
        else:
            out = self.model.greedy_decode(src, BOS, EOS, max_len, **guards)
        return self.tgt_vocab.decode(out[0])

    def copy_unknowns(self, src: np.ndarray, tokens: list[str], output: list[str]):
        """(output with each <unk> replaced by a source word, the copies) via the copy head."""
        if "<unk>" not in output:
            return output, []
        tgt_in = np.array([[BOS] + self.tgt_vocab.encode(output)], dtype=np.int64)  # (1, T)
        weights = head_attention(self.model, src, tgt_in, *self.copy_head)[0]  # (T, S)
        return replace_unks(output, weights, tokens, [i == UNK for i in src[0]])

    def cross_attention(self, src: np.ndarray, output: list[str], layer: int) -> np.ndarray:
        """Attention of decoder `layer` (mean of heads) while producing output + EOS.

        Shapes: src (1, S) -> (len(output) + 1, S).
        """
        tgt_in = np.array([[BOS] + self.tgt_vocab.encode(output)], dtype=np.int64)  # (1, T)
        with self.model.evaluating(), ev.cross_attention_recorded(self.model):
            self.model(src, tgt_in)
            weights = self.model.decoder[layer].cross_attn.last_attn_weights.data  # (1, H, T, S)
        return weights[0].mean(0)


def final_mark(src_vocab: Vocab, src: list[int], output: list[str]) -> int | None:
    """The id of the 。 or ？ that `src` lacks when `output` ends a sentence with "." or "?"
    (and the vocabulary has it), else None: "我每天看书" -> the id of 。."""
    marks = {".": src_vocab.stoi.get("。"), "?": src_vocab.stoi.get("？")}
    if not src or src[-1] in marks.values() or not output or output[-1] not in marks:
        return None
    return marks[output[-1]]


def _check_unknown(tokens: list[str], ids: list[int], strict: bool) -> None:
    """Name the unknown words on stderr (an InputError if `strict`); warn if they are most."""
    unknown = list(dict.fromkeys(t for t, i in zip(tokens, ids) if i == UNK))
    if not unknown:
        return
    if strict:
        raise InputError(f"unknown to the model: {', '.join(unknown)} (--strict)")
    print(f"warning: unknown to the model: {', '.join(unknown)}", file=sys.stderr)
    n_unknown, n_words = unknown_share(tokens, ids)
    if 2 * n_unknown > n_words:
        print(
            f"warning: {n_unknown} of {n_words} words are unknown: "
            "the sentence is outside what the model learned",
            file=sys.stderr,
        )


def unknown_share(tokens: list[str], ids: list[int]) -> tuple[int, int]:
    """(unknown words, words): punctuation is no word."""
    words = [(t, i) for t, i in zip(tokens, ids) if t[:1].isalnum()]
    return sum(1 for _, i in words if i == UNK), len(words)


def _copy_head(ckpt: Path, model: Transformer) -> tuple[int, int | None]:
    """The (layer, head) that copies unknown words: metrics.json's copy_head, else the best
    head on test_iid, else the mean of the last layer's heads (no metrics.json yet). A
    metrics.json that is no JSON object, or names no head of this model, is a RunFileError."""
    path = ckpt / rio.METRICS_FILE
    layers, heads = len(model.decoder), model.decoder[0].cross_attn.num_heads
    if not path.exists():
        return parse_head(None, layers, heads)
    metrics = rio.read_json(path)
    if not isinstance(metrics, dict):
        raise rio.RunFileError(f"{path}: not a metrics file (a {type(metrics).__name__})")
    name = metrics.get("copy_head")
    if name is None and isinstance(metrics.get("test_iid"), dict):
        name = metrics["test_iid"].get("best_head")
    if name is None:
        return parse_head(None, layers, heads)
    head = parse_head(name, layers, heads) if isinstance(name, str) else (layers - 1, None)
    if head[1] is None:
        raise rio.RunFileError(
            f"{path}: copy_head must name a head of the model, 'L1H1' to 'L{layers}H{heads}', "
            f"got {name!r}"
        )
    return head


def _copy_report(copies: list[Copy], tokens: list[str], tgt_vocab: Vocab, head: tuple) -> str:
    """The copy step of the decoding walk: which source word each <unk> became, and why."""
    layer, h = head
    name = f"decoder layer {layer + 1} " + (f"head {h + 1}" if h is not None else "(mean)")
    lines = [f"copy: each <unk> written becomes the unknown word that {name} attends to most"]
    for c in copies:
        word = tokens[c.source]
        lines.append(f"step {c.target + 1}: <unk> -> {word}   (attention {c.weight:.2f})")
    return "\n".join(lines)


def _copy_labels(output: list[str], copies: list[Copy]) -> list[str]:
    """The attention plot's target labels, copied words marked: "iPhone (copied)"."""
    labels = list(output)
    for c in copies:
        labels[c.target] = f"{output[c.target]} (copied)"
    return labels


def run_one(tr: Translator, text: str, args: argparse.Namespace) -> None:
    tokens, src = tr.encode(text, args.strict)
    written = tr.translate(src, args.beam)
    output, copies = tr.copy_unknowns(src, tokens, written)
    if args.walk:
        layer = len(tr.model.decoder) - 1
        print(ev.decoding_walk(tr.model, tokens, tr.src_vocab, tr.tgt_vocab, layer))
        if copies:
            print(_copy_report(copies, tokens, tr.tgt_vocab, tr.copy_head))
    n_unknown, n_words = unknown_share(tokens, src[0].tolist())
    shown = ev.detokenize(output, tr.langs[1])
    print(f"{OUTSIDE} {shown}" if 2 * n_unknown > n_words else shown)  # not as if it knew
    if copies:
        copied = dict.fromkeys(tokens[c.source] for c in copies)
        print(f"copied: {', '.join(copied)}", file=sys.stderr)
    if args.plot_attention:
        layer = len(tr.model.decoder) - 1 if args.layer is None else args.layer - 1
        weights = tr.cross_attention(src, output, layer)
        title = f"cross-attention, decoder layer {layer + 1} (mean of heads)"
        labels = _copy_labels(output, copies) + ["</s>"]
        try:
            plot_attention(weights, tokens, labels, args.plot_attention, title)
        except (OSError, ValueError) as err:  # unwritable path, unknown image format
            raise InputError(f"--plot-attention {args.plot_attention}: {err}") from None
        print(f"attention plot written to {args.plot_attention}", file=sys.stderr)
    if args.html:
        write_html(tr, tokens, output, written, copies, text, args.html)


def write_html(tr: Translator, tokens, output, written, copies, text: str, path: str) -> None:
    """The attention explorer of this translation (every layer, head and attention) at `path`."""
    copied = {c.target: c.source for c in copies}
    page = explore(tr.model, tokens, output, tr.src_vocab, tr.tgt_vocab, copied, written=written)
    page.name = text
    try:
        attention_html(page, path, title=f"attention explorer: {text}")
    except OSError as err:  # unwritable path, a directory
        raise InputError(f"--html {path}: {err}") from None
    print(f"attention explorer written to {path}", file=sys.stderr)


def interactive(tr: Translator, args: argparse.Namespace) -> None:
    """Translate stdin line by line until EOF; a bad line (one that is not valid text in
    stdin's encoding, too) is reported and skipped."""
    prompt = "> " if sys.stdin.isatty() else ""
    if hasattr(sys.stdin, "reconfigure"):  # undecodable bytes -> surrogates, caught below
        sys.stdin.reconfigure(errors="surrogateescape")
    number = 0
    while True:
        try:
            line = input(prompt)
        except EOFError:
            return
        number += 1
        if not line.strip():
            continue
        try:
            if _has_surrogates(line):
                raise InputError(f"line {number} is not valid {sys.stdin.encoding} text")
            run_one(tr, line, args)
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)


def _has_surrogates(text: str) -> bool:
    """Whether `text` holds lone surrogates: the undecodable bytes of stdin or argv."""
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def check_flags(args: argparse.Namespace) -> None:
    """InputError for flag values that cannot work or would be ignored, before the model is
    loaded."""
    if not 1 <= args.beam <= MAX_BEAM:
        raise InputError(f"--beam must be in 1..{MAX_BEAM} (1 = greedy), got {args.beam}")
    if args.layer is not None and args.layer < 1:
        raise InputError(f"--layer is 1-based (1 = the first decoder layer), got {args.layer}")
    if args.layer is not None and not args.plot_attention:
        raise InputError(f"--layer {args.layer} only chooses the layer --plot-attention draws")
    if args.walk and args.beam > 1:
        raise InputError(f"--walk shows greedy decoding; it cannot explain --beam {args.beam}")
    if args.sentence is not None and _has_surrogates(args.sentence):
        raise InputError("the sentence is not valid UTF-8 text")
    for flag, path in (("--plot-attention", args.plot_attention), ("--html", args.html)):
        folder = Path(path).parent if path else None
        if folder is not None and not folder.is_dir():
            raise InputError(f"{flag} {path}: no directory {folder}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sentence", nargs="?", help="text to translate; none: read stdin lines")
    default_ckpt = REPO / Config.out
    parser.add_argument("--ckpt", default=str(default_ckpt), help=f"run directory ({default_ckpt})")
    parser.add_argument(
        "--beam", type=int, default=1, help=f"beam size, 1..{MAX_BEAM}; 1 = greedy (default)"
    )
    parser.add_argument("--plot-attention", metavar="PNG", help="save a cross-attention heatmap")
    parser.add_argument("--html", metavar="HTML", help="save the interactive attention explorer")
    parser.add_argument(
        "--layer", type=int, help="decoder layer --plot-attention draws (1-based; default: last)"
    )
    parser.add_argument("--walk", action="store_true", help="print the step-by-step decoding")
    parser.add_argument("--strict", action="store_true", help="refuse input with unknown words")
    args = parser.parse_args(argv)
    try:
        check_flags(args)
        tr = Translator(Path(args.ckpt))
        if args.layer is not None and args.layer > len(tr.model.decoder):
            raise InputError(f"--layer {args.layer}: the model has {len(tr.model.decoder)} layers")
        if args.sentence is None:
            interactive(tr, args)
        else:
            run_one(tr, args.sentence, args)
    except (InputError, rio.RunFileError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into `head`, which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
