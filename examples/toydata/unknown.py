"""Unknown words: the <unk> masking of training pairs and the test_unk split.

A model cannot translate a word it never saw, but it can say where it is. Following Luong et
al. (2015, "Addressing the rare word problem"), training replaces some name, city, number and
noun slots by <unk> on both sides (`mask_unknowns`), so the model learns to write <unk> where the
source has an unknown word; the decoder then copies the source word its cross-attention points
at. test_unk (`unknown_split`) is sampled from the grammar like the other splits, with names,
cities, numbers and objects replaced by strings the training data never contains (Latin names
and places, digits, nouns of unseen Chinese characters), rendered by the same code: their
English is the word itself, and digits take the English plural rule ("1 book", "3 books").
"""

from __future__ import annotations

import copy

from .data import Pair
from .grammar import NP, Clause, sample_sentence
from .lexicon import NAMES, NOUNS, NUMBERS, PLACES, UNSEEN_NAMES, UNSEEN_NOUNS, UNSEEN_PLACES
from .prng import SplitMix64, seed_for
from .render import render
from .verbs import ADJECTIVES, VERBS

UNK_TOKEN = "<unk>"
DIGITS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "15", "20", "30", "99")
NUMBER_RATE = 0.7  # test_unk: chance that a number becomes digits
OBJECT_RATE = 0.6  # and that an object becomes an unseen noun
_AMBIGUOUS_VERBS = ("看", "拍")  # their English depends on the object's class, unknown in <unk>
_CITIES = {zh: p.np[0] for zh, p in PLACES.items() if p.at == ("in", *p.np) and len(p.np) == 1}


def _maskable() -> dict[str, frozenset[str]]:
    """Chinese token -> the English words that translate it in a slot <unk> may replace."""
    table = {zh: frozenset({en}) for zh, en in NAMES.items()}
    table |= {zh: frozenset({en}) for zh, en in _CITIES.items()}
    table |= {zh: frozenset({en}) for zh, en in NUMBERS.items() if zh != "一"}  # "a"/"an"
    for zh, noun in NOUNS.items():
        if len(noun.tokens) == 1 and len(noun.sg) == 1 and "person" not in noun.classes:
            table[zh] = frozenset(noun.sg + noun.pl)
    return table


MASKABLE = _maskable()


def mask_unknowns(pair: Pair, rate: float, rng) -> Pair:
    """`pair` with each maskable source token, and the target words aligned to it alone,
    replaced by <unk> with probability `rate` (rng: anything with .random()).

    "an" before a masked word becomes "a", as the unseen words of test_unk are rendered.
    A pair with nothing masked is returned itself (an epoch of training copies little).
    """
    src, tgt = pair.src, pair.tgt  # copied on the first change: most pairs are left as they are
    for i, token in enumerate(pair.src):
        words = MASKABLE.get(token)
        if words is None or rng.random() >= rate:
            continue
        targets = [j for j, a in enumerate(pair.align) if a == [i] and tgt[j] in words]
        if not targets:  # e.g. 学习 the verb, not a noun: leave it
            continue
        if src is pair.src:
            src, tgt = list(pair.src), list(pair.tgt)
        src[i] = UNK_TOKEN
        for j in targets:
            tgt[j] = UNK_TOKEN
            if j > 0 and tgt[j - 1] == "an":
                tgt[j - 1] = "a"
    return pair if src is pair.src else Pair(src, tgt, pair.align)


def unseen_sentence(sentence: list[Clause], rng: SplitMix64) -> tuple[list[Clause], set[str]]:
    """A copy of `sentence` with unseen words: every name and city, numbers (NUMBER_RATE) and
    objects of verbs with one English sense (OBJECT_RATE).  -> (sentence, the words put in).

    Names and cities map one to one (two different names stay two different names).
    """
    out = copy.deepcopy(sentence)
    names = dict(zip(NAMES, _shuffled(UNSEEN_NAMES, rng)))
    cities = dict(zip(_CITIES, _shuffled(tuple(UNSEEN_PLACES), rng)))
    used: set[str] = set()
    for clause in out:
        if clause.place in cities:
            clause.place = cities[clause.place]
            used.add(clause.place)
        if clause.verb and clause.verb not in _AMBIGUOUS_VERBS and rng.chance(OBJECT_RATE):
            used |= _unseen_object(clause, rng)
        for np_ in _all_nps(clause):
            if np_.kind == "name":
                np_.head = names[np_.head]
                used.add(np_.head)
            elif np_.kind == "place" and np_.head in cities:
                np_.head = cities[np_.head]
                used.add(np_.head)
            elif np_.num and np_.num in NUMBERS and rng.chance(NUMBER_RATE):
                np_.num = rng.choice(DIGITS)
                used.add(np_.num)
    return out, used


def _shuffled(items: tuple[str, ...], rng: SplitMix64) -> list[str]:
    out = list(items)
    rng.shuffle(out)
    return out


def _all_nps(clause: Clause) -> list[NP]:
    nps = [np_ for np_ in (clause.subj, clause.obj, clause.bene, clause.cmp_std) if np_]
    return nps + [np_.poss for np_ in nps if np_.poss]


def _unseen_object(clause: Clause, rng: SplitMix64) -> set[str]:
    """Replace a thing object by an unseen noun the verb takes in the same sense."""
    obj = clause.obj
    noun = NOUNS.get(obj.head) if obj.kind == "noun" else None
    if noun is None or "person" in noun.classes or noun.container or len(noun.tokens) > 1:
        return set()
    senses = VERBS[clause.verb].senses
    sense = senses[min(noun.classes & senses.keys())]
    fits = [
        zh
        for zh, new in UNSEEN_NOUNS.items()
        if new.classes & senses.keys() and senses[min(new.classes & senses.keys())] == sense
    ]
    if not fits:
        return set()
    obj.head = rng.choice(fits)
    if obj.adj and not ADJECTIVES[obj.adj].attr & UNSEEN_NOUNS[obj.head].classes:
        obj.adj = None
    return {obj.head}


def unknown_split(seed: int, size: int, accept) -> list[tuple[list[Clause], tuple]]:
    """`size` sentences with at least one unseen word each, as (sentence, render(sentence)),
    sampled with their own stream; `accept(sentence, rendered)` filters (length, duplicates)."""
    rng = SplitMix64(seed_for("test_unk", seed))
    out: list[tuple[list[Clause], tuple]] = []
    while len(out) < size:
        sentence, used = unseen_sentence(sample_sentence(rng), rng)
        rendered = render(sentence)
        if used and accept(sentence, rendered):
            out.append((sentence, rendered))
    return out
