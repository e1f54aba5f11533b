"""The bilingual lexicon: every Chinese word with its English forms and semantic classes.

Tables are plain text (one entry a line, `_` joins English words that form one entry, e.g.
`machine_learning`) parsed once at import.  Semantic classes on nouns ("readable", "drink",
"person", ...) let each verb choose sensible objects and each adjective sensible nouns.
"""

from __future__ import annotations

from dataclasses import dataclass


def _words(text: str) -> tuple[str, ...]:
    """'the_day_before' -> ('the', 'day', 'before'); '-' -> ()."""
    return () if text == "-" else tuple(text.split("_"))


@dataclass(frozen=True)
class Noun:
    """A noun: things, people and study subjects.  `container` is set for mass nouns whose
    measure word is translated ("一 杯 茶" -> "a cup of tea"); other measure words are dropped.
    `tokens` is the noun as Chinese tokens: 机器学习 is two, 机器 + 学习, one per English word,
    as in docs/self_attention.md (and 学习 alone is also the verb "study")."""

    zh: str
    sg: tuple[str, ...]
    pl: tuple[str, ...]
    measure: str
    classes: frozenset[str]
    container: tuple[str, str] | None = None
    tokens: tuple[str, ...] = ()

    @property
    def mass(self) -> bool:
        return self.sg == self.pl


# zh ('_' between tokens) | singular | plural ('=' for a mass noun) | measure word ('-' none) |
# classes ("filmable": what 拍 can film, so that 电影 is seen with a verb only films take)
_NOUNS = """
书 book books 本 readable
杂志 magazine magazines 本 readable
报纸 newspaper newspapers 份 readable
小说 novel novels 本 readable,writable
词典 dictionary dictionaries 本 readable
信 letter letters 封 readable,writable,sendable
文章 article articles 篇 readable,writable
诗 poem poems 首 readable,writable
电影 movie movies 部 watchable,filmable
比赛 match matches 场 watchable,filmable
节目 show shows 个 watchable,filmable
视频 video videos 个 watchable,filmable
纪录片 documentary documentaries 部 watchable,filmable
电视 tv = - watchable
苹果 apple apples 个 food
香蕉 banana bananas 根 food
鸡蛋 egg eggs 个 food
橙子 orange oranges 个 food
蛋糕 cake cakes 个 food,makeable
饺子 dumpling dumplings 个 food,makeable
面包 bread = 块 food
面条 noodles = 碗 food,makeable
米饭 rice = 碗 food
茶 tea = 杯 drink
咖啡 coffee = 杯 drink
牛奶 milk = 杯 drink
水 water = 瓶 drink
果汁 juice = 瓶 drink
笔 pen pens 支 item
手机 phone phones 部 item,fixable
电脑 computer computers 台 item,fixable
包 bag bags 个 item
伞 umbrella umbrellas 把 item,fixable
礼物 gift gifts 个 item,sendable
衬衫 shirt shirts 件 clothes,washable
鞋 shoes = 双 clothes,washable
帽子 hat hats 顶 clothes
自行车 bike bikes 辆 vehicle,fixable,washable,rideable
汽车 car cars 辆 vehicle,fixable,washable
猫 cat cats 只 animal
狗 dog dogs 只 animal
鸟 bird birds 只 animal
鱼 fish fish 条 animal
马 horse horses 匹 animal,rideable
花 flower flowers 朵 plant
歌 song songs 首 song
音乐 music = - music,subject
数学 math = - subject
历史 history = - subject
中文 chinese = - subject
英语 english = - subject
物理 physics = - subject
化学 chemistry = - subject
机器_学习 machine_learning = - subject
老师 teacher teachers 个 person
学生 student students 个 person
医生 doctor doctors 个 person
朋友 friend friends 个 person
孩子 child children 个 person
人 person people 个 person,numbered_only
同学 classmate classmates 个 person
经理 manager managers 个 person
工程师 engineer engineers 个 person
邻居 neighbor neighbors 个 person
护士 nurse nurses 个 person
妈妈 mother mothers 个 person,kin
爸爸 father fathers 个 person,kin
哥哥 brother brothers 个 person,kin
姐姐 sister sisters 个 person,kin
"""

# measure word | English container singular | plural (only measures that are translated)
_CONTAINERS = {
    "杯": ("cup", "cups"),
    "瓶": ("bottle", "bottles"),
    "碗": ("bowl", "bowls"),
    "块": ("piece", "pieces"),
    "双": ("pair", "pairs"),
}


def _parse_nouns(table: str) -> dict[str, Noun]:
    nouns = {}
    for line in table.strip().splitlines():
        zh_tokens, sg, pl, measure, classes = line.split()
        zh = zh_tokens.replace("_", "")
        sg_words = _words(sg)
        nouns[zh] = Noun(
            zh,
            sg_words,
            sg_words if pl == "=" else _words(pl),
            measure,
            frozenset(classes.split(",")),
            _CONTAINERS.get(measure),
            tuple(zh_tokens.split("_")),
        )
    return nouns


