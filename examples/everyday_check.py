"""Check a trained translator as a person uses it: everyday sentences, no final 。, never a loop.

    python examples/everyday_check.py                  # the default run, runs/zh_en
    python examples/everyday_check.py --ckpt DIR --fuzz 300 --seed 0

Prints three things:
1. FIVE: the first sentences a person types (two without their final 。, 我爱你, the weather,
   a greeting) and what translate.py makes of them.
2. Per test split, how many sentences typed without their final 。/？ are translated exactly as
   with it, by the model alone and by translate.py, which translates a sentence the model
   reads as one again with its mark (translate.final_mark); sentences that have no final mark,
   the bare noun phrases and fixed phrases, are not counted.
3. The fuzz: `--fuzz` random inputs (lexicon words in random orders, with and without final
   punctuation, unknown characters, Latin words and digits, one token, and nearly as long as
   the model accepts), decoded greedily with the safeguards of models.decoding (as translate.py
   and the evaluation decode), with beam search (4) and safeguards on a tenth of them, and
   greedily without the n-gram guard (the model alone, still within the length bound); and,
   the model alone again, every test sentence typed without its final mark. For each: how
   many outputs loop (an n-gram three times in a row where the source has none), how many
   stop without EOS, and the longest output against its bound 2 * S + 5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _translation_eval as ev
import _translation_io as rio
import numpy as np
from toydata import BOS, EOS, PAD, load_task, pad_sequences
from translate import REPO, Translator, final_mark

from models.decoding import has_loop, safeguards

FIVE = ("小明在公园喂了两只狗", "我每天看书", "我爱你", "今天天气很好。", "你好")
FINAL_MARKS = ("。", "？")
UNKNOWN = ("熊猫", "漫画", "iPhone", "Anna", "12", "咖喱", "火锅", "Zoë", "3D", "雪")


def five_rows(tr: Translator) -> list[tuple[str, str]]:
    """(typed, printed) for FIVE, greedy, unknown words copied as translate.py does."""
    rows = []
    for text in FIVE:
        tokens, src = tr.encode(text)
        output, _ = tr.copy_unknowns(src, tokens, tr.translate(src, beam=1))
        rows.append((text, ev.detokenize(output, "en")))
    return rows


def punctuation_agreement(tr: Translator, data: dict) -> dict[str, tuple[int, int, int]]:
    """split -> (sentences the model alone translates the same without their final mark,
    those translate.py does (it adds the mark back when the model reads a sentence:
    translate.final_mark), sentences with a final mark)."""
    out = {}
    for split in (name for name in data if name.startswith("test")):
        pairs = [p for p in data[split] if p.src[-1] in FINAL_MARKS]
        with_mark = ev.greedy_translate(tr.model, [tr.src_vocab.encode(p.src) for p in pairs])
        bare = [tr.src_vocab.encode(p.src[:-1]) for p in pairs]
        without = ev.greedy_translate(tr.model, bare)
        same = [a == b for a, b in zip(with_mark, without)]
        restored = [  # the CLI translates these again with the mark: as with it
            final_mark(tr.src_vocab, src, tr.tgt_vocab.decode(ids)) is not None
            for src, ids in zip(bare, without)
        ]
        out[split] = (sum(same), sum(a or b for a, b in zip(same, restored)), len(pairs))
    return out


def fuzz_inputs(tr: Translator, n: int, seed: int) -> list[list[str]]:
    """`n` token lists as translate.py segments typed text: random vocabulary words (kinds
    cycle: a few words, one token, nearly max_len tokens, words mixed with unknown ones), a
    final 。/？ or none."""
    rng = np.random.default_rng(seed)
    words = [w for w in tr.src_vocab.itos[4:] if w not in FINAL_MARKS]
    longest = tr.model.max_len - 1
    inputs = []
    for i in range(n):
        kind = i % 4
        size = {0: rng.integers(2, 9), 1: 1, 2: rng.integers(longest - 8, longest)}.get(kind, 6)
        picked = [str(w) for w in rng.choice(words, size=size)]
        if kind == 3:  # unknown words among known ones
            for k in rng.choice(size, size=rng.integers(1, 4), replace=False):
                picked[k] = str(rng.choice(UNKNOWN))
        text = "".join(picked) + str(rng.choice(["", "", "。", "？"]))
        inputs.append(tr.tokenize(text)[:longest])
    return inputs


def decode(tr: Translator, inputs: list[list[str]], beam: int, guard: bool) -> list[list[int]]:
    """Target ids (EOS kept if written) per input, in batches of 50, within the length bound;
    `guard` adds the n-gram guard."""
    out = []
    for start in range(0, len(inputs), 50):
        src = pad_sequences([tr.src_vocab.encode(t) for t in inputs[start : start + 50]])
        guards = safeguards(src, PAD)
        max_len = min(tr.model.max_len, int(guards["limits"].max()) + 1)
        if not guard:
            guards["no_repeat"] = None
        if beam > 1:
            ids = tr.model.beam_search(src, beam, BOS, EOS, max_len, **guards)
        else:
            ids = tr.model.greedy_decode(src, BOS, EOS, max_len, **guards)
        for row, limit in zip(ids, guards["limits"]):
            tokens = row[1:].tolist()
            out.append(tokens[: tokens.index(EOS) + 1] if EOS in tokens else tokens[:limit])
    return out


def fuzz_counts(tr: Translator, inputs: list[list[str]], beam: int, guard: bool) -> dict:
    """{"inputs", "loops", "no_eos", "longest": (length, bound)} of decoding `inputs`."""
    outputs = decode(tr, inputs, beam, guard)
    loops = sum(has_loop(o) and not has_loop(i) for i, o in zip(inputs, outputs))
    no_eos = sum(EOS not in o for o in outputs)
    worst = max(zip(inputs, outputs), key=lambda io: len(io[1]) - 2 * len(io[0]))
    bound = 2 * len(worst[0]) + 5
    return {
        "inputs": len(inputs),
        "loops": loops,
        "no_eos": no_eos,
        "longest": (len(worst[1]), bound),
    }


def report(tr: Translator, fuzz: int, seed: int) -> str:
    """The three checks of the module docstring as text."""
    data = load_task()
    lines = ["typed -> printed (greedy):"]
    lines += [f"  {typed} -> {printed}" for typed, printed in five_rows(tr)]
    lines.append("\nno final 。/？: translated as with it, by the model alone / by translate.py")
    for split, (same, cli, total) in punctuation_agreement(tr, data).items():
        lines.append(
            f"  {split:<14}{same:>5} / {total:<5}{100 * same / total:6.1f}%"
            f"   {cli:>5} / {total:<5}{100 * cli / total:6.1f}%"
        )
    inputs = fuzz_inputs(tr, fuzz, seed)
    unmarked = [p.src[:-1] for name in data if name.startswith("test") for p in data[name]]
    unmarked = [src for src in unmarked if src and src[-1] not in FINAL_MARKS]
    lines.append(f"\nfuzz: {len(inputs)} inputs; loops (an n-gram 3 times in a row), no EOS")
    for name, beam, guard, sub in (
        ("greedy, safeguards", 1, True, inputs),
        ("beam 4, safeguards", 4, True, inputs[::10]),
        ("greedy, no n-gram guard", 1, False, inputs),
        ("test sentences, no mark", 1, False, unmarked),  # the model alone ends them
    ):
        c = fuzz_counts(tr, sub, beam, guard)
        lines.append(
            f"  {name:<24} {c['inputs']:>4} inputs  {c['loops']:>3} loop  {c['no_eos']:>3} no "
            f"EOS  longest output {c['longest'][0]} tokens (its bound {c['longest'][1]})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", default=str(REPO / "runs" / "zh_en"), help="run directory")
    parser.add_argument("--fuzz", type=int, default=300, help="random inputs (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    args = parser.parse_args(argv)
    try:
        print(report(Translator(Path(args.ckpt)), args.fuzz, args.seed))
    except rio.RunFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
