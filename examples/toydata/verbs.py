"""Verbs and adjectives of the lexicon, with English morphology written out in full.

A Chinese verb may have several English senses chosen by its object's semantic class: this is
how the polysemous 看 becomes "read" (books), "watch" (movies) or "look at" (cats, flowers).
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexicon import _words


@dataclass(frozen=True)
class EnVerb:
    """English verb forms; a particle ("look at", "wait for") is part of every form."""

    base: tuple[str, ...]
    s: tuple[str, ...]
    past: tuple[str, ...]
    ing: tuple[str, ...]
    pp: tuple[str, ...]


# base | 3rd person singular | past | -ing | past participle
_EN_VERBS = """
read reads read reading read
watch watches watched watching watched
look_at looks_at looked_at looking_at looked_at
buy buys bought buying bought
eat eats ate eating eaten
drink drinks drank drinking drunk
write writes wrote writing written
study studies studied studying studied
teach teaches taught teaching taught
like likes liked liking liked
make makes made making made
see sees saw seeing seen
help helps helped helping helped
wait_for waits_for waited_for waiting_for waited_for
look_for looks_for looked_for looking_for looked_for
sell sells sold selling sold
borrow borrows borrowed borrowing borrowed
use uses used using used
go_to goes_to went_to going_to been_to
draw draws drew drawing drawn
wash washes washed washing washed
listen_to listens_to listened_to listening_to listened_to
sing sings sang singing sung
fix fixes fixed fixing fixed
ride rides rode riding ridden
know knows knew knowing known
visit visits visited visiting visited
clean cleans cleaned cleaning cleaned
feed feeds fed feeding fed
send sends sent sending sent
film films filmed filming filmed
take_photos_of takes_photos_of took_photos_of taking_photos_of taken_photos_of
love loves loved loving loved
"""

EN_VERBS: dict[str, EnVerb] = {
    forms[0]: EnVerb(*(_words(f) for f in forms))
    for forms in (line.split() for line in _EN_VERBS.strip().splitlines())
}


@dataclass(frozen=True)
class Verb:
    """A Chinese verb: English sense per object class, place tags it accepts, the preposition of
    a 给-benefactive ("for"/"to", None if not allowed), and whether it is stative (no aspect
    markers other than 不, no progressive)."""

    zh: str
    senses: dict[str, str]
    place_tags: frozenset[str]
    bene: str | None = None
    stative: bool = False
    progressive: bool = True


# zh | object classes=English base (';' separated) | place tags | flags
_VERBS = """
看 readable=read;watchable=watch;animal,plant=look_at study,leisure,home -
买 food,drink,item,clothes,vehicle,readable,plant=buy shop,city bene=for
吃 food=eat eat -
喝 drink=drink eat -
写 writable=write study,home bene=for
学习 subject=study study -
教 subject=teach study -
喜欢 food,drink,animal,plant,subject,readable,watchable,song,music=like - stative
做 makeable=make eat bene=for
看见 person,animal=see leisure,shop,study,city,work noprog
帮助 person=help work,study,home,shop -
等 person=wait_for leisure,study,shop,work -
找 item,clothes,person,animal=look_for home,study,shop,leisure -
卖 food,item,readable,plant,clothes=sell shop,city -
借 readable,item=borrow study -
用 item=use study,work,home -
去 place=go_to - -
画 animal,plant=draw outdoor,study,home bene=for
洗 washable=wash home -
听 song,music=listen_to leisure,home -
唱 song=sing leisure,study bene=for
修 fixable=fix home,work -
骑 rideable=ride outdoor,city -
认识 person=know - stative
参观 visitable=visit - -
打扫 cleanable=clean - -
喂 animal=feed home,outdoor -
寄 sendable=send city bene=to
拍 filmable=film;readable,animal,plant=take_photos_of outdoor,city,study bene=for
"""


def _parse_verb(line: str) -> Verb:
    zh, senses_text, tags, flags = line.split()
    senses = {}
    for part in senses_text.split(";"):
        classes, base = part.split("=")
        for cls in classes.split(","):
            senses[cls] = base
    bene = flags[5:] if flags.startswith("bene=") else None
    tag_set = frozenset() if tags == "-" else frozenset(tags.split(","))
    return Verb(zh, senses, tag_set, bene, flags == "stative", flags not in ("stative", "noprog"))


VERBS: dict[str, Verb] = {v.zh: v for v in map(_parse_verb, _VERBS.strip().splitlines())}


@dataclass(frozen=True)
class Adjective:
    """An adjective: attributive use on noun classes (`attr`), comparative forms per class of
    the compared things (`cmp`; 大 is "older" for people but "bigger" for things), whether
    the attributive use needs 的 ("一 本 有意思 的 书"), and the classes it is said of as a
    predicate (`pred`: 他 很 高 -> "he is tall"; attributive classes, plus people where `en`
    fits them: 大 is not "big" for a person)."""

    zh: str
    en: str
    attr: frozenset[str]
    cmp: dict[str, tuple[str, ...]]
    de: bool
    pred: frozenset[str] = frozenset()


# zh | English | attributive classes | comparative: classes=form (';') | 的? | predicate of people?
_ADJECTIVES = """
新 new readable,item,clothes,vehicle,filmable readable,item,clothes,vehicle,filmable=newer - -
旧 old readable,item,clothes,vehicle,filmable readable,item,clothes,vehicle,filmable=older - -
大 big item,vehicle,animal item,vehicle,animal=bigger;person=older - -
小 small item,vehicle,animal item,vehicle,animal=smaller;person=younger - -
红 red plant,clothes,item,vehicle - - -
白 white plant,clothes,vehicle - - -
热 hot drink - - -
贵 expensive item,clothes,vehicle,readable item,clothes,vehicle,readable=more_expensive de -
便宜 cheap item,clothes,vehicle,readable item,clothes,vehicle,readable=cheaper de -
有意思 interesting readable,watchable readable,watchable=more_interesting de -
好吃 delicious food food=more_delicious de -
漂亮 beautiful plant,clothes plant,clothes,person=more_beautiful de person
聪明 smart person person=smarter de person
高 tall - person=taller - person
矮 short - person=shorter - person
忙 busy - person=busier - person
"""


def _parse_adjective(line: str) -> Adjective:
    zh, en, attr, cmp_text, de, of_people = line.split()
    cmp = {}
    if cmp_text != "-":
        for part in cmp_text.split(";"):
            classes, form = part.split("=")
            for cls in classes.split(","):
                cmp[cls] = _words(form)
    attr_set = frozenset() if attr == "-" else frozenset(attr.split(","))
    pred = attr_set | ({"person"} if of_people == "person" else set())
    return Adjective(zh, en, attr_set, cmp, de == "de", frozenset(pred))


ADJECTIVES: dict[str, Adjective] = {
    a.zh: a for a in map(_parse_adjective, _ADJECTIVES.strip().splitlines())
}
