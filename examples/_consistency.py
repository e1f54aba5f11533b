"""The consistency objective of examples/train_translation.py: question/statement pairs and
place pairs.

A training question ("他 高 吗 ？" -> "is he tall ?") and the same clause as a statement
("他 很 高 。" -> "he is tall .") are run through the model side by side, teacher forced. Where
both targets predict the same word ("he", "tall"; toydata.matched_positions), the decoder
layers' states should be the same too: the question is the statement with its auxiliary moved.
Place pairs do the same for a statement with a place and without it ("he uses computers in the
cafe ." / "he uses computers ."): the place must not change the states of the other words.
The loss added to the cross-entropy is

    weight * sum over decoder layers l of mean_{m, e} (h_l[a_m, e] - h_l[b_m, e]) ** 2

over the M matched word pairs (a_m, b_m) of a few random pairs per update (their own
cross-entropy is not added). Why: without the question pairs, a model may read 吗 after an
adjective as the adjective question it was trained on and answer 那 首 诗 比 我们 的 诗 旧 吗 ？
with "is that poem old ?" (a comparative question being a construction pair no training
sentence holds, test_struct); without the place pairs, a model may let 在 图书馆 decide how a
question starts and answer 你 在 图书馆 拍 一 本 小说 吗 ？ with "in the library ?".
docs/experiments.md (consistency) has the measurements.
"""

from __future__ import annotations

import numpy as np
from toydata import BOS, PlaceStatement, QuestionStatement, Vocab, matched_positions, pad_sequences

from models import Transformer
from tinygrad_attn import Tensor


class ConsistencyBatches:
    """The consistency pairs encoded once: question/statement pairs and, optionally, place
    pairs (a statement with a place and without it; toydata.questions). Each pair is a 4-tuple
    (a_src, a_tgt, b_src, b_tgt): sentence a and its restatement b. `batch` draws some of each
    kind for one update."""

    def __init__(
        self,
        pairs: list[QuestionStatement],
        src_vocab: Vocab,
        tgt_vocab: Vocab,
        place_pairs: list[PlaceStatement] = (),
    ):
        if not pairs:
            raise ValueError("ConsistencyBatches: no question/statement pairs")
        every = list(pairs) + list(place_pairs)  # question pairs first, then the place pairs
        self.num_questions = len(pairs)
        self.a = [
            (src_vocab.encode(a_src), tgt_vocab.encode(a_tgt)) for a_src, a_tgt, _, _ in every
        ]
        self.b = [
            (src_vocab.encode(b_src), tgt_vocab.encode(b_tgt)) for _, _, b_src, b_tgt in every
        ]
        self.matches = [matched_positions(a_tgt, b_tgt) for _, a_tgt, _, b_tgt in every]

    def __len__(self) -> int:
        return len(self.matches)

    @property
    def num_places(self) -> int:
        return len(self) - self.num_questions

    def batch(
        self, n: int, rng: np.random.Generator, n_place: int = 0
    ) -> tuple[np.ndarray, np.ndarray, tuple]:
        """n random pairs (without replacement), n_place of them place pairs and the rest
        question/statement pairs, as one padded batch: rows 0..n-1 the sentences a (question,
        or statement with its place), n..2n-1 their restatements b. Returns src (2n, S), tgt_in
        (2n, T) (BOS + target) and the index (rows_a, cols_a, rows_b, cols_b), each (M,): the
        positions of tgt_in whose states predict the same word."""
        if not 0 <= n_place <= min(n, self.num_places):
            raise ValueError(
                f"ConsistencyBatches.batch: n_place must be in [0, min(n, {self.num_places}"
                f" place pairs)], got n_place={n_place} with n={n}"
            )
        questions = min(n - n_place, self.num_questions)
        picked = rng.choice(self.num_questions, size=questions, replace=False)
        if n_place:
            places = self.num_questions + rng.choice(self.num_places, size=n_place, replace=False)
            picked = np.concatenate([picked, places])
        sides = [self.a[i] for i in picked] + [self.b[i] for i in picked]
        src = pad_sequences([s for s, _ in sides])
        tgt_in = pad_sequences([[BOS] + t for _, t in sides])
        n = len(picked)
        quads = [(row, a, n + row, b) for row, i in enumerate(picked) for a, b in self.matches[i]]
        index = tuple(np.array(column, dtype=np.int64) for column in zip(*quads))  # 4 x (M,)
        return src, tgt_in, index


def consistency_loss(states: list[Tensor], index: tuple) -> Tensor:
    """sum over layers of mean((h[rows_q, cols_q] - h[rows_s, cols_s]) ** 2), q the rows of the
    sentences a (questions), s those of their restatements b (statements).
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


def consistency_term(
    model: Transformer, pairs: ConsistencyBatches, n: int, rng, n_place: int = 0
) -> Tensor:
    """The unweighted loss on n random pairs (n_place of them place pairs): one teacher-forced
    pass of the 2n sentences."""
    src, tgt_in, index = pairs.batch(n, rng, n_place)
    return consistency_loss(model.decoder_states(src, tgt_in), index)
