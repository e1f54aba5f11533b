"""Question/statement pairs: the same clause asked and stated, for the consistency objective.

"他 高 吗 ？" -> "is he tall ?" and "他 很 高 。" -> "he is tall ." say the same thing about the
same words; only the question's word order (the auxiliary first) and the final mark differ.
examples/_consistency.py pulls the decoder state that predicts "he" (or "tall") in the question
towards the state that predicts it in the statement, so the model learns that a question is a
statement with its auxiliary moved, not a construction of its own.

File format (question_statements.tsv, UTF-8, "\\n" line ends, written by toydata.generate):
a header line, then `question source<TAB>question target<TAB>statement source<TAB>statement
target`, tokens joined by single spaces as in the split files.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from .data import tsv_rows
from .render import render

HEADER = "question_source\tquestion_target\tstatement_source\tstatement_target"
# English words a question moves or adds, and the final marks: their states are not compared
# ("is" opens "is he tall ?" but follows "he" in "he is tall .").
NOT_MATCHED = frozenset("is are am do does did will has have not ? .".split())


class QuestionStatement(NamedTuple):
    """One clause as a question and as a statement (token lists, source and target)."""

    question_src: list[str]
    question_tgt: list[str]
    statement_src: list[str]
    statement_tgt: list[str]


def matched_positions(question: list[str], statement: list[str]) -> list[tuple[int, int]]:
    """(i, j) with question[i] == statement[j] for every word that occurs exactly once in each
    and is not in NOT_MATCHED, sorted by i.
    ["is", "he", "tall", "?"], ["he", "is", "tall", "."] -> [(1, 0), (2, 2)]."""
    once = [w for w in question if question.count(w) == 1 and statement.count(w) == 1]
    return [(question.index(w), statement.index(w)) for w in once if w not in NOT_MATCHED]


def question_statement_pairs(train: list, banned_sources: set[str]) -> list[tuple]:
    """For every one-clause question among `train`'s samples (toydata.splits.Sample), the same
    clause rendered as a statement: [(question sample, (zh, en, align, [clause])), ...] in
    train's order. Skipped: statements whose source is in `banned_sources` (the evaluated
    splits) and pairs with no matched word."""
    out = []
    for sample in train:
        if len(sample.sentence) != 1 or not sample.sentence[0].question:
            continue
        statement = [replace(sample.sentence[0], question=False)]
        zh, en, align = render(statement)
        if " ".join(zh) in banned_sources or not matched_positions(sample.tgt, en):
            continue
        out.append((sample, (zh, en, align, statement)))
    return out


def format_question_statements(pairs: list[QuestionStatement]) -> str:
    """Pairs -> the text of question_statements.tsv (see the module docstring)."""
    lines = [HEADER] + ["\t".join(" ".join(part) for part in p) for p in pairs]
    return "\n".join(lines) + "\n"


def read_question_statements(path: str | Path) -> list[QuestionStatement]:
    """Read question_statements.tsv; a ValueError names the file and line of a bad row."""
    return [QuestionStatement(*(f.split(" ") for f in row)) for row in tsv_rows(path, HEADER)]
