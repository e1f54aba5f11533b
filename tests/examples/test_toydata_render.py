"""The toy grammar's rendering: hand-checked sentences with their alignments, typed-Chinese
segmentation and English detokenisation."""

from __future__ import annotations

import pytest
from toydata import load_task, segment
from toydata.data import format_alignment
from toydata.grammar import NP, Clause
from toydata.render import render
from toydata.text import detokenize_en, detokenize_zh


@pytest.fixture(scope="module")
def data():
    return load_task("translation")


def _np(kind: str, head: str, det: str = "bare", **kw) -> NP:
    return NP(kind, head, det, **kw)


ME, HE, SHE, WE, THEY, YOU = (_np("pron", w) for w in ("我", "他", "她", "我们", "他们", "你"))
BOOKS3 = _np("noun", "书", "num", num="三")
MY_MOTHER = _np("noun", "妈妈", "poss", poss=ME)
HAND_CHECKED = [
    (
        Clause(ME, "past", "看", BOOKS3, time="昨天", place="图书馆"),
        "我 昨天 在 图书馆 看 了 三 本 书 。",
        "i read three books in the library yesterday .",
        "0 4 6 8 2 - 3 1 9",
    ),
    (
        Clause(HE, "past", "看", _np("noun", "电影", "dem", dem="那"), time="昨天", question=True),
        "他 昨天 看 了 那 部 电影 吗 ？",
        "did he watch that movie yesterday ?",
        "3,7 0 2 4 6 1 8",
    ),
    (
        Clause(_np("noun", "哥哥", "poss", poss=ME), cmp_adj="高", cmp_std=HE),
        "我 的 哥哥 比 他 高 。",
        "my brother is taller than him .",
        "0,1 2 - 5 3 4 6",
    ),
    (
        Clause(SHE, "past", "买", _np("noun", "蛋糕", "num", num="一"), bene=MY_MOTHER),
        "她 给 我 的 妈妈 买 了 一 个 蛋糕 。",
        "she bought a cake for my mother .",
        "0 5 7 9 1 2,3 4 10",
    ),
    (
        Clause(_np("name", "小明"), "neg_past", "喝", _np("noun", "咖啡", "dem", dem="那")),
        "小明 没 喝 那 杯 咖啡 。",
        "xiaoming did not drink that cup of coffee .",
        "0 1 1 2 3 4 - 5 6",
    ),
    (
        Clause(HE, "progressive", "看", _np("noun", "书"), place="图书馆"),
        "他 正在 图书馆 看 书 。",
        "he is reading books in the library .",
        "0 1 3 4 1 - 2 5",
    ),
    (
        Clause(WE, "future", "去", _np("place", "北京"), time="明天"),
        "我们 明天 会 去 北京 。",
        "we will go to beijing tomorrow .",
        "0 2 3 3 4 1 5",
    ),
    (
        Clause(YOU, "perfect", "去", _np("place", "上海"), question=True),
        "你 去 过 上海 吗 ？",
        "have you been to shanghai ?",
        "2,4 0 1 1 3 5",
    ),
    (
        Clause(_np("name", "玛丽"), "present", "喝", _np("noun", "茶"), time="每天"),
        "玛丽 每天 喝 茶 。",
        "mary drinks tea every day .",
        "0 2 3 1 1 4",
    ),
    (
        Clause(HE, "present", "喜欢", _np("noun", "机器学习"), question=True),
        "他 喜欢 机器 学习 吗 ？",
        "does he like machine learning ?",
        "4 0 1 2 3 5",
    ),
    (
        Clause(ME, "past", "拍", _np("noun", "视频", "num", num="两"), bene=HE),
        "我 给 他 拍 了 两 个 视频 。",
        "i filmed two videos for him .",
        "0 3 5 7 1 2 8",
    ),
    (
        Clause(HE, "present", pred_adj="高"),
        "他 很 高 。",
        "he is tall .",
        "0 1 2 3",
    ),
    (
        Clause(_np("noun", "书", "dem", dem="这"), "neg_present", pred_adj="贵"),
        "这 本 书 不 贵 。",
        "this book is not expensive .",
        "0 2 - 3 4 5",
    ),
    (
        Clause(SHE, "present", pred_adj="忙", question=True),
        "她 忙 吗 ？",
        "is she busy ?",
        "2 0 1 3",
    ),
    (
        Clause(_np("noun", "书", "num", num="三", adj="新"), fragment=True),
        "三 本 新 书",
        "three new books",
        "0 2 3",
    ),
    (
        Clause(THEY, "past", "看", _np("noun", "猫", "num", num="两")),
        "他们 看 了 两 只 猫 。",
        "they looked at two cats .",
        "0 1 1 3 5 6",
    ),
    (
        Clause(ME, "past", "看见", _np("noun", "孩子", "num", num="三")),
        "我 看见 了 三 个 孩子 。",
        "i saw three children .",
        "0 1 3 5 6",
    ),
    (
        Clause(HE, "neg_present", "认识", _np("noun", "人", "num", num="五")),
        "他 不 认识 五 个 人 。",
        "he does not know five people .",
        "0 1 1 2 3 5 6",
    ),
    (
        Clause(SHE, "future", "吃", _np("noun", "橙子", "num", num="一", adj="好吃")),
        "她 会 吃 一 个 好吃 的 橙子 。",
        "she will eat a delicious orange .",
        "0 1 2 3 5 7 8",
    ),
    (
        Clause(ME, "past", "买", _np("noun", "伞", "num", num="一")),
        "我 买 了 一 把 伞 。",
        "i bought an umbrella .",
        "0 1 3 5 6",
    ),
    (
        Clause(HE, "progressive", "写", _np("noun", "信"), question=True),
        "他 正在 写 信 吗 ？",
        "is he writing letters ?",
        "1,4 0 2 3 5",
    ),
    (
        Clause(
            _np("noun", "书", "dem", dem="这"),
            cmp_adj="贵",
            cmp_std=_np("noun", "书", "poss", poss=_np("noun", "老师", "the")),
        ),
        "这 本 书 比 老师 的 书 贵 。",
        "this book is more expensive than the teacher 's book .",
        "0 2 - 7 7 3 - 4 5 6 8",
    ),
    (
        Clause(HE, "present", "看", _np("noun", "报纸"), often=True),
        "他 经常 看 报纸 。",
        "he often reads newspapers .",
        "0 1 2 3 4",
    ),
]


