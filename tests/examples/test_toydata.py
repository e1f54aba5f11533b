"""The toy bilingual grammar's data: determinism, splits, held-out combinations, alignments,
attention tasks, vocabularies and batching (rendering itself: test_toydata_render.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from toydata import (
    BOS,
    EOS,
    PAD,
    UNK,
    Vocab,
    batches,
    load_place_statements,
    load_question_statements,
    load_task,
)
from toydata.data import DATA_DIR, TRANSLATION_SPLITS, swap
from toydata.everyday_words import PHRASES, TITLES
from toydata.generate import generate_texts
from toydata.grammar import sample_sentence
from toydata.lexicon import NAMES, NOUNS, PLACES
from toydata.prng import SplitMix64, stable_hash
from toydata.questions import matched_positions, place_statement_pairs, question_statement_pairs
from toydata.render import render
from toydata.splits import (
    EVALUATED,
    HELD_OUT_COMBOS,
    HELD_OUT_STRUCTS,
    MAX_SRC_LEN,
    MAX_TGT_LEN,
    SIZES,
    build_splits,
    features,
    held_out,
)
from toydata.verbs import VERBS

# English tokens allowed to have no source: articles, "of" in "a cup of tea", the copula of a
# 比 statement ("he is taller than me"), the article of a bare complement ("he is a teacher").
FUNCTION_WORDS = {"the", "of", "is", "are", "am", "a", "an"}
ZH_EN = DATA_DIR / "zh_en"


@pytest.fixture(scope="module")
def splits():
    return build_splits()


@pytest.fixture(scope="module")
def data():
    return load_task("translation")


def test_regenerated_files_match_shipped_bytes_and_checksums(splits, tmp_path):
    texts = generate_texts(splits=splits)
    for name, text in texts.items():
        (tmp_path / name).write_bytes(text.encode("utf-8"))
        assert (tmp_path / name).read_bytes() == (ZH_EN / name).read_bytes(), name
    for line in (ZH_EN / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((ZH_EN / name).read_bytes()).hexdigest() == digest, name


def test_prng_matches_reference_splitmix64():
    rng = SplitMix64(0)
    assert rng.next_u64() == 0xE220A8397B1DCDAF
    assert 0.0 <= SplitMix64(1).random() < 1.0


TRAINING = ("train", "train_compound", "train_neg_comparative")  # what a run may train on


def test_split_sizes_and_lengths(data):
    assert {k: len(v) for k, v in data.items()} == SIZES
    for name in (*TRAINING, "valid", "test_iid", "test_combo", "test_struct"):
        assert max(len(p.src) for p in data[name]) <= MAX_SRC_LEN
        assert max(len(p.tgt) for p in data[name]) <= MAX_TGT_LEN
    assert max(len(p.src) for p in data["test_long"]) <= 24


def test_chinese_to_english_is_a_function_on_50k_samples():
    rng = SplitMix64(12345)
    seen: dict[tuple, tuple] = {}
    for _ in range(50_000):
        src, tgt, _ = render(sample_sentence(rng))
        assert seen.setdefault(tuple(src), tuple(tgt)) == tuple(tgt), " ".join(src)
    assert len(seen) > 30_000


def _fixed_phrase(src: list[str]) -> bool:
    """A greeting or thanks alone (你好, 谢谢 ， 老师): train_everyday holds each many times."""
    parts = "".join(src).split("，")
    return parts[0] in PHRASES and (len(parts) == 1 or parts[1] in {*NAMES, *TITLES})


def test_splits_are_disjoint(data):
    sources = {name: {" ".join(p.src) for p in pairs} for name, pairs in data.items()}
    for name, srcs in sources.items():
        repeated = {" ".join(p.src) for p in data[name] if _fixed_phrase(p.src)}  # 你好 may
        once = [p for p in data[name] if not _fixed_phrase(p.src)]
        assert len(srcs - repeated) == len(once), f"duplicates in {name}"
    names = list(sources)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not sources[a] & sources[b], (a, b)


def test_held_out_combos_only_in_test_combo(splits):
    for name in (*TRAINING, "valid", "test_iid", "test_struct", "test_long"):
        assert not any(held_out(s.sentence)[0] for s in splits[name]), name
    found = set()
    for sample in splits["test_combo"]:
        combos, structs = held_out(sample.sentence)
        assert combos and not structs
        found |= combos
    assert found == set(HELD_OUT_COMBOS)


def test_held_out_combo_parts_are_seen_in_training(data):
    train_words = {w for p in data["train"] for w in p.src}
    for _, a, b in HELD_OUT_COMBOS:
        for word in (a, b):  # 机器学习 is two tokens, 机器 学习
            assert set(NOUNS[word].tokens if word in NOUNS else [word]) <= train_words, word


def test_held_out_watch_a_movie_is_learnable(data):
    """看 + 电影 is held out. Training must show that 电影 is something one watches, through a
    translation that depends on it: 拍 + 电影 is "film" (as for 比赛 / 节目 / 视频 / 纪录片,
    which 看 watches), while 拍 + 书 is "take photos of" (as for the things 看 reads)."""
    train = [p for p in data["train"] if "拍" in p.src or "看" in p.src]
    filmed = {w for p in train if "拍" in p.src and "filmed" in p.tgt for w in p.src}
    photographed = {w for p in train if "拍" in p.src and "photos" in p.tgt for w in p.src}
    assert {"电影", "比赛", "节目", "视频", "纪录片"} <= filmed
    assert {"书", "杂志", "猫"} <= photographed and "电影" not in photographed
    watched = [p for p in train if "看" in p.src and {"比赛", "节目", "视频"} & set(p.src)]
    assert len(watched) > 50 and all(
        {"watch", "watches", "watched", "watching"} & set(p.tgt) for p in watched
    )


def test_held_out_structures_never_in_train(splits):
    for name in (*TRAINING, "valid", "test_iid", "test_combo", "test_long"):
        assert not any(held_out(s.sentence)[1] for s in splits[name]), name
    train_feats = set().union(*(features(c) for s in splits["train"] for c in s.sentence))
    found = set()
    for sample in splits["test_struct"]:
        combos, structs = held_out(sample.sentence)
        assert structs and not combos
        found |= structs
    assert found == set(HELD_OUT_STRUCTS)
    assert {f for pair in HELD_OUT_STRUCTS for f in pair} <= train_feats


def test_test_long_is_longer_than_all_training(data):
    longest_train = max(len(p.src) for name in TRAINING for p in data[name])
    assert longest_train == MAX_SRC_LEN
    assert min(len(p.src) for p in data["test_long"]) > longest_train


def test_alignments_cover_content_tokens_and_are_in_range(data):
    for name, pairs in data.items():
        for p in pairs:
            assert len(p.align) == len(p.tgt)
            for tok, sources in zip(p.tgt, p.align):
                assert all(0 <= i < len(p.src) for i in sources), (name, p)
                assert sources or tok in FUNCTION_WORDS, (name, tok, p)


def test_machine_learning_appears_alone_and_in_sentences(data):
    """docs/self_attention.md's example: 机器 学习 -> "machine learning", word by word (学习
    alone is "study")."""
    pairs = [p for p in data["train"] if "机器" in p.src]
    assert len(pairs) > 50 and all("machine learning" in " ".join(p.tgt) for p in pairs)
    assert any(p.src == ["机器", "学习"] and p.tgt == ["machine", "learning"] for p in pairs)
    for p in pairs:
        j, i = p.tgt.index("machine"), p.src.index("机器")
        assert p.src[i + 1] == "学习" and p.align[j] == [i] and p.align[j + 1] == [i + 1]


def test_adjective_predicates_keep_held_out_adjective_noun_pairs_out_of_training(splits):
    predicates = [c for s in splits["train"] for c in s.sentence if c.pred_adj]
    assert len(predicates) > 500 and any(c.question for c in predicates)
    pairs = {(c.pred_adj, c.subj.head) for c in predicates}
    assert ("红", "花") not in pairs and ("新", "电脑") not in pairs
    assert not any(c.question and c.cmp_adj for s in splits["train"] for c in s.sentence)


def test_bare_noun_phrases_have_no_verb_and_no_punctuation(data):
    fragments = [p for p in data["train"] if p.src[-1] not in ("。", "？")]
    assert 300 < len(fragments) < 1500  # FRAGMENT_RATE of the samples, minus repeats
    for p in fragments:
        assert p.tgt[-1] not in (".", "?") and not set(p.src) - {"学习"} & set(VERBS), p
    assert {len(p.src) for p in fragments} >= {1, 2, 3}  # 书 / 机器 学习 / 三 本 书 ...


def test_en_zh_direction_swaps_and_inverts_alignment(data):
    en_zh = load_task("translation", direction="en-zh")
    for a, b in zip(data["valid"][:200], en_zh["valid"][:200]):
        assert b.src == a.tgt and b.tgt == a.src and swap(b) == a


@pytest.mark.parametrize("task", ["reversal", "dates"])
def test_attention_tasks(task):
    splits = load_task(task)
    assert splits == load_task(task)  # deterministic
    train = {" ".join(p.src) for p in splits["train"]}
    assert not train & {" ".join(p.src) for p in splits["valid"] + splits["test_iid"]}
    for pairs in splits.values():
        for p in pairs:
            assert len(p.align) == len(p.tgt)
            assert all(
                p.tgt[j] == p.src[i] or task == "dates" for j, a in enumerate(p.align) for i in a
            )
    if task == "reversal":
        longest = max(len(p.src) for p in splits["train"])
        assert min(len(p.src) for p in splits["test_long"]) > longest
        assert all(p.align == [[len(p.src) - 1 - j] for j in range(len(p.src))] for p in pairs)


def test_date_rendering():
    from toydata.tasks import date_pair, ordinal

    assert [ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "23rd",
        "31st",
    ]
    pair = date_pair(SplitMix64(7))
    year, _, month, _, day = pair.tgt
    assert pair.src[pair.align[0][0]] == year
    assert int(month) >= 1 and int(day) >= 1


def test_vocab_roundtrip(data):
    vocab = Vocab.build([p.tgt for p in data["train"]])
    assert vocab.itos[:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)
    ids = vocab.encode(["i", "read", "zzz", "."])
    assert ids[2] == UNK
    assert vocab.decode([BOS] + ids + [EOS, 5, PAD]) == ["i", "read", "<unk>", "."]
    again = Vocab.from_json(vocab.to_json())
    assert again.itos == vocab.itos and len(again) == len(vocab)


def test_batches_shapes_padding_and_shuffle(data):
    pairs = data["valid"][:50]
    src_vocab = Vocab.build([p.src for p in data["train"]])
    tgt_vocab = Vocab.build([p.tgt for p in data["train"]])
    out = list(batches(pairs, src_vocab, tgt_vocab, batch_size=16, shuffle_seed=3))
    assert [b[0].shape[0] for b in out] == [16, 16, 16, 2]
    src, tgt_in, tgt_out = out[0]
    assert src.dtype == tgt_in.dtype == np.int64 and tgt_in.shape == tgt_out.shape
    assert (tgt_in[:, 0] == BOS).all()
    lengths = (tgt_out != PAD).sum(1)
    assert (tgt_out[np.arange(16), lengths - 1] == EOS).all()
    shifted = (tgt_out[:, :-1] != PAD) & (tgt_out[:, :-1] != EOS)  # tgt_in is tgt_out moved right
    assert (tgt_in[:, 1:][shifted] == tgt_out[:, :-1][shifted]).all()
    again = list(batches(pairs, src_vocab, tgt_vocab, batch_size=16, shuffle_seed=3))
    assert all((a[0] == b[0]).all() for a, b in zip(out, again))
    plain = list(batches(pairs, src_vocab, tgt_vocab, batch_size=16, drop_last=True))
    assert len(plain) == 3 and src_vocab.decode(plain[0][0][0]) == pairs[0].src


def test_shipped_files_exist():
    for name in TRANSLATION_SPLITS:
        assert Path(ZH_EN / f"{name}.tsv").is_file()


def test_train_compound_is_coordinated_statements_in_trains_hash_bucket(splits):
    """The extra training pairs are all "A ， B 。" -> "A , and B .", each source one that the
    iid hash would have put in train (never valid / test_iid), and their words are train's."""
    train_words = {w for s in splits["train"] for w in s.src}
    for sample in splits["train_compound"]:
        assert len(sample.sentence) == 2 and not any(c.question for c in sample.sentence)
        assert "，" in sample.src and ", and" in " ".join(sample.tgt)
        assert stable_hash(" ".join(sample.src)) % 100 >= 10
        assert set(sample.src) <= train_words


