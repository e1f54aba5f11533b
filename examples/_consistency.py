"""The question/statement consistency objective of examples/train_translation.py.

A training question ("他 高 吗 ？" -> "is he tall ?") and the same clause as a statement
("他 很 高 。" -> "he is tall .") are run through the model side by side, teacher forced. Where
both targets predict the same word ("he", "tall"; toydata.matched_positions), the decoder
layers' states should be the same too: the question is the statement with its auxiliary moved.
The loss added to the cross-entropy is

    weight * sum over decoder layers l of mean_{m, e} (h_l[q_m, e] - h_l[s_m, e]) ** 2

over the M matched word pairs (q_m, s_m) of a few random pairs per update (their own
cross-entropy is not added). Why: without it, a model may read 吗 after an adjective as the
adjective question it was trained on and answer 那 首 诗 比 我们 的 诗 旧 吗 ？ with "is that poem
old ?" — a comparative question being a construction pair no training sentence holds
(test_struct). README ("Generalizing", question/statement consistency) has the measurements.
"""

from __future__ import annotations

import numpy as np
from toydata import BOS, QuestionStatement, Vocab, matched_positions, pad_sequences

from models import Transformer
from tinygrad_attn import Tensor


class ConsistencyBatches:
    """The question/statement pairs encoded once; `batch` draws n of them for one update."""

    def __init__(self, pairs: list[QuestionStatement], src_vocab: Vocab, tgt_vocab: Vocab):
        if not pairs:
            raise ValueError("ConsistencyBatches: no question/statement pairs")
        self.questions = [
            (src_vocab.encode(p.question_src), tgt_vocab.encode(p.question_tgt)) for p in pairs
        ]
        self.statements = [
            (src_vocab.encode(p.statement_src), tgt_vocab.encode(p.statement_tgt)) for p in pairs
        ]
        self.matches = [matched_positions(p.question_tgt, p.statement_tgt) for p in pairs]

    def __len__(self) -> int:
        return len(self.matches)

    def batch(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple]:
        """n random pairs (without replacement) as one padded batch: rows 0..n-1 the questions,
        n..2n-1 their statements. Returns src (2n, S), tgt_in (2n, T) (BOS + target) and the
        index (rows_q, cols_q, rows_s, cols_s), each (M,): the positions of tgt_in whose
        states predict the same word."""
        picked = rng.choice(len(self), size=min(n, len(self)), replace=False)
        sides = [self.questions[i] for i in picked] + [self.statements[i] for i in picked]
        src = pad_sequences([s for s, _ in sides])
        tgt_in = pad_sequences([[BOS] + t for _, t in sides])
        n = len(picked)
        quads = [(row, q, n + row, s) for row, i in enumerate(picked) for q, s in self.matches[i]]
        index = tuple(np.array(column, dtype=np.int64) for column in zip(*quads))  # 4 x (M,)
        return src, tgt_in, index


def consistency_loss(states: list[Tensor], index: tuple) -> Tensor:
    """sum over layers of mean((h[rows_q, cols_q] - h[rows_s, cols_s]) ** 2).
    Shapes: states L tensors (B, T, E), index 4 arrays (M,) -> scalar. Zero when the matched
    states are equal; its gradient is 2 (h_q - h_s) / (M E) into the question rows and the
    negation of it into the statement rows."""
    rows_q, cols_q, rows_s, cols_s = index
    total = None
    for h in states:
        diff = h[rows_q, cols_q] - h[rows_s, cols_s]  # (M, E)
        term = (diff * diff).mean()
        total = term if total is None else total + term
    return total


def consistency_term(model: Transformer, pairs: ConsistencyBatches, n: int, rng) -> Tensor:
    """The unweighted loss on n random pairs: one teacher-forced pass of the 2n sentences."""
    src, tgt_in, index = pairs.batch(n, rng)
    return consistency_loss(model.decoder_states(src, tgt_in), index)