@pytest.mark.parametrize("clause, zh, en, align", HAND_CHECKED, ids=[h[2] for h in HAND_CHECKED])
def test_hand_checked_constructions(clause, zh, en, align):
    src, tgt, gold = render([clause])
    assert " ".join(src) == zh
    assert " ".join(tgt) == en
    assert format_alignment(gold) == align


def test_coordinated_clauses():
    first = Clause(ME, "present", "喝", _np("noun", "茶"))
    second = Clause(HE, "present", "喝", _np("noun", "咖啡"))
    src, tgt, align = render([first, second])
    assert " ".join(src) == "我 喝 茶 ， 他 喝 咖啡 。"
    assert " ".join(tgt) == "i drink tea , and he drinks coffee ."
    assert format_alignment(align) == "0 1 2 3 3 4 5 6 7"


def test_segment_typed_chinese(data):
    words = {w for p in data["train"] for w in p.src}
    typed = "我昨天在图书馆看了三本书."
    assert segment(typed, words) == "我 昨天 在 图书馆 看 了 三 本 书 。".split()
    assert segment("他学习机器学习吗?", words) == ["他", "学习", "机器", "学习", "吗", "？"]
    assert segment("我喝茶！", words) == segment("我喝茶!", words) == ["我", "喝", "茶", "。"]
    assert segment("你 看见 猫X了", words) == ["你", "看见", "猫", "X", "了"]
    assert detokenize_zh(["我", "喝", "茶", "。"]) == "我喝茶。"


def test_detokenize_english():
    tokens = "did xiaoming read my teacher 's book in beijing ?".split()
    assert detokenize_en(tokens) == "Did Xiaoming read my teacher's book in Beijing?"
    assert detokenize_en("i drink tea , and he drinks coffee .".split()) == (
        "I drink tea, and he drinks coffee."
    )