NOUNS: dict[str, Noun] = _parse_nouns(_NOUNS)


@dataclass(frozen=True)
class Pronoun:
    """A personal pronoun with its three English cases; person 1/2/3."""

    zh: str
    subj: str
    obj: str
    poss: str
    person: int
    plural: bool


PRONOUNS: dict[str, Pronoun] = {
    p.zh: p
    for p in (
        Pronoun("我", "i", "me", "my", 1, False),
        Pronoun("你", "you", "you", "your", 2, False),
        Pronoun("他", "he", "him", "his", 3, False),
        Pronoun("她", "she", "her", "her", 3, False),
        Pronoun("我们", "we", "us", "our", 1, True),
        Pronoun("他们", "they", "them", "their", 3, True),
    )
}

NAMES: dict[str, str] = {"小明": "xiaoming", "小红": "xiaohong", "大卫": "david", "玛丽": "mary"}


@dataclass(frozen=True)
class Place:
    """A place: the English locative phrase for "在 X" and the noun phrase for "去 X"."""

    zh: str
    at: tuple[str, ...]
    np: tuple[str, ...]
    tags: frozenset[str]


# zh | locative phrase | noun phrase ('-': cannot be an object) | tags (verbs choose by tag)
_PLACES = """
图书馆 in_the_library the_library study,visitable,cleanable
学校 at_school the_school study,eat,work,visitable,cleanable
家 at_home - study,eat,home,leisure
公园 in_the_park the_park leisure,eat,visitable,outdoor
商店 in_the_shop the_shop shop,cleanable
饭馆 in_the_restaurant the_restaurant eat
咖啡馆 in_the_cafe the_cafe eat,study,leisure
办公室 in_the_office the_office work,study,cleanable
超市 at_the_supermarket the_supermarket shop
教室 in_the_classroom the_classroom study,cleanable
医院 at_the_hospital the_hospital work,visitable
博物馆 in_the_museum the_museum visitable,leisure
北京 in_beijing beijing city,shop,visitable
上海 in_shanghai shanghai city,shop,visitable
"""

PLACES: dict[str, Place] = {
    zh: Place(zh, _words(at), _words(np), frozenset(tags.split(",")))
    for zh, at, np, tags in (line.split() for line in _PLACES.strip().splitlines())
}

# zh | English | aspects it combines with
_TIMES = """
昨天 yesterday past
前天 the_day_before_yesterday past
上星期 last_week past
去年 last_year past
今天 today past,future
明天 tomorrow future
后天 the_day_after_tomorrow future
下星期 next_week future
明年 next_year future
每天 every_day present
周末 on_weekends present
现在 now progressive
"""

TIMES: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    zh: (_words(en), frozenset(kinds.split(",")))
    for zh, en, kinds in (line.split() for line in _TIMES.strip().splitlines())
}

NUMBERS: dict[str, str] = {
    "一": "a",
    "两": "two",
    "三": "three",
    "四": "four",
    "五": "five",
    "六": "six",
    "七": "seven",
    "八": "eight",
    "九": "nine",
    "十": "ten",
}

DEMONSTRATIVES: dict[str, str] = {"这": "this", "那": "that"}

# Grammatical words of the Chinese side (aspect, prepositions, particles, punctuation).
FUNCTION_WORDS_ZH = (
    "了",
    "过",
    "没",
    "不",
    "会",
    "正在",
    "经常",
    "在",
    "给",
    "比",
    "很",
    "的",
    "吗",
    "，",
    "。",
    "？",
)

# Words the training data never contains (test_unk, toydata.unknown): Latin and unseen Chinese
# names, places and nouns (no character of the Chinese ones occurs in training). Their English is
# the word itself: a translator that does not know a word copies it through.
UNSEEN_NAMES = ("Anna", "Tom", "Lucy", "Peter", "李雷", "韩梅梅")
UNSEEN_PLACES: dict[str, Place] = {
    zh: Place(zh, ("in", zh), (zh,), frozenset({"city", "shop", "visitable"}))
    for zh in ("Paris", "London", "Tokyo", "广州")
}
UNSEEN_NOUNS: dict[str, Noun] = _parse_nouns(
    """
企鹅 企鹅 = 只 animal
玫瑰 玫瑰 = 朵 plant
日记 日记 = 本 readable,writable
钥匙 钥匙 = 把 item
耳环 耳环 = 个 item
饼干 饼干 = 个 food
西瓜 西瓜 = 个 food
葡萄 葡萄 = 个 food
"""
)
