"""Issue 11, unknown words: segmentation that keeps them whole, the test_unk split, <unk> masking
for training and the <unk> replacement through cross-attention (examples/_unk_copy.py)."""

from __future__ import annotations

import hashlib
import re

import _unk_copy as uc
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toydata import Pair, Vocab, detokenize_en, detokenize_zh, load_task, segment
from toydata.data import DATA_DIR
from toydata.lexicon import NAMES, UNSEEN_NAMES, UNSEEN_NOUNS, UNSEEN_PLACES
from toydata.unknown import mask_unknowns


@pytest.fixture(scope="module")
def data() -> dict[str, list[Pair]]:
    return load_task()


@pytest.fixture(scope="module")
def words(data) -> list[str]:
    return Vocab.build([p.src for p in data["train"]]).itos[4:]


# ----- segmentation ------------------------------------------------------------------------
SIX = {
    "他喜欢熊猫。": ["他", "喜欢", "熊猫", "。"],
    "我昨天在图书馆看了三本漫画。": "我 昨天 在 图书馆 看 了 三 本 漫画 。".split(),
    "我用了他的iPhone。": ["我", "用", "了", "他", "的", "iPhone", "。"],
    "玛丽明天会去Beijing。": ["玛丽", "明天", "会", "去", "Beijing", "。"],
    "李雷昨天在饭馆吃了饺子。": "李雷 昨天 在 饭馆 吃 了 饺子 。".split(),
    "我买了3本书。": ["我", "买", "了", "3", "本", "书", "。"],
}


@pytest.mark.parametrize("text", list(SIX))
def test_the_issues_sentences_keep_unknown_words_whole(words, text) -> None:
    assert segment(text, words) == SIX[text]


def test_segment_latin_digits_punctuation_and_unknown_runs(words) -> None:
    assert segment("I'm 3D-ready, ok? 12本书!", words) == [
        "I'm", "3D-ready", "，", "ok", "？", "12", "本", "书", "。"
    ]  # fmt: skip
    assert segment("熊（猫）", words) == ["熊", "（", "猫", "）"]  # brackets split words
    assert segment("韩梅梅吃了鱼吗？", words) == ["韩梅梅", "吃", "了", "鱼", "吗", "？"]
    assert segment("熊了", words) == ["熊", "了"]  # 了 is no content word: not taken


_PIECES = st.sampled_from(
    ["我", "喜欢", "熊", "猫", "企", "鹅", "了", "。", ",", "?", "!", " ", "iPhone", "3", "42",
     "x-ray", "O'Neil", "é", "（", "-", "'", "本", "书", "Zoë"]
)  # fmt: skip
_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=12).map("".join)


@given(_TEXT)
def test_segment_loses_no_character_and_round_trips(text: str) -> None:
    words = ["我", "喜欢", "猫", "了", "。", "本", "书", "？", "，"]
    tokens = segment(text, words)
    punct = {",": "，", ".": "。", "?": "？", "!": "。", "！": "。"}
    assert "".join(tokens) == "".join(punct.get(c, c) for c in text if not c.isspace())
    assert all(tokens)
    assert segment(detokenize_zh(tokens), words) == tokens


@given(st.lists(st.sampled_from(["我", "喜欢", "熊", "3", "iPhone", "Anna", "12", "x-ray"])))
def test_latin_and_digit_runs_stay_whole(pieces: list[str]) -> None:
    text = "".join(pieces)
    tokens = segment(text, ["我", "喜欢"])
    for run in re.findall(r"[A-Za-z0-9'-]+", text):
        assert run in tokens, (run, tokens)


def test_copied_words_keep_their_case_in_english() -> None:
    assert detokenize_en(["iPhone", "is", "new", "."]) == "IPhone is new."  # first word only
    assert detokenize_en(["i", "used", "his", "iPhone", "."]) == "I used his iPhone."


# ----- test_unk ----------------------------------------------------------------------------
def test_test_unk_shares_no_unknown_string_with_training(data, words) -> None:
    train_src = {t for p in data["train"] for t in p.src}
    train_tgt = {t.lower() for p in data["train"] for t in p.tgt}
    train_chars = set("".join(train_src))
    unseen = set(UNSEEN_NAMES) | set(UNSEEN_PLACES) | set(UNSEEN_NOUNS)
    found = set()
    for pair in data["test_unk"]:
        unknown = [t for t in pair.src if t not in words]
        assert unknown, pair.src  # every sentence has something to copy
        for token in unknown:
            assert token in unseen or token.isdigit(), token
            assert token not in train_src and token.lower() not in train_tgt, token
            if not token.isascii():
                assert not set(token) & train_chars, token  # unseen characters
            assert token in pair.tgt, (token, pair.tgt)  # the reference copies it
        found |= set(unknown)
        assert segment(detokenize_zh(pair.src), words) == pair.src  # typed, it reads the same
    assert unseen <= found and {"1", "3", "12"} <= found
    assert not set(NAMES) & found


def test_test_unk_numbers_follow_the_english_plural_rule(data) -> None:
    """ "1 book", "1 cup of tea", "3 books": the noun after a digit is singular only after 1."""
    nouns = {"1": [], "many": []}
    for pair in data["test_unk"]:
        for j, token in enumerate(pair.tgt):
            if token.isdigit():
                after = [w for w in pair.tgt[j + 1 : j + 5] if w in uc.SINGULAR or w in
                         uc.SINGULAR.values()][:1]  # fmt: skip
                nouns["1" if token == "1" else "many"] += after
    assert nouns["1"] and set(nouns["1"]) <= set(uc.SINGULAR.values()), nouns["1"]
    assert nouns["many"] and set(nouns["many"]) <= set(uc.SINGULAR), nouns["many"]


