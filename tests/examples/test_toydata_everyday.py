"""The everyday words of the grammar (toydata.everyday, everyday_words): every new entry rendered
both ways in hand-checked sentences, the train_everyday / test_everyday files, and `unpunctuated`
(a training source without its final 。/？)."""

from __future__ import annotations

import numpy as np
import pytest
from toydata import Pair, load_task, segment
from toydata.data import format_alignment
from toydata.everyday import everyday_splits, unpunctuated
from toydata.everyday_words import ENTRIES, PHRASES
from toydata.grammar import NP, Clause
from toydata.prng import stable_hash
from toydata.render import render
from toydata.splits import SEED, _within_limits, held_out

ME, HE, SHE, YOU, WE = (NP("pron", w) for w in ("我", "他", "她", "你", "我们"))
WEATHER = NP("noun", "天气", "the")


def _phrase(key: str, address: str | None = None) -> Clause:
    return Clause(NP("phrase", key), phrase=key, address=NP("name", address) if address else None)


# (sentence, Chinese, English, alignment): together they hold every entry of ENTRIES.
HAND_CHECKED = [
    ([_phrase("你好")], "你好", "hello", "0"),
    ([_phrase("你好吗？")], "你好 吗 ？", "how are you ?", "1 1 0 2"),
    ([_phrase("早上好", "老师")], "早上好 ， 老师", "good morning , teacher", "0 0 1 2"),
    ([_phrase("晚上好", "小明")], "晚上好 ， 小明", "good evening , xiaoming", "0 0 1 2"),
    ([_phrase("晚安", "妈妈")], "晚安 ， 妈妈", "good night , mom", "0 0 1 2"),
    ([_phrase("谢谢")], "谢谢", "thank you", "0 0"),
    ([_phrase("谢谢你")], "谢谢 你", "thank you", "0 1"),
    ([_phrase("不客气")], "不客气", "you are welcome", "0 0 0"),
    ([_phrase("对不起")], "对不起", "sorry", "0"),
    ([_phrase("没关系")], "没关系", "it does not matter", "0 0 0 0"),
    ([_phrase("再见", "爸爸")], "再见 ， 爸爸", "goodbye , dad", "0 1 2"),
    ([_phrase("明天见")], "明天见", "see you tomorrow", "0 0 0"),
    ([_phrase("欢迎")], "欢迎", "welcome", "0"),
    (
        [_phrase("你好"), Clause(ME, called="大卫")],
        "你好 ， 我 叫 大卫 。",
        "hello , my name is david .",
        "0 1 2 3 3 4 5",
    ),
    ([Clause(ME, "present", "爱", YOU)], "我 爱 你 。", "i love you .", "0 1 2 3"),
    (
        [Clause(SHE, "neg_present", "爱", NP("noun", "猫"))],
        "她 不 爱 猫 。",
        "she does not love cats .",
        "0 1 1 2 3 4",
    ),
    ([Clause(HE, copula=NP("noun", "老师"))], "他 是 老师 。", "he is a teacher .", "0 1 - 2 3"),
    (
        [Clause(WE, "present", also=True, copula=NP("nat", "中国人"))],
        "我们 也 是 中国人 。",
        "we are also chinese .",
        "0 2 1 3 4",
    ),
    (
        [Clause(NP("dem", "这"), question=True, copula=NP("noun", "包", "poss", poss=YOU))],
        "这 是 你 的 包 吗 ？",
        "is this your bag ?",
        "1,5 0 2,3 4 6",
    ),
    (
        [Clause(NP("name", "玛丽"), "neg_present", copula=NP("nat", "美国人"))],
        "玛丽 不 是 美国人 。",
        "mary is not american .",
        "0 2 1 3 4",
    ),
    (
        [Clause(SHE, copula=NP("noun", "工程师", "num", num="一"))],
        "她 是 一 个 工程师 。",
        "she is an engineer .",
        "0 1 2 4 5",
    ),
    ([Clause(HE, copula=NP("nat", "英国人"))], "他 是 英国人 。", "he is british .", "0 1 2 3"),
    (
        [Clause(YOU, question=True, called="玛丽")],
        "你 叫 玛丽 吗 ？",
        "is your name mary ?",
        "1,3 0 1 2 4",
    ),
    (
        [Clause(WEATHER, time="今天", pred_adj="好")],
        "今天 天气 很 好 。",
        "the weather is good today .",
        "- 1 2 3 0 4",
    ),
    (
        [Clause(WEATHER, time="现在", pred_adj="冷", very=True)],
        "现在 天气 非常 冷 。",
        "the weather is very cold now .",
        "- 1 - 2 3 0 4",
    ),
    (
        [Clause(WEATHER, question=True, pred_adj="暖和")],
        "天气 暖和 吗 ？",
        "is the weather warm ?",
        "2 - 0 1 3",
    ),
    (
        [Clause(NP("noun", "歌", "dem", dem="这"), pred_adj="好", also=True)],
        "这 首 歌 也 很 好 。",
        "this song is also good .",
        "0 2 4 3 5 6",
    ),
    (
        [Clause(HE, "present", "喜欢", NP("noun", "茶"), also=True)],
        "他 也 喜欢 茶 。",
        "he also likes tea .",
        "0 1 2 3 4",
    ),
    (
        [Clause(ME, "future", "去", NP("place", "学校"), also=True, time="明天")],
        "我 明天 也 会 去 学校 。",
        "i will also go to the school tomorrow .",
        "0 3 2 4 4 - 5 1 6",
    ),
]


