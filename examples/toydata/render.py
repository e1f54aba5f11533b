"""Render an abstract sentence into Chinese and English tokens with gold alignments.

Every Chinese token gets a unique key ("0.s.h" = clause 0, subject, head); every English token
lists the keys it translates.  After rendering, keys become Chinese token indices, so each target
token knows its source tokens.  Function words with no source ("the", "of", the copula of a 比
statement) get an empty alignment.
"""

from __future__ import annotations

from .grammar import NP, Clause
from .lexicon import (
    DEMONSTRATIVES,
    NAMES,
    NOUNS,
    NUMBERS,
    PLACES,
    PRONOUNS,
    TIMES,
    UNSEEN_NOUNS,
    UNSEEN_PLACES,
)
from .verbs import ADJECTIVES, EN_VERBS, VERBS

# The unseen words of test_unk render like the others; names and digits are their own English.
_NOUNS = {**NOUNS, **UNSEEN_NOUNS}
_PLACES = {**PLACES, **UNSEEN_PLACES}

Zh = list[tuple[str, str]]  # (token, key)
En = list[tuple[str, tuple[str, ...]]]  # (token, keys of the source tokens it translates)

# Markers placed before the verb in Chinese (aspect -> [(token, key suffix)]).
_ZH_MARKERS = {
    "neg_present": [("不", "neg")],
    "neg_past": [("没", "neg")],
    "neg_perfect": [("没", "neg")],
    "future": [("会", "hui")],
    "neg_future": [("不", "neg"), ("会", "hui")],
    "progressive": [("正在", "prog")],
}


def render(sentence: list[Clause]) -> tuple[list[str], list[str], list[list[int]]]:
    """Sentence -> (Chinese tokens, English tokens, per English token its Chinese indices)."""
    if sentence[0].fragment:  # a bare noun phrase: no verb, no punctuation
        zh, en = zh_np(sentence[0].subj, "0.s."), en_np(sentence[0].subj, "0.s.", "subj")
        return _aligned(zh, en)
    zh: Zh = []
    en: En = []
    for i, clause in enumerate(sentence):
        if i:
            zh.append(("，", "conj"))
            en += [(",", ("conj",)), ("and", ("conj",))]
        zh += zh_clause(clause, f"{i}.")
        en += en_clause(clause, f"{i}.")
    question = sentence[-1].question
    zh.append(("？" if question else "。", "end"))
    en.append(("?" if question else ".", ("end",)))
    return _aligned(zh, en)


def _aligned(zh: Zh, en: En) -> tuple[list[str], list[str], list[list[int]]]:
    """Keys -> Chinese token indices: (Chinese tokens, English tokens, alignment)."""
    index = {key: i for i, (_, key) in enumerate(zh)}
    align = [sorted(index[k] for k in keys if k in index) for _, keys in en]
    return [t for t, _ in zh], [t for t, _ in en], align


def _words(words: tuple[str, ...], *keys: str) -> En:
    """English words all translating `keys`; "the" never has a source."""
    return [(w, () if w == "the" else keys) for w in words]


def zh_np(np: NP, p: str) -> Zh:
    """Chinese noun phrase: [possessor 的 | number measure | 这/那 measure] [adj [的]] head."""
    if np.kind != "noun":
        return [(np.head, p + "h")]
    out: Zh = []
    if np.det == "poss":
        out += zh_np(np.poss, p + "p.") + [("的", p + "de")]
    elif np.det in ("num", "dem"):
        out += [(np.num or np.dem, p + "d"), (_NOUNS[np.head].measure, p + "m")]
    if np.adj:
        out.append((np.adj, p + "a"))
        if ADJECTIVES[np.adj].de:
            out.append(("的", p + "ade"))
    tokens = _NOUNS[np.head].tokens
    return out + [(tok, p + "h" + (str(k) if k else "")) for k, tok in enumerate(tokens)]