def test_test_unk_file_has_its_checksum() -> None:
    folder = DATA_DIR / "zh_en"
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    sums = {name: digest for digest, name in (line.split("  ") for line in lines)}
    digest = hashlib.sha256((folder / "test_unk.tsv").read_bytes()).hexdigest()
    assert sums["test_unk.tsv"] == digest
    # the eight splits, the three extra training files, question_ and place_statements
    assert len(sums) == 13


# ----- <unk> masking for training ----------------------------------------------------------
def _pair(src: str, tgt: str, align: str) -> Pair:
    return Pair(src.split(), tgt.split(), [[] if a == "-" else [int(a)] for a in align.split()])


class _Always:
    def random(self) -> float:
        return 0.0


def test_mask_unknowns_replaces_names_cities_numbers_and_nouns_on_both_sides() -> None:
    pair = _pair("玛丽 在 北京 买 了 三 本 书 。", "mary bought three books in beijing .",
                 "0 3 5 7 1 2 8")  # fmt: skip
    masked = mask_unknowns(pair, 0.5, _Always())
    assert masked.src == ["<unk>", "在", "<unk>", "买", "了", "<unk>", "本", "<unk>", "。"]
    assert masked.tgt == ["<unk>", "bought", "<unk>", "<unk>", "in", "<unk>", "."]
    assert masked.align == pair.align
    assert mask_unknowns(pair, 0.0, np.random.default_rng(0)) == pair


def test_mask_unknowns_keeps_a_and_verbs_and_people() -> None:
    pair = _pair("我 吃 了 一 个 苹果 。", "i ate an apple .", "0 1 3 5 6")
    assert mask_unknowns(pair, 1.0, _Always()).tgt == ["i", "ate", "a", "<unk>", "."]
    assert mask_unknowns(pair, 1.0, _Always()).src[3] == "一"  # "a" is not a copied number
    person = _pair("我 学习 。", "i study .", "0 1 2")  # 学习 the verb, not a noun
    assert mask_unknowns(person, 1.0, _Always()) == person
    teacher = _pair("老师 来 。", "the teacher came .", "- 0 1 2")
    assert mask_unknowns(teacher, 1.0, _Always()) == teacher


# ----- <unk> replacement through attention -------------------------------------------------
def test_replace_unks_copies_the_unknown_word_each_row_attends_to() -> None:
    src = ["Anna", "给", "李雷", "买", "了", "3", "本", "书", "。"]
    unknown = [True, False, True, False, False, True, False, False, False]
    out = ["<unk>", "bought", "<unk>", "books", "for", "<unk>", "."]
    weights = np.full((len(out) + 1, len(src)), 0.01)
    weights[0, 0] = weights[2, 5] = weights[5, 2] = 0.9
    weights[5, 3] = 0.95  # a known word attended more is not copied
    copied, copies = uc.replace_unks(out, weights, src, unknown)
    assert copied == ["Anna", "bought", "3", "books", "for", "李雷", "."]
    assert [(c.target, c.source) for c in copies] == [(0, 0), (2, 5), (5, 2)]


def test_a_copied_one_takes_the_singular() -> None:
    assert uc.english_number_agreement("i bought 1 books .".split(), [2])[3] == "book"
    assert uc.english_number_agreement("1 big red cups of tea".split(), [0])[3] == "cup"
    assert uc.english_number_agreement("i bought 3 books .".split(), [2])[3] == "books"
    assert uc.english_number_agreement("1 books".split(), [])[1] == "books"  # not copied


def test_parse_head_falls_back_to_the_mean_of_the_last_layer() -> None:
    assert uc.parse_head("L2H3", 2, 4) == (1, 2)
    assert uc.parse_head("L3H1", 2, 4) == (1, None)
    assert uc.parse_head(None, 2, 4) == (1, None)


def test_copy_unknowns_reads_the_named_head_of_the_model(monkeypatch, tiny_model) -> None:
    """With the head's attention known (every row on the source's third token), the <unk> is
    that token, read from the named layer and head with the hypothesis fed in."""
    model = tiny_model(src_vocab=10, tgt_vocab=10, num_decoder_layers=1, dim_feedforward=8)
    src_vocab = Vocab(["<pad>", "<s>", "</s>", "<unk>"] + list("abcdef"))
    tgt_vocab = Vocab(["<pad>", "<s>", "</s>", "<unk>"] + list("uvwxyz"))
    sources = [["a", "Tom", "Anna", "b"]]
    calls = []

    def attention(model, src, tgt_in, layer, head):
        calls.append((layer, head, src.tolist(), tgt_in.tolist()))
        weights = np.zeros((1, tgt_in.shape[1], src.shape[1]))
        weights[:, :, 2] = 1.0  # every row on "Anna"
        return weights

    real_attention = uc.head_attention
    monkeypatch.setattr(uc, "head_attention", attention)
    out = uc.copy_unknowns(model, sources, [["u", "<unk>"]], src_vocab, tgt_vocab, "L1H2")
    assert out == [["u", "Anna"]]
    assert calls == [(0, 1, [[4, 3, 3, 5]], [[1, 4, 3]])]
    real = real_attention(model, np.array([[4, 3, 3, 5]]), np.array([[1, 4, 3]]), 0, 1)
    assert real.shape == (1, 3, 4) and np.allclose(real.sum(-1), 1.0)