@pytest.mark.parametrize("sentence, zh, en, align", HAND_CHECKED, ids=[h[2] for h in HAND_CHECKED])
def test_everyday_sentences_render_both_ways(sentence, zh, en, align) -> None:
    src, tgt, gold = render(sentence)
    assert (" ".join(src), " ".join(tgt), format_alignment(gold)) == (zh, en, align)


def test_the_hand_checked_sentences_hold_every_new_entry() -> None:
    tokens = {tok for _, zh, _, _ in HAND_CHECKED for tok in zh.split()}
    phrases = {s[0].phrase for s, *_ in HAND_CHECKED if s[0].phrase}
    assert [e for e in ENTRIES if e not in tokens and e not in phrases] == []
    assert 20 <= len(ENTRIES) <= 40


@pytest.fixture(scope="module")
def data():
    return load_task("translation")


def _holds(tokens: list[str], part: tuple[str, ...]) -> bool:
    return any(tuple(tokens[i : i + len(part)]) == part for i in range(len(tokens)))


def test_everyday_files_hold_every_entry_and_type_back_as_written(data) -> None:
    """Every entry is in train_everyday; typing a sentence without spaces gives its tokens back
    (你好吗 is read as 你好 吗, 今天天气 as 今天 天气)."""
    train = [p.src for name in data if name.startswith("train") for p in data[name]]
    words = {w for src in train for w in src}
    for entry in ENTRIES:
        part = PHRASES[entry].zh if entry in PHRASES else (entry,)
        assert any(_holds(p.src, part) for p in data["train_everyday"]), entry
    for pair in data["train_everyday"] + data["test_everyday"]:
        assert segment("".join(pair.src), words) == pair.src, pair.src


def test_test_everyday_is_new_sentences_and_only_fixed_phrases_repeat(data) -> None:
    """test_everyday: in test_iid's hash bucket, in no other file; train_everyday: new sources
    in train's bucket, where only a fixed phrase alone ever repeats."""
    others = {" ".join(p.src) for name in data if "everyday" not in name for p in data[name]}
    tests = [" ".join(p.src) for p in data["test_everyday"]]
    assert len(set(tests)) == len(tests) == 500
    assert all(k not in others and stable_hash(k) % 100 < 10 for k in tests)
    seen: set[str] = set()
    for pair in data["train_everyday"]:
        key = " ".join(pair.src)
        assert key not in others and key not in tests
        assert key not in seen or key.replace(" ", "") in PHRASES or "，" in key, key
        seen.add(key)
    assert len(data["train_everyday"]) == 6000


def test_the_everyday_stream_filtered_as_the_files_holds_no_held_out_pair() -> None:
    kept = everyday_splits(
        SEED, {"train_everyday": 400, "test_everyday": 40}, _within_limits, set()
    )
    sentences = [s for pairs in kept.values() for s, _ in pairs]
    assert len(sentences) == 440 and not any(any(held_out(s)) for s in sentences)
    kinds = {
        (
            "phrase"
            if c.phrase
            else "copula"
            if c.copula
            else "called"
            if c.called
            else "love"
            if c.verb == "爱"
            else "also"
            if c.also
            else "other"
        )
        for s in sentences
        for c in s
    }
    assert kinds >= {"phrase", "copula", "called", "love", "also"}


def test_unpunctuated_drops_only_a_final_mark_and_keeps_the_target() -> None:
    rng = np.random.default_rng(0)
    pair = Pair(
        "我 每天 看 书 。".split(),
        "i read books every day .".split(),
        [[0], [3], [2], [1], [1], [4]],
    )
    dropped = unpunctuated(pair, 1.0, rng)
    assert dropped.src == "我 每天 看 书".split() and dropped.tgt == pair.tgt
    assert dropped.align == [[0], [3], [2], [1], [1], []]
    assert unpunctuated(pair, 0.0, rng) == pair
    fragment = Pair(["机器", "学习"], ["machine", "learning"], [[0], [1]])
    assert unpunctuated(fragment, 1.0, rng) == fragment
    share = np.mean([unpunctuated(pair, 0.2, rng).src != pair.src for _ in range(2000)])
    assert 0.15 < share < 0.25
