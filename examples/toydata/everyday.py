"""Everyday sentences: what a learner types first, as clauses of the grammar.

Greetings and thanks as fixed phrases (你好 -> "hello", 谢谢 ， 老师 -> "thank you , teacher",
你好 ， 我 叫 大卫 。 -> "hello , my name is david ."), 爱 (我 爱 你 。 -> "i love you ."), the
copula 是 (他 是 老师 。 -> "he is a teacher ."; 这 是 我 的 书 。 -> "this is my book ."), 叫,
the weather (今天 天气 很 好 。 -> "the weather is good today ."), 好 and the other predicate
adjectives with 很 or 非常 ("very"), and 也 ("also") in all of them. The words are in
everyday_words.py; render.py renders these clauses like every other, so the references are right
by construction.

Two files come from one stream of their own ("everyday" + seed), so adding them changed no other
file: train_everyday (extra training pairs; a fixed phrase alone may repeat, as it would in any
corpus) and test_everyday (sentences in no other file, by the hash bucket of test_iid).
`unpunctuated` drops a statement's or question's final 。/？ from a training source (the target
keeps its "." or "?"), so the model learns to end sentences typed without one.
"""

from __future__ import annotations

from .data import Pair
from .everyday_words import (
    EVERYDAY_ADJECTIVES,
    NATIONALITIES,
    PHRASES,
    TITLES,
    WEATHER,
    WEATHER_ADJECTIVES,
    WEATHER_TIMES,
)
from .grammar import NP, Clause, _compared_thing, _subject, sample_clause
from .lexicon import NAMES, NOUNS, PRONOUNS
from .prng import SplitMix64, seed_for, stable_hash
from .render import render
from .verbs import ADJECTIVES

PHRASE_RATE = 0.14  # a fixed phrase alone (40% of them addressing someone)
GREETING_RATE = 0.08  # a fixed phrase, then a statement: 你好 ， 我 是 大卫 。
QUESTION_RATE = 0.2
OPENERS = ("你好", "早上好", "晚上好", "对不起")  # the phrases that may open a statement
# kind -> weight: the copula, 叫, 爱, the weather, adjective predicates, 也 in any clause
_KINDS = {"copula": 25, "called": 8, "love": 17, "weather": 15, "predicate": 15, "also": 20}
_PERSON_NOUNS = [
    n.zh for n in NOUNS.values() if "person" in n.classes and "numbered_only" not in n.classes
]
# What 看 reads or watches stays out of the new contexts (这 是 X, X 很 好): the class of 电影
# is learned from 拍 and the other watchables, and the held-out 看 + 电影 leans on it.
_SEEN_BY_KAN = {"readable", "watchable", "filmable"}
_THINGS = [
    n.zh for n in NOUNS.values() if not n.classes & ({"person"} | _SEEN_BY_KAN) and n.measure != "-"
]
_PRED = {**{a.zh: a for a in ADJECTIVES.values() if a.pred}, **EVERYDAY_ADJECTIVES}
_PRED = {  # not 暖和 (weather only), nor 有意思 (books and movies only)
    zh: a for zh, a in _PRED.items() if a.pred - {"weather", "readable", "watchable", "filmable"}
}


def sample_everyday(rng: SplitMix64) -> list[Clause]:
    """One everyday sentence: a fixed phrase (PHRASE_RATE), a phrase then a statement
    (GREETING_RATE), or one everyday clause."""
    r = rng.random()
    if r < PHRASE_RATE:
        return [_phrase(rng, rng.chance(0.4))]
    if r < PHRASE_RATE + GREETING_RATE:
        return [_phrase(rng, False, OPENERS), everyday_clause(rng, question=False)]
    return [everyday_clause(rng, rng.chance(QUESTION_RATE))]


def _phrase(rng: SplitMix64, address: bool, keys: tuple[str, ...] = tuple(PHRASES)) -> Clause:
    key = rng.choice(keys)
    clause = Clause(NP("phrase", key), phrase=key)
    if address and PHRASES[key].address:
        clause.address = NP("name", rng.choice(list(NAMES) + list(TITLES)))
    return clause


def everyday_clause(rng: SplitMix64, question: bool) -> Clause:
    """One clause of a kind drawn by _KINDS; 也 (also) in some positive ones."""
    kind = rng.choice([k for k, w in _KINDS.items() for _ in range(w)])
    if kind == "also":
        clause = _also_clause(rng, question)
    else:
        clause = {
            "copula": _copula,
            "called": _called,
            "love": _love,
            "weather": _weather,
            "predicate": _predicate,
        }[kind](rng, question)
        clause.also = not clause.aspect.startswith("neg") and rng.chance(0.15)
    return clause


def _negative(rng: SplitMix64, question: bool, rate: float = 0.2) -> str:
    return "neg_present" if not question and rng.chance(rate) else "present"


def _copula(rng: SplitMix64, question: bool) -> Clause:
    """S 是 C: a person is a teacher / my friend / xiaoming / chinese; 这 / 那 is a thing."""
    r = rng.random()
    if r < 0.2:  # 这 是 我 的 书 / 那 是 一 本 书 / 这 是 小明
        subj = NP("dem", rng.choice(["这", "那"]))
        comp = _complement(rng, rng.choice(_THINGS + _PERSON_NOUNS), subj)
        if rng.chance(0.15):
            comp = NP("name", rng.choice(list(NAMES)))
    else:
        subj = _subject(rng, question) if r < 0.85 else NP("name", rng.choice(list(NAMES)))
        plural = subj.kind == "pron" and PRONOUNS[subj.head].plural
        if rng.chance(0.25):
            comp = NP("nat", rng.choice(list(NATIONALITIES)))
        elif plural:
            comp = NP("noun", rng.choice(_PERSON_NOUNS))  # 我们 是 学生 -> "we are students"
        elif subj.kind != "name" and rng.chance(0.15):
            comp = NP("name", rng.choice(list(NAMES)))
        else:
            comp = _complement(rng, rng.choice(_PERSON_NOUNS), subj)
    return Clause(subj, _negative(rng, question), question=question, copula=comp)


