"""Pairs, the TSV format, and `load_task`.

TSV format (UTF-8, "\\n" line ends, a header line `source<TAB>target<TAB>alignment`):
- source: Chinese word tokens joined by single spaces ("我 昨天 在 图书馆 看 了 三 本 书 。")
- target: English lowercase tokens joined by spaces, punctuation and "'s" as separate tokens
- alignment: one field per target token, space-separated; a field is the comma-joined source
  indices that token translates, or "-" when it has none ("the", "of", ...).
  Example: "i read three books in the library yesterday ." -> "0 4 6 8 2 - 3 1 9".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # questions.py imports this module
    from .questions import PlaceStatement, QuestionStatement

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TRANSLATION_SPLITS = (
    "train",
    "valid",
    "test_iid",
    "test_combo",
    "test_struct",
    "test_long",
    "test_unk",
    "train_compound",
    "train_neg_comparative",
    "train_everyday",
    "test_everyday",
)
HEADER = "source\ttarget\talignment"


@dataclass
class Pair:
    """One example.  align[j] lists the src indices that tgt[j] translates (maybe empty)."""

    src: list[str]
    tgt: list[str]
    align: list[list[int]]


def format_alignment(align: list[list[int]]) -> str:
    """[[0], [], [1, 2]] -> "0 - 1,2"."""
    return " ".join(",".join(map(str, a)) if a else "-" for a in align)


def parse_alignment(text: str) -> list[list[int]]:
    """ "0 - 1,2" -> [[0], [], [1, 2]]."""
    return [[] if f == "-" else [int(i) for i in f.split(",")] for f in text.split(" ")]


def invert_alignment(align: list[list[int]], src_len: int) -> list[list[int]]:
    """Alignment of the reversed direction: for each source token, the target tokens citing it."""
    inverse: list[list[int]] = [[] for _ in range(src_len)]
    for j, sources in enumerate(align):
        for i in sources:
            inverse[i].append(j)
    return inverse


def swap(pair: Pair) -> Pair:
    """The same example in the other direction (en->zh), alignments inverted."""
    return Pair(pair.tgt, pair.src, invert_alignment(pair.align, len(pair.src)))


def format_tsv(pairs: list[Pair]) -> str:
    """Pairs -> the text of a TSV file (see module docstring)."""
    lines = [HEADER]
    for p in pairs:
        lines.append(f"{' '.join(p.src)}\t{' '.join(p.tgt)}\t{format_alignment(p.align)}")
    return "\n".join(lines) + "\n"


def tsv_rows(path: str | Path, header: str) -> list[list[str]]:
    """The rows of a tab-separated file after its `header` line, each with as many non-empty
    fields as the header; a ValueError names the file (and line) that is not so."""
    width = header.count("\t") + 1
    rows = []
    with open(path, encoding="utf-8") as f:
        first = f.readline().rstrip("\n")
        if first != header:
            raise ValueError(f"{path}: expected header {header!r}, got {first!r}")
        for number, line in enumerate(f, start=2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != width or not all(fields):
                raise ValueError(
                    f"{path}:{number}: expected {width} non-empty tab-separated fields"
                )
            rows.append(fields)
    return rows


def read_tsv(path: str | Path) -> list[Pair]:
    """Read one split file written by `format_tsv`."""
    return [
        Pair(src.split(" "), tgt.split(" "), parse_alignment(align))
        for src, tgt, align in tsv_rows(path, HEADER)
    ]


def load_question_statements(data_dir: str | Path | None = None) -> list[QuestionStatement]:
    """The question/statement pairs of the translation task (toydata.questions), zh-en tokens:
    [QuestionStatement(question_src, question_tgt, statement_src, statement_tgt), ...]."""
    from .questions import read_question_statements

    folder = Path(data_dir) if data_dir is not None else DATA_DIR
    return read_question_statements(folder / "zh_en" / "question_statements.tsv")


def load_place_statements(data_dir: str | Path | None = None) -> list[PlaceStatement]:
    """The place pairs of the translation task (toydata.questions), zh-en tokens:
    [PlaceStatement(place_src, place_tgt, bare_src, bare_tgt), ...]."""
    from .questions import read_place_statements

    folder = Path(data_dir) if data_dir is not None else DATA_DIR
    return read_place_statements(folder / "zh_en" / "place_statements.tsv")


def load_task(
    task: str = "translation", direction: str = "zh-en", data_dir: str | Path | None = None
) -> dict[str, list[Pair]]:
    """Load every split of a task: {"train": [Pair, ...], "valid": [...], "test_*": [...]}.

    Args:
        task: "translation" (shipped TSVs), "reversal" or "dates" (generated on the fly).
        direction: "zh-en" (the natural direction) or "en-zh" (source and target swapped,
            alignments inverted); for reversal/dates "en-zh" likewise means the inverse task.
        data_dir: folder holding zh_en/*.tsv; default examples/data.
    """
    if direction not in ("zh-en", "en-zh"):
        raise ValueError(f"load_task: direction must be 'zh-en' or 'en-zh', got {direction!r}")
    if task == "translation":
        folder = Path(data_dir) if data_dir is not None else DATA_DIR
        splits = {name: read_tsv(folder / "zh_en" / f"{name}.tsv") for name in TRANSLATION_SPLITS}
    elif task in ("reversal", "dates"):
        from .tasks import dates_splits, reversal_splits

        splits = reversal_splits() if task == "reversal" else dates_splits()
    else:
        raise ValueError(f"load_task: unknown task {task!r} (translation, reversal, dates)")
    if direction == "en-zh":
        splits = {name: [swap(p) for p in pairs] for name, pairs in splits.items()}
    return splits
