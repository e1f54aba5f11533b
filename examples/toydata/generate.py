"""Write the translation TSVs and their SHA256SUMS.

    python -m toydata.generate --out data     (from examples/)
    python examples/toydata/generate.py       (from the repo root; default --out examples/data)

Output: <out>/zh_en/{train,valid,test_iid,test_combo,test_struct,test_long,test_unk}.tsv, the
extra training pairs train_compound.tsv and train_neg_comparative.tsv, and
<out>/zh_en/SHA256SUMS (`sha256sum -c SHA256SUMS` format).  Byte for byte reproducible.
test_unk (toydata.unknown) is sampled from a stream of its own ("test_unk" + seed) and then has
its names, cities, some numbers and some objects replaced by words no other file contains (Latin
names and places, digits, nouns of unseen Chinese characters): adding it changed no other file.
question_statements.tsv and place_statements.tsv are derived from train (its one-clause
questions restated, its one-clause statements with a place restated without it), so adding them
changed no split file either.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `toydata` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from toydata.data import DATA_DIR, TRANSLATION_SPLITS, Pair, format_tsv  # noqa: E402
from toydata.questions import (  # noqa: E402
    PLACE_HEADER,
    PlaceStatement,
    QuestionStatement,
    format_question_statements,
    place_statement_pairs,
    question_statement_pairs,
)
from toydata.splits import EVALUATED, SEED, build_splits  # noqa: E402


def generate_texts(seed: int = SEED, splits: dict | None = None) -> dict[str, str]:
    """File name -> file text for every split and SHA256SUMS (from `splits` if given)."""
    splits = build_splits(seed) if splits is None else splits
    texts = {}
    for name in TRANSLATION_SPLITS:
        texts[f"{name}.tsv"] = format_tsv([Pair(s.src, s.tgt, s.align) for s in splits[name]])
    banned = {" ".join(s.src) for name in EVALUATED for s in splits[name]}
    pairs = question_statement_pairs(splits["train"], banned)
    rows = [QuestionStatement(q.src, q.tgt, zh, en) for q, (zh, en, _, _) in pairs]
    texts["question_statements.tsv"] = format_question_statements(rows)
    places = place_statement_pairs(splits["train"], banned)
    rows = [PlaceStatement(p.src, p.tgt, zh, en) for p, (zh, en, _, _) in places]
    texts["place_statements.tsv"] = format_question_statements(rows, PLACE_HEADER)
    sums = [f"{hashlib.sha256(t.encode('utf-8')).hexdigest()}  {n}" for n, t in texts.items()]
    texts["SHA256SUMS"] = "\n".join(sums) + "\n"
    return texts


def write_data(out: str | Path, seed: int = SEED) -> Path:
    """Write all files to <out>/zh_en/ and return that folder."""
    folder = Path(out) / "zh_en"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in generate_texts(seed).items():
        with open(folder / name, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DATA_DIR), help="data root (default examples/data)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    folder = write_data(args.out, args.seed)
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