def en_np(np: NP, p: str, case: str) -> En:
    """English noun phrase; `case` is subj or obj (pronouns).  Measure words are dropped, except
    containers of mass nouns ("三 杯 茶" -> "three cups of tea")."""
    if np.kind == "pron":
        return [(getattr(PRONOUNS[np.head], case), (p + "h",))]
    if np.kind == "name":
        return [(NAMES.get(np.head, np.head), (p + "h",))]
    if np.kind == "place":
        return _words(_PLACES[np.head].np, p + "h")
    noun = _NOUNS[np.head]
    plural = (np.det == "bare" and not noun.mass) or (np.det == "num" and np.num not in ("一", "1"))
    out: En = []
    if np.det == "the":
        out.append(("the", ()))
    elif np.det == "poss":
        out += en_possessor(np.poss, p + "p.", p + "de")
    elif np.det == "dem":
        out.append((DEMONSTRATIVES[np.dem], (p + "d",)))
    elif np.det == "num":
        out.append((NUMBERS.get(np.num, np.num), (p + "d",)))  # digits stay digits
    if noun.container and np.det in ("num", "dem"):
        out += [(noun.container[plural], (p + "m",)), ("of", ())]
    if np.adj:
        out.append((ADJECTIVES[np.adj].en, (p + "a",)))
    out += _head_words(noun.pl if plural else noun.sg, len(noun.tokens), p + "h")
    if np.det == "num" and np.num == "一":  # "a" or "an" depends on the next word's sound
        out[0] = ("an" if out[1][0][0] in "aeiou" else "a", out[0][1])
    return out


def _head_words(words: tuple[str, ...], n_tokens: int, key: str) -> En:
    """A noun's English words; a noun of several Chinese tokens aligns word k to token k
    (机器 -> "machine", 学习 -> "learning"), otherwise every word to the one token."""
    if n_tokens == len(words) > 1:
        return [(w, (key + (str(k) if k else ""),)) for k, w in enumerate(words)]
    return _words(words, key)


def en_possessor(np: NP, p: str, de: str) -> En:
    """my / xiaoming 's / the teacher 's: 的 becomes the possessive form or "'s"."""
    if np.kind == "pron":
        return [(PRONOUNS[np.head].poss, (p + "h", de))]
    return en_np(np, p, "obj") + [("'s", (de,))]


def np_classes(np: NP) -> frozenset[str]:
    """Semantic classes of a noun phrase's head (pronouns and names are people)."""
    if np.kind == "place":
        return _PLACES[np.head].tags | {"place"}
    if np.kind == "noun":
        return _NOUNS[np.head].classes
    return frozenset({"person"})


def _agreement(subj: NP) -> tuple[str, str, str]:
    """(be, do, have) agreeing with the subject; the -s form is used when do == "does"."""
    if subj.kind == "pron":
        pron = PRONOUNS[subj.head]
        if pron.person == 1 and not pron.plural:
            return "am", "do", "have"
        if pron.plural or pron.person == 2:
            return "are", "do", "have"
    return "is", "does", "has"


def zh_clause(c: Clause, p: str) -> Zh:
    """Chinese order: S [time] [经常] [不/没/会/正在] [在 P] [给 B] V [了/过] O [吗]; or
    S [不] 比 Y ADJ [吗]; or S 很/不 ADJ, S ADJ 吗."""
    out = zh_np(c.subj, p + "s.")
    if c.pred_adj:  # 很 links a positive predicate, 不 negates it, 吗 asks
        if c.question:
            return out + [(c.pred_adj, p + "a"), ("吗", p + "q")]
        link = ("不", p + "neg") if c.aspect.startswith("neg") else ("很", p + "hen")
        return out + [link, (c.pred_adj, p + "a")]
    if c.cmp_adj:  # 不 before 比 negates a comparative: 他 不 比 你 高
        if c.aspect.startswith("neg"):
            out.append(("不", p + "neg"))
        out += [("比", p + "bi")] + zh_np(c.cmp_std, p + "c.") + [(c.cmp_adj, p + "a")]
        return out + ([("吗", p + "q")] if c.question else [])
    if c.time:
        out.append((c.time, p + "t"))
    if c.often:
        out.append(("经常", p + "often"))
    out += [(tok, p + key) for tok, key in _ZH_MARKERS.get(c.aspect, [])]
    if c.place and c.aspect != "progressive":  # 正在 already contains 在: 他 正在 图书馆 看 书
        out.append(("在", p + "zai"))
    if c.place:
        out.append((c.place, p + "pl"))
    if c.bene:
        out += [("给", p + "gei")] + zh_np(c.bene, p + "b.")
    out.append((c.verb, p + "v"))
    if c.aspect == "past":
        out.append(("了", p + "le"))
    elif c.aspect.endswith("perfect"):
        out.append(("过", p + "guo"))
    out += zh_np(c.obj, p + "o.")
    return out + ([("吗", p + "q")] if c.question else [])


