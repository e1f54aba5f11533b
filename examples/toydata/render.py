"""Render an abstract sentence into Chinese and English tokens with gold alignments.

Every Chinese token gets a unique key ("0.s.h" = clause 0, subject, head); every English token
lists the keys it translates.  After rendering, keys become Chinese token indices, so each target
token knows its source tokens.  Function words with no source ("the", "of", the copula of a 比
statement) get an empty alignment.
"""

from __future__ import annotations

from .everyday_words import PHRASES, TITLES
from .grammar import Clause
from .lexicon import NAMES, PRONOUNS, TIMES
from .render_np import (
    ADJECTIVES_ALL,
    PLACES_ALL,
    VERBS_ALL,
    En,
    Zh,
    agreement,
    en_complement,
    en_np,
    en_words,
    np_classes,
    zh_np,
)
from .verbs import EN_VERBS

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
        if i:  # "A ， B" -> "A , and B"; after a fixed phrase just "," (你好 ， 我 是 大卫)
            zh.append(("，", "conj"))
            en += [(",", ("conj",))] + ([] if sentence[i - 1].phrase else [("and", ("conj",))])
        zh += zh_clause(clause, f"{i}.")
        en += en_clause(clause, f"{i}.")
    if sentence[-1].phrase:  # a fixed phrase brings its own mark, if any (你好 吗 ？)
        return _aligned(zh, en)
    question = sentence[-1].question
    zh.append(("？" if question else "。", "end"))
    en.append(("?" if question else ".", ("end",)))
    return _aligned(zh, en)


def _aligned(zh: Zh, en: En) -> tuple[list[str], list[str], list[list[int]]]:
    """Keys -> Chinese token indices: (Chinese tokens, English tokens, alignment)."""
    index = {key: i for i, (_, key) in enumerate(zh)}
    align = [sorted(index[k] for k in keys if k in index) for _, keys in en]
    return [t for t, _ in zh], [t for t, _ in en], align


def zh_clause(c: Clause, p: str) -> Zh:
    """Chinese order: S [time] [也] [经常] [不/没/会/正在] [在 P] [给 B] V [了/过] O [吗]; or
    S [不] 比 Y ADJ [吗]; or [time] S [也] 很/非常/不 ADJ, [time] S [也] ADJ 吗; or
    S [也] [不] 是/叫 C [吗]; or a fixed phrase [， address]."""
    if c.phrase:
        return _phrase(c, p)[0]
    before = [(c.time, p + "t")] if c.time and c.pred_adj else []  # 今天 天气 很 好
    out = before + zh_np(c.subj, p + "s.")
    also = [("也", p + "also")] if c.also else []
    neg = [("不", p + "neg")] if c.aspect.startswith("neg") else []
    ask = [("吗", p + "q")] if c.question else []
    if c.copula or c.called:
        comp = zh_np(c.copula, p + "c.") if c.copula else [(c.called, p + "n")]
        return out + also + neg + [("是" if c.copula else "叫", p + "cop")] + comp + ask
    if c.pred_adj:  # 很 (or 非常, "very") links a positive predicate, 不 negates it, 吗 asks
        if c.question:
            return out + also + [(c.pred_adj, p + "a")] + ask
        link = neg or [("非常", p + "very") if c.very else ("很", p + "hen")]
        return out + also + link + [(c.pred_adj, p + "a")]
    if c.cmp_adj:  # 不 before 比 negates a comparative: 他 不 比 你 高
        if c.aspect.startswith("neg"):
            out.append(("不", p + "neg"))
        out += [("比", p + "bi")] + zh_np(c.cmp_std, p + "c.") + [(c.cmp_adj, p + "a")]
        return out + ([("吗", p + "q")] if c.question else [])
    if c.time:
        out.append((c.time, p + "t"))
    out += also
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
    verb = VERBS_ALL[c.verb]
    sense = EN_VERBS[verb.senses[min(np_classes(c.obj) & verb.senses.keys())]]
    be, _, have = agreement(c.subj)
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
    """[Aux] S [also] [often] V O [for/to B] [place] [time]: English order, inverted in
    questions; predicates, comparatives, the copula and fixed phrases as their Chinese."""
    if c.phrase:
        return _phrase(c, p)[1]
    be, do, _ = agreement(c.subj)
    subj = en_np(c.subj, p + "s.", "subj")
    also = [("also", (p + "also",))] if c.also else []
    if c.copula or c.called:
        return _en_copula(c, p, subj, be, also)
    if c.pred_adj:
        return _en_predicate(c, p, subj, be, also)
    if c.cmp_adj:
        adj = ADJECTIVES_ALL[c.cmp_adj]
        cls = min(np_classes(c.subj) & adj.cmp.keys())
        rest = en_words(adj.cmp[cls], p + "a") + [("than", (p + "bi",))]
        rest += en_np(c.cmp_std, p + "c.", "obj")
        if c.question:
            return [(be, (p + "q",))] + subj + rest
        if c.aspect.startswith("neg"):
            return subj + [(be, ()), ("not", (p + "neg",))] + rest
        return subj + [(be, ())] + rest
    aux, verb = _verb_group(c, p, do)
    often = [("often", (p + "often",))] if c.often else []
    head = aux + subj if c.question else subj + aux
    out = head + also + often + verb + en_np(c.obj, p + "o.", "obj")
    if c.bene:
        out += [(VERBS_ALL[c.verb].bene, (p + "gei",))] + en_np(c.bene, p + "b.", "obj")
    if c.place:
        prep, *rest = PLACES_ALL[c.place].at
        out += [(prep, (p + "zai", p + "prog"))] + en_words(tuple(rest), p + "pl")
    if c.time:
        out += en_words(TIMES[c.time][0], p + "t")
    return out


