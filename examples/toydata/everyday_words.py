"""The words of a first Chinese lesson: greetings and thanks as fixed phrases, 爱 (love), the
copula 是 and 叫 (to be called), 好 / 冷 / 暖和 as predicates, 天气, the intensifier 非常, 也
and three nationalities.

They are kept apart from lexicon.py and verbs.py so that the sampler of the original grammar,
and every split it built, stays byte for byte as it was: only the everyday sampler
(everyday.py) draws them, and render.py renders them like every other word.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexicon import Noun
from .verbs import Adjective, Verb


@dataclass(frozen=True)
class Phrase:
    """A fixed phrase: Chinese tokens, English words each with the phrase tokens it translates,
    and whether a name or title may follow as the person addressed (你好 ， 小明)."""

    zh: tuple[str, ...]
    en: tuple[tuple[str, tuple[int, ...]], ...]
    address: bool


# zh tokens ('_' between) | English words ('_' between; ":i,j" the tokens a word translates,
# default every token but punctuation) | 'address' if a name or title may follow
_PHRASES = """
你好 hello address
你好_吗_？ how:1_are:1_you:0_?:2 -
早上好 good_morning address
晚上好 good_evening address
晚安 good_night address
谢谢 thank_you address
谢谢_你 thank:0_you:1 -
不客气 you_are_welcome -
对不起 sorry -
没关系 it_does_not_matter -
再见 goodbye address
明天见 see_you_tomorrow -
欢迎 welcome -
"""


def _parse_phrase(line: str) -> Phrase:
    zh_text, en_text, address = line.split()
    zh = tuple(zh_text.split("_"))
    words = tuple(i for i, tok in enumerate(zh) if tok not in ("？", "。"))
    en = []
    for word in en_text.split("_"):
        text, _, keys = word.partition(":")
        en.append((text, tuple(int(k) for k in keys.split(",")) if keys else words))
    return Phrase(zh, tuple(en), address == "address")


PHRASES: dict[str, Phrase] = {
    "".join(p.zh): p for p in map(_parse_phrase, _PHRASES.strip().splitlines())
}
# Who a greeting may address besides the names: 老师 -> "teacher", 妈妈 -> "mom".
TITLES: dict[str, str] = {"老师": "teacher", "妈妈": "mom", "爸爸": "dad"}

# 爱 takes people, animals, music and subjects ("i love you", "she loves cats").
EVERYDAY_VERBS: dict[str, Verb] = {
    "爱": Verb(
        "爱",
        dict.fromkeys(("person", "animal", "music", "subject"), "love"),
        frozenset(),
        stative=True,
        progressive=False,
    )
}

_GOOD_OF = "song item food weather"
# Predicate adjectives only: 这 首 歌 很 好 -> "this song is good", 天气 很 冷.
EVERYDAY_ADJECTIVES: dict[str, Adjective] = {
    a.zh: a
    for a in (
        Adjective(
            "好",
            "good",
            frozenset(),
            {},
            False,
            frozenset("readable watchable song item weather".split()),
        ),
        Adjective("冷", "cold", frozenset(), {}, False, frozenset({"weather", "drink"})),
        Adjective("暖和", "warm", frozenset(), {}, False, frozenset({"weather"})),
    )
}
WEATHER = Noun("天气", ("weather",), ("weather",), "-", frozenset({"weather"}), None, ("天气",))
WEATHER_ADJECTIVES = ("好", "冷", "热", "暖和")  # 热 "hot" is the lexicon's
WEATHER_TIMES = ("今天", "现在")  # said in the present: 今天 天气 很 好 -> "... good today"

# The copula's complement as a nationality: 我 是 中国人 -> "i am chinese".
NATIONALITIES: dict[str, str] = {"中国人": "chinese", "美国人": "american", "英国人": "british"}

# Grammatical words: the copula, 叫 (is called), 也 (also), 非常 (very).
FUNCTION_WORDS_EVERYDAY = ("是", "叫", "也", "非常")
# Every new entry, for the README's list and the grammar tests.
ENTRIES = (
    tuple(PHRASES)
    + tuple(EVERYDAY_VERBS)
    + tuple(EVERYDAY_ADJECTIVES)
    + (WEATHER.zh,)
    + tuple(NATIONALITIES)
    + FUNCTION_WORDS_EVERYDAY
)