def _verb_group(c: Clause, p: str, do: str) -> tuple[En, En]:
    """(auxiliaries, verb words): English tense/aspect from 了/没/会/正在/过/不 and 吗."""
    verb = VERBS[c.verb]
    sense = EN_VERBS[verb.senses[min(np_classes(c.obj) & verb.senses.keys())]]
    be, _, have = _agreement(c.subj)
    q = (p + "q",) if c.question else ()
    neg = (p + "neg",)
    aux, form = {
        "present": ([(do, q)] if q else [], sense.base if q or do == "do" else sense.s),
        "neg_present": ([(do, neg), ("not", neg)], sense.base),
        "past": ([("did", (p + "le",) + q)] if q else [], sense.base if q else sense.past),
        "neg_past": ([("did", neg), ("not", neg)], sense.base),
        "future": ([("will", (p + "hui",) + q)], sense.base),
        "neg_future": ([("will", (p + "hui",)), ("not", neg)], sense.base),
        "progressive": ([(be, (p + "prog",) + q)], sense.ing),
        "perfect": ([(have, (p + "guo",) + q)], sense.pp),
        "neg_perfect": ([(have, (p + "guo",)), ("not", neg)], sense.pp),
    }[c.aspect]
    return aux, [(w, (p + "v",)) for w in form]


def en_clause(c: Clause, p: str) -> En:
    """[Aux] S [often] V O [for/to B] [place] [time]: English order, inverted in questions."""
    be, do, _ = _agreement(c.subj)
    subj = en_np(c.subj, p + "s.", "subj")
    if c.pred_adj:
        adj = [(ADJECTIVES[c.pred_adj].en, (p + "a",))]
        if c.question:
            return [(be, (p + "q",))] + subj + adj
        if c.aspect.startswith("neg"):
            return subj + [(be, ()), ("not", (p + "neg",))] + adj
        return subj + [(be, (p + "hen",))] + adj
    if c.cmp_adj:
        adj = ADJECTIVES[c.cmp_adj]
        cls = min(np_classes(c.subj) & adj.cmp.keys())
        rest = _words(adj.cmp[cls], p + "a") + [("than", (p + "bi",))]
        rest += en_np(c.cmp_std, p + "c.", "obj")
        if c.question:
            return [(be, (p + "q",))] + subj + rest
        if c.aspect.startswith("neg"):
            return subj + [(be, ()), ("not", (p + "neg",))] + rest
        return subj + [(be, ())] + rest
    aux, verb = _verb_group(c, p, do)
    often = [("often", (p + "often",))] if c.often else []
    head = aux + subj if c.question else subj + aux
    out = head + often + verb + en_np(c.obj, p + "o.", "obj")
    if c.bene:
        out += [(VERBS[c.verb].bene, (p + "gei",))] + en_np(c.bene, p + "b.", "obj")
    if c.place:
        prep, *rest = _PLACES[c.place].at
        out += [(prep, (p + "zai", p + "prog"))] + _words(tuple(rest), p + "pl")
    if c.time:
        out += _words(TIMES[c.time][0], p + "t")
    return out