def _en_predicate(c: Clause, p: str, subj: En, be: str, also: En) -> En:
    """S is [also] [very / not] ADJ [time], or is S [also] ADJ [time] ?: 他 很 高 -> "he is
    tall"; 今天 天气 非常 好 -> "the weather is very good today"."""
    adj = [(ADJECTIVES_ALL[c.pred_adj].en, (p + "a",))]
    time = en_words(TIMES[c.time][0], p + "t") if c.time else []
    if c.question:
        return [(be, (p + "q",))] + subj + also + adj + time
    if c.aspect.startswith("neg"):
        return subj + [(be, ()), ("not", (p + "neg",))] + adj + time
    if c.very:
        return subj + [(be, ())] + also + [("very", (p + "very",))] + adj + time
    return subj + [(be, (p + "hen",))] + also + adj + time


def _en_copula(c: Clause, p: str, subj: En, be: str, also: En) -> En:
    """是: "he is [also] [not] a teacher", "is this your book ?"; 叫: 我 叫 大卫 -> "my name
    is david", 你 叫 玛丽 吗 ？ -> "is your name mary ?"."""
    if c.called:  # the subject is a pronoun: its possessive, then "name"
        subj = [(PRONOUNS[c.subj.head].poss, (p + "s.h",)), ("name", (p + "cop",))]
        be, comp = "is", [(NAMES.get(c.called, c.called), (p + "n",))]
    else:
        comp = en_complement(c.copula, c.subj, p + "c.")
    if c.question:
        return [(be, (p + "q", p + "cop"))] + subj + also + comp
    neg = [("not", (p + "neg",))] if c.aspect.startswith("neg") else []
    return subj + [(be, (p + "cop",))] + also + neg + comp


def _phrase(c: Clause, p: str) -> tuple[Zh, En]:
    """A fixed phrase, and the person addressed after a comma (你好 ， 老师 -> "hello ,
    teacher")."""
    phrase = PHRASES[c.phrase]
    zh = [(tok, f"{p}f{k}") for k, tok in enumerate(phrase.zh)]
    en = [(word, tuple(f"{p}f{k}" for k in keys)) for word, keys in phrase.en]
    if c.address:
        name = NAMES.get(c.address.head) or TITLES[c.address.head]
        zh += [("，", p + "comma"), (c.address.head, p + "ad")]
        en += [(",", (p + "comma",)), (name, (p + "ad",))]
    return zh, en