def _complement(rng: SplitMix64, head: str, subj: NP) -> NP:
    """老师 ("a teacher"), 一 个 老师, 我 的 朋友 (the possessor never the subject itself)."""
    noun = NOUNS[head]
    r = rng.random()
    if r < 0.4 or (noun.measure == "-" and r < 0.7):
        return NP("noun", head)
    if r < 0.7 and noun.measure != "-":
        return NP("noun", head, "num", num="一")
    poss = NP("pron", rng.choice([p for p in PRONOUNS if p != subj.head]))
    if rng.chance(0.3):
        poss = NP("name", rng.choice([n for n in NAMES if n != subj.head]))
    return NP("noun", head, "poss", poss=poss)


def _called(rng: SplitMix64, question: bool) -> Clause:
    """我 叫 大卫 -> "my name is david"; 你 叫 玛丽 吗 ？ -> "is your name mary ?"."""
    subj = NP("pron", rng.choice([p for p in PRONOUNS if not PRONOUNS[p].plural]))
    name = rng.choice(list(NAMES))
    return Clause(subj, _negative(rng, question, 0.15), question=question, called=name)


def _love(rng: SplitMix64, question: bool) -> Clause:
    """S 爱 O: people (often a pronoun: 我 爱 你), animals, music, subjects."""
    clause = sample_clause(rng, {"verb": "爱", "question": question})
    if rng.chance(0.4):
        pronouns = [p for p in PRONOUNS if clause.subj.key() != NP("pron", p).key()]
        clause.obj = NP("pron", rng.choice(pronouns))
    return clause


def _weather(rng: SplitMix64, question: bool) -> Clause:
    """[今天 / 现在] 天气 很 / 非常 / 不 ADJ, 天气 ADJ 吗: "the weather is good today"."""
    time = rng.choice(WEATHER_TIMES) if rng.chance(0.65) else None
    clause = Clause(NP("noun", WEATHER.zh, "the"), _negative(rng, question), time=time)
    clause.pred_adj, clause.question = rng.choice(WEATHER_ADJECTIVES), question
    clause.very = not question and clause.aspect == "present" and rng.chance(0.35)
    return clause


def _predicate(rng: SplitMix64, question: bool) -> Clause:
    """S 很 / 非常 / 不 ADJ: people (他 非常 高) and things (这 本 书 很 好)."""
    adj = _PRED[rng.choice(list(_PRED))]
    cls = rng.choice(sorted(adj.pred - {"weather"} - _SEEN_BY_KAN))
    if cls == "person":
        subj = _subject(rng, question)
    else:
        heads = [n.zh for n in NOUNS.values() if cls in n.classes and n.measure != "-"]
        subj = _compared_thing(rng, rng.choice(heads))
    clause = Clause(subj, _negative(rng, question, 0.25), question=question, pred_adj=adj.zh)
    clause.very = not question and clause.aspect == "present" and rng.chance(0.5)
    return clause


def _also_clause(rng: SplitMix64, question: bool) -> Clause:
    """A clause of the grammar with 也: 他 也 喜欢 茶 -> "he also likes tea" (not negated,
    no comparative: "also not" and "also taller" are not how English says them)."""
    while True:
        clause = sample_clause(rng, {"question": question})
        if not clause.cmp_adj and not clause.aspect.startswith("neg"):
            clause.also = True
            return clause


def everyday_splits(seed: int, sizes: dict[str, int], keep, seen: set[str]) -> dict[str, list]:
    """{"train_everyday": [...], "test_everyday": [...]} of (sentence, rendered) from the
    "everyday" stream; `keep(sentence, rendered)` filters (lengths, held-out pairs). A source
    hashing into test_iid's bucket (< 10 of 100) goes to test_everyday, the rest to
    train_everyday; only a fixed phrase alone may repeat, and only in train_everyday. `seen`
    (the other splits' sources) is never used again."""
    rng = SplitMix64(seed_for("everyday", seed))
    out: dict[str, list] = {"train_everyday": [], "test_everyday": []}
    while any(len(out[k]) < sizes[k] for k in out):
        sentence = sample_everyday(rng)
        rendered = render(sentence)
        key = " ".join(rendered[0])
        fixed = len(sentence) == 1 and sentence[0].phrase is not None
        name = "train_everyday" if fixed or stable_hash(key) % 100 >= 10 else "test_everyday"
        if (key in seen and not fixed) or len(out[name]) >= sizes[name]:
            continue
        if keep(sentence, rendered):
            seen.add(key)
            out[name].append((sentence, rendered))
    return out


def unpunctuated(pair: Pair, rate: float, rng) -> Pair:
    """`pair` without its source's final 。 or ？ (with probability `rate`; rng: anything with
    .random()), the target unchanged: "我 每天 看 书" -> "i read books every day ."."""
    if not pair.src or pair.src[-1] not in ("。", "？") or rng.random() >= rate:
        return pair
    end = len(pair.src) - 1  # only the lists citing it are new: a training epoch copies little
    align = [a if end not in a else [i for i in a if i != end] for a in pair.align]
    return Pair(pair.src[:-1], pair.tgt, align)
