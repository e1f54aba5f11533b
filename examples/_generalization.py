"""The generalization extras of examples/train_translation.py, as one plug-in (`Generalization`)
that the recipe calls at the three places marked [extras]; the default run turns them on.

Each extra is a Config field (0 turns it off) and serves some held-out split:
    more data       compound_pairs two-clause sentences "A ， B 。" (test_long),
                    neg_comparative_pairs "X 不 比 Y ADJ 。" (test_struct) and everyday_pairs
                    greetings, 爱, 是, the weather (test_everyday), after the train split
    masked slots    unk_rate: a name/place/number/noun slot -> <unk> on both sides (test_unk)
    no final mark   unpunctuated_rate: a source without its final 。/？, the target kept
    positions       random_positions: sorted random positions (Ruoss et al. 2023; off)
    an extra loss   question_consistency times the consistency term of _consistency.py on
                    consistency_pairs pairs, place_pairs of them place pairs (test_struct)
The interface the recipe sees:
    Generalization.extra_pairs(data, cfg)   the extra training pairs (before the vocabularies)
    Generalization(cfg, src_vocab, tgt_vocab)
        .transform(pairs, epoch)           an epoch's pairs, masked and unpunctuated
        .positions(step, src_len, tgt_len) the model's position keywords for one update
        .extra_loss(model, step)           ExtraLoss(name, weight, term) or None
        .summary()                         what the run's first line adds about the extras
Every draw is a function of (seed, epoch) or (seed, step) in a stream of its own, so the batch
order does not depend on these settings and a resumed run draws the same.
docs/experiments.md has what each extra is for and what it measured.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from _config import Config
from _consistency import ConsistencyBatches, consistency_term
from _train_utils import ConfigError
from toydata import (
    Pair,
    PlaceStatement,
    QuestionStatement,
    Vocab,
    load_place_statements,
    load_question_statements,
)
from toydata.everyday import unpunctuated
from toydata.unknown import mask_unknowns

from models import Transformer
from tinygrad_attn import Tensor


class ExtraLoss(NamedTuple):
    """A loss term to add to the cross-entropy as `weight * term`, logged as `name`."""

    name: str
    weight: float
    term: Tensor  # scalar, unweighted


class Generalization:
    """The extras of one run (`cfg`); the consistency pairs are encoded with the vocabularies."""

    def __init__(self, cfg: Config, src_vocab: Vocab, tgt_vocab: Vocab) -> None:
        self.cfg = cfg
        self.consistency = consistency_batches(cfg, src_vocab, tgt_vocab)

    @staticmethod
    def extra_pairs(data: dict[str, list[Pair]], cfg: Config) -> list[Pair]:
        """The first cfg.compound_pairs of train_compound, the first cfg.neg_comparative_pairs
        of train_neg_comparative and the first cfg.everyday_pairs of train_everyday (splits
        that only the translation task has), to follow the train split."""
        return (
            data.get("train_compound", [])[: cfg.compound_pairs]
            + data.get("train_neg_comparative", [])[: cfg.neg_comparative_pairs]
            + data.get("train_everyday", [])[: cfg.everyday_pairs]
        )

    def transform(self, pairs: list[Pair], epoch: int) -> list[Pair]:
        """The pairs of one epoch with cfg.unk_rate of their slots masked as <unk> (stream
        [seed, epoch, 1]) and cfg.unpunctuated_rate of the sources without their final 。/？
        (stream [seed, epoch, 3]); the same list when both rates are 0."""
        cfg = self.cfg
        if cfg.unk_rate > 0:  # a stream of its own: the batch order is the same at any unk_rate
            unk_rng = np.random.default_rng([cfg.seed, epoch, 1])
            pairs = [mask_unknowns(p, cfg.unk_rate, unk_rng) for p in pairs]
        if cfg.unpunctuated_rate > 0:  # as typed: no final 。/？, the same translation
            punct_rng = np.random.default_rng([cfg.seed, epoch, 3])
            pairs = [unpunctuated(p, cfg.unpunctuated_rate, punct_rng) for p in pairs]
        return pairs

    def positions(self, step: int, src_len: int, tgt_len: int) -> dict[str, np.ndarray | None]:
        """The model's src_positions and tgt_positions for update `step`: random_positions's
        draws, or None each (positions 0, 1, ...) when cfg.random_positions is 0."""
        return {
            "src_positions": random_positions(self.cfg, step, src_len, side=0),
            "tgt_positions": random_positions(self.cfg, step, tgt_len, side=1),
        }

    def extra_loss(self, model: Transformer, step: int) -> ExtraLoss | None:
        """The consistency term of cfg.consistency_pairs random pairs (cfg.place_pairs of them
        place pairs; stream [seed, step, 11], so resumable), weighted cfg.question_consistency;
        None when the term is off."""
        if self.consistency is None:
            return None
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, step, 11])
        term = consistency_term(
            model, self.consistency, cfg.consistency_pairs, rng, cfg.place_pairs
        )
        return ExtraLoss("consistency", cfg.question_consistency, term)

    def summary(self) -> str:
        """ ", 12 question/statement and 4 place pairs" for the run's first line ("" when off)."""
        if self.consistency is None:
            return ""
        pairs = self.consistency
        return f", {pairs.num_questions} question/statement and {pairs.num_places} place pairs"


def random_positions(cfg: Config, step: int, length: int, side: int) -> np.ndarray | None:
    """A sorted random subset of 0 .. cfg.random_positions - 1 for `length` rows (None when
    off), a function of (seed, step, side) so a resumed run draws the same.  -> (length,)."""
    if not cfg.random_positions:
        return None
    if length > cfg.random_positions:
        raise ConfigError(
            "random_positions",
            f"must be >= the longest training sequence ({length}), got {cfg.random_positions}",
        )
    rng = np.random.default_rng([cfg.seed, step, side, 2])
    return np.sort(rng.choice(cfg.random_positions, size=length, replace=False))


def consistency_batches(
    cfg: Config, src_vocab: Vocab, tgt_vocab: Vocab
) -> ConsistencyBatches | None:
    """The question/statement pairs of the consistency objective and, with cfg.place_pairs,
    the place pairs (ConsistencyBatches), or None when it is off: weight 0, or a task without
    questions (reversal, dates)."""
    if cfg.question_consistency == 0 or cfg.task != "translation":
        return None
    pairs = load_question_statements()
    places = load_place_statements() if cfg.place_pairs else []
    if cfg.direction == "en-zh":  # the same pairs, English sources and Chinese targets
        pairs = [QuestionStatement(p[1], p[0], p[3], p[2]) for p in pairs]
        places = [PlaceStatement(p[1], p[0], p[3], p[2]) for p in places]
    return ConsistencyBatches(pairs, src_vocab, tgt_vocab, places)
