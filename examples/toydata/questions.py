"""Consistency pairs: the same clause in two forms, for the consistency objective.

Question/statement pairs, the same clause asked and stated:

"他 高 吗 ？" -> "is he tall ?" and "他 很 高 。" -> "he is tall ." say the same thing about the
same words; only the question's word order (the auxiliary first) and the final mark differ.
examples/_consistency.py pulls the decoder state that predicts "he" (or "tall") in the question
towards the state that predicts it in the statement, so the model learns that a question is a
statement with its auxiliary moved, not a construction of its own.

Place pairs, a statement with a place and the same clause without it: "他 在 咖啡馆 用 电脑 。"
-> "he uses computers in the cafe ." and "他 用 电脑 。" -> "he uses computers .". The state that
predicts "he", "uses" or "computers" should not depend on whether a place follows: a model that
has never seen a question with a place must not let 在 咖啡馆 change how the clause starts.

File formats (UTF-8, "\\n" line ends, written by toydata.generate; tokens joined by single
spaces as in the split files), a header line and then one pair per line:
question_statements.tsv `question source<TAB>question target<TAB>statement source<TAB>statement
target`; place_statements.tsv `place source<TAB>place target<TAB>bare source<TAB>bare target`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from .data import tsv_rows
from .render import render

HEADER = "question_source\tquestion_target\tstatement_source\tstatement_target"
PLACE_HEADER = "place_source\tplace_target\tbare_source\tbare_target"
# English words a question moves or adds, and the final marks: their states are not compared
# ("is" opens "is he tall ?" but follows "he" in "he is tall .").
NOT_MATCHED = frozenset("is are am do does did will has have not ? .".split())


class QuestionStatement(NamedTuple):
    """One clause as a question and as a statement (token lists, source and target)."""

    question_src: list[str]
    question_tgt: list[str]
    statement_src: list[str]
    statement_tgt: list[str]


class PlaceStatement(NamedTuple):
    """One statement with its place and without it (token lists, source and target)."""

    place_src: list[str]
    place_tgt: list[str]
    bare_src: list[str]
    bare_tgt: list[str]


def matched_positions(question: list[str], statement: list[str]) -> list[tuple[int, int]]:
    """(i, j) with question[i] == statement[j] for every word that occurs exactly once in each
    and is not in NOT_MATCHED, sorted by i.
    ["is", "he", "tall", "?"], ["he", "is", "tall", "."] -> [(1, 0), (2, 2)]."""
    once = [w for w in question if question.count(w) == 1 and statement.count(w) == 1]
    return [(question.index(w), statement.index(w)) for w in once if w not in NOT_MATCHED]


def _restated(train: list, banned_sources: set[str], chosen, restate) -> list[tuple]:
    """[(sample, (zh, en, align, [restate(clause)])), ...] for the one-clause samples of `train`
    whose clause is `chosen`, in train's order, skipping restatements whose source is in
    `banned_sources` and pairs with no matched word."""
    out = []
    for sample in train:
        if len(sample.sentence) != 1 or not chosen(sample.sentence[0]):
            continue
        other = [restate(sample.sentence[0])]
        zh, en, align = render(other)
        if " ".join(zh) in banned_sources or not matched_positions(sample.tgt, en):
            continue
        out.append((sample, (zh, en, align, other)))
    return out


def question_statement_pairs(train: list, banned_sources: set[str]) -> list[tuple]:
    """For every one-clause question among `train`'s samples (toydata.splits.Sample), the same
    clause rendered as a statement: [(question sample, (zh, en, align, [clause])), ...] in
    train's order. Skipped: statements whose source is in `banned_sources` (the evaluated
    splits) and pairs with no matched word."""
    return _restated(
        train, banned_sources, lambda c: c.question, lambda c: replace(c, question=False)
    )


def place_statement_pairs(train: list, banned_sources: set[str]) -> list[tuple]:
    """For every one-clause statement among `train`'s samples that has a place, the same
    clause rendered without it: [(sample, (zh, en, align, [clause])), ...] in train's order.
    Skipped as in question_statement_pairs. (Training questions never have a place.)"""
    return _restated(
        train,
        banned_sources,
        lambda c: c.place and not c.question,
        lambda c: replace(c, place=None),
    )


def format_question_statements(pairs: list[QuestionStatement], header: str = HEADER) -> str:
    """Pairs -> the text of question_statements.tsv (or, with PLACE_HEADER and PlaceStatement
    rows, place_statements.tsv; see the module docstring)."""
    lines = [header] + ["\t".join(" ".join(part) for part in p) for p in pairs]
    return "\n".join(lines) + "\n"


def read_question_statements(path: str | Path) -> list[QuestionStatement]:
    """Read question_statements.tsv; a ValueError names the file and line of a bad row."""
    return [QuestionStatement(*(f.split(" ") for f in row)) for row in tsv_rows(path, HEADER)]


def read_place_statements(path: str | Path) -> list[PlaceStatement]:
    """Read place_statements.tsv; a ValueError names the file and line of a bad row."""
    rows = tsv_rows(path, PLACE_HEADER)
    return [PlaceStatement(*(f.split(" ") for f in row)) for row in rows]