def test_train_neg_comparative_is_negated_comparatives_in_trains_hash_bucket(splits):
    """The extra pairs are all "X 不 比 Y ADJ 。" -> "X is not ADJer than Y .", new sources in
    train's hash bucket, made of train's words; train itself holds no negated comparative."""
    train_words = {w for s in splits["train"] for w in s.src}
    sources = set()
    for sample in splits["train_neg_comparative"]:
        (clause,) = sample.sentence
        assert clause.cmp_adj and clause.aspect == "neg_present" and not clause.question
        assert sample.src[sample.src.index("比") - 1] == "不" and sample.src[-1] == "。"
        assert "not" in sample.tgt and "than" in sample.tgt and sample.tgt[-1] == "."
        assert stable_hash(" ".join(sample.src)) % 100 >= 10
        assert set(sample.src) <= train_words
        sources.add(" ".join(sample.src))
    assert len(sources) == len(splits["train_neg_comparative"])
    others = {
        " ".join(s.src)
        for name, split in splits.items()
        if name != "train_neg_comparative"
        for s in split
    }
    assert not sources & others
    for sample in splits["train"]:
        assert not any(c.cmp_adj and c.aspect.startswith("neg") for c in sample.sentence)


def test_question_statements_restate_trains_questions_and_hold_nothing_held_out(splits, data):
    """Each shipped pair is a training question ("... 吗 ？") and a statement with the same words
    ("... 。", 很 aside: 他 高 吗 ？ / 他 很 高 。) whose source is in no evaluated split file,
    within the training lengths, made of train's words, sharing a matched word with its
    question; the statement clauses the grammar rendered hold no held-out combination or
    construction pair, and the file holds exactly those pairs."""
    evaluated = {" ".join(p.src) for name in EVALUATED for p in data[name]}
    train = {" ".join(p.src): p.tgt for p in data["train"]}
    train_words = {w for p in data["train"] for w in p.src + p.tgt}
    shipped = load_question_statements()
    for q_src, q_tgt, s_src, s_tgt in shipped:
        assert train[" ".join(q_src)] == q_tgt and q_src[-2:] == ["吗", "？"]
        assert s_src[-1] == "。" and " ".join(s_src) not in evaluated
        without_hen = [w for w in s_src[:-1] if w != "很"]
        assert without_hen == [w for w in q_src[:-2] if w != "很"]
        assert len(s_src) <= MAX_SRC_LEN and len(s_tgt) <= MAX_TGT_LEN
        assert set(s_src + s_tgt) <= train_words and matched_positions(q_tgt, s_tgt)
    generated = question_statement_pairs(splits["train"], evaluated)
    for _, (_, _, _, statement) in generated:
        assert not any(held_out(statement))
    assert len(shipped) == len(generated) > 2000
    assert [p.statement_src for p in shipped] == [zh for _, (zh, _, _, _) in generated]


