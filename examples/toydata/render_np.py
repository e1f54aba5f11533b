"""Render noun phrases into Chinese and English tokens with alignment keys (see render.py).

Every Chinese token gets a unique key ("0.s.h" = clause 0, subject, head); every English token
lists the keys it translates; "the" has none.
"""

from __future__ import annotations

from .everyday_words import EVERYDAY_ADJECTIVES, EVERYDAY_VERBS, NATIONALITIES, WEATHER
from .grammar import NP
from .lexicon import (
    DEMONSTRATIVES,
    NAMES,
    NOUNS,
    NUMBERS,
    PLACES,
    PRONOUNS,
    UNSEEN_NOUNS,
    UNSEEN_PLACES,
)
from .verbs import ADJECTIVES, VERBS

# The unseen words of test_unk render like the others; names and digits are their own English.
# So do the everyday words (everyday_words.py), which only the everyday sampler draws.
NOUNS_ALL = {**NOUNS, **UNSEEN_NOUNS, WEATHER.zh: WEATHER}
PLACES_ALL = {**PLACES, **UNSEEN_PLACES}
VERBS_ALL = {**VERBS, **EVERYDAY_VERBS}
ADJECTIVES_ALL = {**ADJECTIVES, **EVERYDAY_ADJECTIVES}
_STANDALONE = {**DEMONSTRATIVES, **NATIONALITIES}  # NP kinds dem and nat: 这 -> "this"

Zh = list[tuple[str, str]]  # (token, key)
En = list[tuple[str, tuple[str, ...]]]  # (token, keys of the source tokens it translates)


def en_words(words: tuple[str, ...], *keys: str) -> En:
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
        out += [(np.num or np.dem, p + "d"), (NOUNS_ALL[np.head].measure, p + "m")]
    if np.adj:
        out.append((np.adj, p + "a"))
        if ADJECTIVES_ALL[np.adj].de:
            out.append(("的", p + "ade"))
    tokens = NOUNS_ALL[np.head].tokens
    return out + [(tok, p + "h" + (str(k) if k else "")) for k, tok in enumerate(tokens)]


def en_np(np: NP, p: str, case: str) -> En:
    """English noun phrase; `case` is subj or obj (pronouns).  Measure words are dropped, except
    containers of mass nouns ("三 杯 茶" -> "three cups of tea")."""
    if np.kind == "pron":
        return [(getattr(PRONOUNS[np.head], case), (p + "h",))]
    if np.kind == "name":
        return [(NAMES.get(np.head, np.head), (p + "h",))]
    if np.kind in ("dem", "nat"):
        return [(_STANDALONE[np.head], (p + "h",))]
    if np.kind == "place":
        return en_words(PLACES_ALL[np.head].np, p + "h")
    noun = NOUNS_ALL[np.head]
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
        out.append((ADJECTIVES_ALL[np.adj].en, (p + "a",)))
    out += head_words(noun.pl if plural else noun.sg, len(noun.tokens), p + "h")
    if np.det == "num" and np.num == "一":  # "a" or "an" depends on the next word's sound
        out[0] = ("an" if out[1][0][0] in "aeiou" else "a", out[0][1])
    return out


def head_words(words: tuple[str, ...], n_tokens: int, key: str) -> En:
    """A noun's English words; a noun of several Chinese tokens aligns word k to token k
    (机器 -> "machine", 学习 -> "learning"), otherwise every word to the one token."""
    if n_tokens == len(words) > 1:
        return [(w, (key + (str(k) if k else ""),)) for k, w in enumerate(words)]
    return en_words(words, key)


def en_possessor(np: NP, p: str, de: str) -> En:
    """my / xiaoming 's / the teacher 's: 的 becomes the possessive form or "'s"."""
    if np.kind == "pron":
        return [(PRONOUNS[np.head].poss, (p + "h", de))]
    return en_np(np, p, "obj") + [("'s", (de,))]


def np_classes(np: NP) -> frozenset[str]:
    """Semantic classes of a noun phrase's head (pronouns and names are people)."""
    if np.kind == "place":
        return PLACES_ALL[np.head].tags | {"place"}
    if np.kind == "noun":
        return NOUNS_ALL[np.head].classes
    return frozenset({"person"})


def agreement(subj: NP) -> tuple[str, str, str]:
    """(be, do, have) agreeing with the subject; the -s form is used when do == "does"."""
    if subj.kind == "pron":
        pron = PRONOUNS[subj.head]
        if pron.person == 1 and not pron.plural:
            return "am", "do", "have"
        if pron.plural or pron.person == 2:
            return "are", "do", "have"
    return "is", "does", "has"


def en_complement(np: NP, subj: NP, p: str) -> En:
    """The copula's complement: a bare count noun is "a teacher" after a singular subject
    ("teachers" after 我们 / 他们); everything else as any noun phrase."""
    noun = NOUNS_ALL.get(np.head) if np.kind == "noun" else None
    plural = subj.kind == "pron" and PRONOUNS[subj.head].plural
    if noun is None or np.det != "bare" or noun.mass or plural:
        return en_np(np, p, "obj")
    article = "an" if noun.sg[0][0] in "aeiou" else "a"
    return [(article, ())] + head_words(noun.sg, len(noun.tokens), p + "h")
