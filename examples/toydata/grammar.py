"""Abstract sentence structures and a deterministic sampler for them.

One `Clause` is rendered twice (see `render.py`), into Chinese and English, so every pair is
right by construction.  The sampler only builds sensible clauses: verbs take objects of the
classes they accept, adjectives only modify fitting nouns, nobody is compared with themselves.
A `want` dict forces parts of the clause; it is how the held-out test sets are built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .everyday_words import EVERYDAY_VERBS
from .lexicon import NAMES, NOUNS, NUMBERS, PLACES, PRONOUNS, TIMES
from .prng import SplitMix64
from .verbs import ADJECTIVES, VERBS, Verb

ASPECTS = (
    "present",
    "neg_present",
    "past",
    "neg_past",
    "future",
    "neg_future",
    "progressive",
    "perfect",
    "neg_perfect",
)
_ASPECT_WEIGHTS = (15, 5, 25, 10, 12, 5, 13, 10, 5)
_PERSONS = [
    n.zh
    for n in NOUNS.values()
    if "person" in n.classes and "kin" not in n.classes and "numbered_only" not in n.classes
]
_KIN_OR_PERSON = [
    n.zh for n in NOUNS.values() if "person" in n.classes and "numbered_only" not in n.classes
]
_CMP_ADJECTIVES = [a.zh for a in ADJECTIVES.values() if a.cmp]
FRAGMENT_RATE = 0.04
PREDICATE_RATE = 0.06
_PRED_ADJECTIVES = [a.zh for a in ADJECTIVES.values() if a.pred]
_ALL_VERBS = {**VERBS, **EVERYDAY_VERBS}  # a wanted verb may be 爱; _pick_verb draws from VERBS


@dataclass
class NP:
    """A noun phrase.  kind: pron | name | noun | place, and in everyday clauses dem (这 / 那
    alone: "this", "that"), nat (中国人 -> "chinese") and phrase (a fixed phrase's key).
    det: bare | the | num | dem | poss."""

    kind: str
    head: str
    det: str = "bare"
    num: str | None = None
    dem: str | None = None
    adj: str | None = None
    poss: NP | None = None

    def key(self) -> tuple:
        """Identity used to forbid "I helped me" and comparing a thing with itself."""
        poss = self.poss.key() if self.poss else None
        return (self.kind, self.head, self.det, self.num, self.dem, self.adj, poss)


@dataclass
class Clause:
    """One clause: a verb clause (verb/obj set), a 比-comparative (cmp_adj/cmp_std set), an
    adjective predicate (pred_adj set: 他 很 高 -> "he is tall"), or a bare noun phrase
    (`fragment`: just `subj`, no verb and no final punctuation: 机器 学习 -> "machine
    learning", the example of docs/self_attention.md).

    The everyday clauses (everyday.py) add: a fixed `phrase` (你好, 谢谢: `subj` holds it as an
    NP of kind "phrase") with an optional `address` (你好 ， 小明); the copula with its
    complement `copula` (他 是 老师 -> "he is a teacher"); `called`, the name of 叫 (我 叫 大卫 ->
    "my name is david"); `also` (也) and `very` (非常 instead of 很)."""

    subj: NP
    aspect: str = "present"
    verb: str | None = None
    obj: NP | None = None
    time: str | None = None
    often: bool = False
    place: str | None = None
    bene: NP | None = None
    question: bool = False
    cmp_adj: str | None = None
    cmp_std: NP | None = None
    pred_adj: str | None = None
    fragment: bool = False
    phrase: str | None = None
    address: NP | None = None
    copula: NP | None = None
    called: str | None = None
    also: bool = False
    very: bool = False
    extra: dict = field(default_factory=dict)


def sample_sentence(rng: SplitMix64, want: dict | None = None, long: bool = False) -> list[Clause]:
    """One sentence: a clause, or (unforced) a bare noun phrase (4%, never if long) or two
    coordinated statements (~8% / 60% if long)."""
    if not want and not long and rng.chance(FRAGMENT_RATE):
        return [Clause(_fragment_np(rng), fragment=True)]
    if not want and rng.chance(0.6 if long else 0.08):
        return [sample_clause(rng, {}, long, statement=True) for _ in range(2)]
    return [sample_clause(rng, want or {}, long)]


def sample_clause(
    rng: SplitMix64, want: dict, long: bool = False, statement: bool = False
) -> Clause:
    """Sample one clause honouring `want` where it can (callers re-check and retry)."""
    question = want.get("question", not statement and not want.get("neg") and rng.chance(0.2))
    lexical = any(k in want for k in ("verb", "obj", "num", "adj", "subj", "place", "bene"))
    if want.get("comparative") or (not lexical and rng.chance(0.12)):
        return _comparative(rng, question)
    if not lexical and rng.chance(PREDICATE_RATE):
        return _predicate(rng, question, want.get("neg"))
    verb = _ALL_VERBS[want["verb"]] if "verb" in want else _pick_verb(rng, want)
    aspect = _pick_aspect(rng, verb, question, want.get("neg"))
    subj = _named(want["subj"]) if "subj" in want else _subject(rng, question)
    clause = Clause(subj, aspect, verb.zh, question=question)
    clause.obj = _object(rng, verb, want, aspect, subj)
    _add_modifiers(rng, clause, verb, want, long)
    return clause


def _pick_verb(rng: SplitMix64, want: dict) -> Verb:
    verbs = list(VERBS.values())
    if "obj" in want:
        classes = _classes_of(want["obj"])
        verbs = [v for v in verbs if classes & v.senses.keys()]
    if want.get("bene"):
        verbs = [v for v in verbs if v.bene]
    if "place" in want:
        verbs = [v for v in verbs if v.place_tags]
    return rng.choice(verbs)


def _classes_of(zh: str) -> frozenset[str]:
    if zh in PLACES:
        return PLACES[zh].tags | {"place"}
    return NOUNS[zh].classes


def _pick_aspect(rng: SplitMix64, verb: Verb, question: bool, neg: bool | None) -> str:
    options = []
    for aspect, weight in zip(ASPECTS, _ASPECT_WEIGHTS):
        negative = aspect.startswith("neg")
        if verb.stative and aspect not in ("present", "neg_present"):
            continue
        if (aspect == "progressive" and not verb.progressive) or (question and negative):
            continue
        if neg is not None and neg != negative:
            continue
        options += [aspect] * weight
    return rng.choice(options)


def _named(zh: str) -> NP:
    return NP("pron" if zh in PRONOUNS else "name", zh)


def _subject(rng: SplitMix64, question: bool) -> NP:
    r = rng.random()
    if r < 0.45:
        pronouns = [p for p in PRONOUNS if not (question and p in ("我", "我们"))]
        return NP("pron", rng.choice(pronouns))
    if r < 0.6:
        return NP("name", rng.choice(list(NAMES)))
    return _person_np(rng, allow_pron=False)


def _person_np(rng: SplitMix64, allow_pron: bool = True, allow_num: bool = False) -> NP:
    """A person: pronoun, name, "the teacher", "my mother", or (objects) "three students"."""
    r = rng.random()
    if allow_pron and r < 0.3:
        return NP("pron", rng.choice(list(PRONOUNS)))
    if r < 0.45:
        return NP("name", rng.choice(list(NAMES)))
    if allow_num and r < 0.6:
        head = rng.choice(_PERSONS + ["人"])
        return NP("noun", head, "num", num=rng.choice(list(NUMBERS)), adj=_maybe_adj(rng, head))
    if r < 0.7:
        return NP("noun", rng.choice(_PERSONS), "the")
    head = rng.choice(_KIN_OR_PERSON)
    poss = _possessor(rng)
    while poss.head == head:  # no "the doctor 's doctor"
        poss = _possessor(rng)
    return NP("noun", head, "poss", poss=poss)


def _possessor(rng: SplitMix64) -> NP:
    r = rng.random()
    if r < 0.6:
        return NP("pron", rng.choice(list(PRONOUNS)))
    if r < 0.8:
        return NP("name", rng.choice(list(NAMES)))
    return NP("noun", rng.choice(_PERSONS), "the")


def _maybe_adj(rng: SplitMix64, head: str, p: float = 0.25) -> str | None:
    classes = NOUNS[head].classes
    fitting = [a.zh for a in ADJECTIVES.values() if a.attr & classes]
    return rng.choice(fitting) if fitting and rng.chance(p) else None


def _object(rng: SplitMix64, verb: Verb, want: dict, aspect: str, subj: NP) -> NP:
    if "obj" in want:
        head = want["obj"]
    elif verb.senses.keys() & {"place", "visitable", "cleanable"}:
        head = rng.choice(
            [p.zh for p in PLACES.values() if p.np and (p.tags | {"place"}) & verb.senses.keys()]
        )
    else:
        head = rng.choice([n.zh for n in NOUNS.values() if n.classes & verb.senses.keys()])
    if head in PLACES:
        return NP("place", head)
    noun = NOUNS[head]
    if "person" in noun.classes and "numbered_only" not in noun.classes and "obj" not in want:
        for _ in range(20):
            obj = _person_np(rng, allow_num=True)
            if obj.key() != subj.key():
                return obj
        return NP("noun", head, "the")
    return _thing_np(rng, noun.zh, verb, want, aspect.startswith("neg"))


def _fragment_np(rng: SplitMix64) -> NP:
    """A noun phrase standing alone: 机器 学习, 三 本 书, 我 的 猫, 老师 ("the teacher")."""
    head = rng.choice(list(NOUNS))
    if "person" in NOUNS[head].classes and "numbered_only" not in NOUNS[head].classes:
        return _person_np(rng, allow_pron=False, allow_num=True)
    return _thing_np(rng, head, None, {}, False)


def _thing_np(rng: SplitMix64, head: str, verb: Verb | None, want: dict, negative: bool) -> NP:
    noun = NOUNS[head]
    if "num" in want or "numbered_only" in noun.classes:
        det = "num"
    elif noun.measure == "-":
        det = "bare"
    else:
        dets = ["bare", "num", "dem", "poss"]
        if negative:
            dets = ["dem", "poss"] + (["bare"] if noun.mass else [])
        if verb is not None and verb.stative:
            dets = ["bare", "dem"]
        det = rng.choice(dets)
    np_ = NP("noun", head, det)
    if det == "num":
        np_.num = want.get("num") or rng.choice(list(NUMBERS))
    elif det == "dem":
        np_.dem = rng.choice(["这", "那"])
    elif det == "poss":
        np_.poss = _possessor(rng)
    np_.adj = want.get("adj") or _maybe_adj(rng, head)
    return np_


def _add_modifiers(rng: SplitMix64, clause: Clause, verb: Verb, want: dict, long: bool) -> None:
    base = clause.aspect.removeprefix("neg_")
    times = [t for t, (_, kinds) in TIMES.items() if base in kinds]
    if times and not verb.stative and rng.chance(0.7 if long else 0.45):
        clause.time = rng.choice(times)
    if clause.aspect == "present" and not clause.time and not verb.stative and rng.chance(0.25):
        clause.often = True
    places = [p.zh for p in PLACES.values() if p.tags & verb.place_tags]
    if isinstance(want.get("place"), str):
        clause.place = want["place"]
    elif places and (want.get("place") or rng.chance(0.6 if long else 0.3)):
        clause.place = rng.choice(places)
    if verb.bene and (want.get("bene") or rng.chance(0.5 if long else 0.2)):
        for _ in range(20):
            bene = _person_np(rng)
            if bene.key() not in (clause.subj.key(), clause.obj.key()):
                clause.bene = bene
                break


def _comparative(rng: SplitMix64, question: bool) -> Clause:
    """X 比 Y ADJ: people (tall, old, ...) or two things of one kind ("this book", "my book")."""
    adj = ADJECTIVES[rng.choice(_CMP_ADJECTIVES)]
    cls = rng.choice(sorted(adj.cmp))
    while True:
        if cls == "person":
            subj = _subject(rng, question)
            std = _person_np(rng)
        else:
            head = rng.choice(
                [
                    n.zh
                    for n in NOUNS.values()
                    if cls in n.classes and n.measure != "-" and not n.mass
                ]
            )
            subj, std = _compared_thing(rng, head), _compared_thing(rng, head)
        if subj.key() != std.key():
            return Clause(subj, "present", question=question, cmp_adj=adj.zh, cmp_std=std)


def negated_comparative(rng: SplitMix64) -> Clause:
    """X 不 比 Y ADJ: "he is not taller than you", "this book is not older than my book".

    sample_clause never makes one, so the splits it builds are as they were; extra training
    data (train_neg_comparative) is made of these alone."""
    clause = _comparative(rng, question=False)
    clause.aspect = "neg_present"
    return clause


def _predicate(rng: SplitMix64, question: bool, neg: bool | None) -> Clause:
    """X 很 ADJ / X 不 ADJ / X ADJ 吗: "he is tall", "this book is not cheap", "is she busy?"."""
    adj = ADJECTIVES[rng.choice(_PRED_ADJECTIVES)]
    cls = rng.choice(sorted(adj.pred))
    if cls == "person":
        subj = _subject(rng, question)
    else:
        heads = [n.zh for n in NOUNS.values() if cls in n.classes and n.measure != "-"]
        subj = _compared_thing(rng, rng.choice(heads))
    negative = not question and (neg if neg is not None else rng.chance(0.25))
    aspect = "neg_present" if negative else "present"
    return Clause(subj, aspect, question=question, pred_adj=adj.zh)


def _compared_thing(rng: SplitMix64, head: str) -> NP:
    if rng.chance(0.5):
        return NP("noun", head, "dem", dem=rng.choice(["这", "那"]))
    return NP("noun", head, "poss", poss=_possessor(rng))