def _removed_run(longer: list[str], shorter: list[str]) -> list[str]:
    """The one contiguous run of words whose removal from `longer` leaves `shorter` ([] if
    there is no such run)."""
    start = next((i for i, (a, b) in enumerate(zip(longer, shorter)) if a != b), len(shorter))
    end = start + len(longer) - len(shorter)
    ok = len(longer) > len(shorter) and longer[:start] + longer[end:] == shorter
    return longer[start:end] if ok else []


def test_place_statements_drop_the_place_of_trains_statements_and_hold_nothing_held_out(
    splits, data
):
    """Each shipped pair is a one-clause training statement with a place and the same statement
    with the place cut out of both sides (在 咖啡馆 / "in the cafe"; after 正在 only the place
    word goes), the bare source in no evaluated split file, made of train's words, sharing a
    matched word; the grammar's bare clauses hold no held-out pair, and the file holds exactly
    those pairs."""
    evaluated = {" ".join(p.src) for name in EVALUATED for p in data[name]}
    train = {" ".join(p.src): p.tgt for p in data["train"]}
    train_words = {w for p in data["train"] for w in p.src + p.tgt}
    shipped = load_place_statements()
    for p_src, p_tgt, b_src, b_tgt in shipped:
        assert train[" ".join(p_src)] == p_tgt and p_src[-1] == "。" and "吗" not in p_src
        place, *before = reversed(_removed_run(p_src, b_src))
        assert place in PLACES and before in ([], ["在"]), (p_src, b_src)
        assert before or p_src[p_src.index(place) - 1] == "正在"
        assert _removed_run(p_tgt, b_tgt) == list(PLACES[place].at)
        assert " ".join(b_src) not in evaluated
        assert set(b_src + b_tgt) <= train_words and matched_positions(p_tgt, b_tgt)
    generated = place_statement_pairs(splits["train"], evaluated)
    for _, (_, _, _, bare) in generated:
        assert not any(held_out(bare)) and not bare[0].question
    assert len(shipped) == len(generated) > 3000
    assert [p.bare_src for p in shipped] == [zh for _, (zh, _, _, _) in generated]


# The SHA-256 of train and of each evaluated split since they were last generated: figures
# stay comparable across releases only while these files keep their bytes (test_unk,
# train_compound and train_neg_comparative were added beside them, each from a stream of its
# own, and changed none).
PUBLISHED = {
    "train.tsv": "2483dcad07c7d7ddacd5317359f26aa57b9b795de6fe3a81fc1b02b3f0de68c5",
    "valid.tsv": "ddab4c5bf27ced9d0365de8f26f038e31e38215772b39ed1cac98a5cad9bd640",
    "test_iid.tsv": "749781b8c23aa57493d1afb72900e0422a2db4b132475ad4432ad1f178de186b",
    "test_combo.tsv": "bcfe14d88fd91b40991550a034e922d251df2669d8b84634b4e3435f0fe35b80",
    "test_struct.tsv": "db4243c73eadca1716307b87b4195abfddea527d76d287f0c3debef46fb86d0b",
    "test_long.tsv": "621de5bab1c16655e119a99b0ef56981b9ce56bb7d8278fa0eadc21f6f73ef88",
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_evaluated_splits_keep_their_published_bytes(name):
    assert hashlib.sha256((ZH_EN / name).read_bytes()).hexdigest() == PUBLISHED[name]
