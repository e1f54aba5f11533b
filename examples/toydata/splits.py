"""Build the translation splits: iid train/valid/test, held-out combinations, longer sentences.

- train / valid / test_iid: one sample stream, assigned by a stable hash of the source string
  (so a sentence can never be in two of them); source <= MAX_SRC_LEN, target <= MAX_TGT_LEN.
- test_combo: every sentence contains one of HELD_OUT_COMBOS (word pairs in a relation, each word
  seen in training, the pair never).
- test_struct: every sentence contains one of HELD_OUT_STRUCTS (two constructions in one clause,
  each seen in training, together never).
- test_long: sources longer than any training source (MAX_SRC_LEN < len <= LONG_MAX_SRC_LEN).
- test_unk: names, cities, numbers and objects the training data never contains (Latin names and
  places, digits, unseen Chinese nouns; see toydata.unknown), from a stream of its own, so adding
  it left the other files byte for byte as they were.
- train_compound: extra training pairs, two coordinated statements ("A ， B 。" -> "A , and B .")
  within the training length limits, from a stream of their own (the other files unchanged).
  train holds only ~4% such sentences, while every test_long sentence is one; these teach the
  construction (not the length: they are no longer than train's longest). Each source hashes
  into train's bucket and is in no other split.
- train_neg_comparative: extra training pairs, negated comparatives ("X 不 比 Y ADJ 。" -> "X is
  not ADJer than Y ."), from a stream of their own, under the same rules as train_compound.
  In train the comparative appears in one frame only, the plain statement, while the adjective
  predicate appears in three (他 很 高 / 他 不 高 / 他 高 吗); a second frame for the comparative
  is evidence that it combines with others. Negation + comparative is no held-out pair.
- train_everyday / test_everyday: everyday sentences (toydata.everyday: greetings and thanks,
  爱, 是, 叫, the weather, 非常, 也), from a stream of their own, test_everyday by test_iid's
  hash bucket and in no other split (the other files unchanged).
Nothing outside test_combo / test_struct contains a held-out combination.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from .everyday import everyday_splits
from .grammar import NP, Clause, negated_comparative, sample_clause, sample_sentence
from .prng import SplitMix64, seed_for, stable_hash
from .render import render
from .unknown import unknown_split

SEED = 2024
MAX_SRC_LEN = 14
MAX_TGT_LEN = 18
LONG_MAX_SRC_LEN = 24
SIZES = {
    "train": 20000,
    "valid": 1000,
    "test_iid": 1000,
    "test_combo": 1000,
    "test_struct": 1000,
    "test_long": 1000,
    "test_unk": 1000,
    "train_compound": 20000,
    "train_neg_comparative": 10000,
    "train_everyday": 6000,
    "test_everyday": 500,
}

EVALUATED = ("valid", "test_iid", "test_combo", "test_struct", "test_long", "test_unk")

# (relation, Chinese word, Chinese word): never together in train / valid / test_iid.
HELD_OUT_COMBOS: tuple[tuple[str, str, str], ...] = (
    ("verb_obj", "学习", "机器学习"),  # study machine learning
    ("verb_obj", "喝", "茶"),  # drink tea
    ("num_noun", "三", "苹果"),  # three apples
    ("adj_noun", "红", "花"),  # red flowers
    ("verb_obj", "看", "电影"),  # watch a movie: 看 is read / watch / look at by the object's
    # class, and 拍 (film / take photos of) is what shows that 电影 is watched, not read
    ("verb_obj", "买", "自行车"),  # buy a bike
    ("subj_verb", "她", "写"),  # she writes
    ("adj_noun", "新", "电脑"),  # a new computer
    ("place_verb", "公园", "画"),  # draw in the park
    ("verb_obj", "骑", "马"),  # ride a horse
)
# Constructions never combined in one training clause.
HELD_OUT_STRUCTS: tuple[tuple[str, str], ...] = (
    ("question", "place"),  # 你 在 图书馆 看 书 吗 ？
    ("neg", "bene"),  # 我 没 给 他 买 书 。
    ("comparative", "question"),  # 他 比 你 高 吗 ？
)
_WANT_KEYS = {
    "verb_obj": ("verb", "obj"),
    "num_noun": ("num", "obj"),
    "adj_noun": ("adj", "obj"),
    "subj_verb": ("subj", "verb"),
    "place_verb": ("place", "verb"),
}


class Sample(NamedTuple):
    """A rendered sentence together with the structure it came from."""

    src: list[str]
    tgt: list[str]
    align: list[list[int]]
    sentence: list[Clause]


def _noun_phrases(clause: Clause) -> list[NP]:
    nps = [np for np in (clause.subj, clause.obj, clause.bene, clause.cmp_std) if np]
    return nps + [np.poss for np in nps if np.poss]


def relations(clause: Clause) -> set[tuple[str, str, str]]:
    """Word pairs in a relation inside the clause, e.g. ("verb_obj", "喝", "茶")."""
    rels = set()
    if clause.verb:
        rels.add(("verb_obj", clause.verb, clause.obj.head))
        rels.add(("subj_verb", clause.subj.head, clause.verb))
        if clause.place:
            rels.add(("place_verb", clause.place, clause.verb))
    if clause.pred_adj and clause.subj.kind == "noun":  # 那 朵 花 很 红: red + flower
        rels.add(("adj_noun", clause.pred_adj, clause.subj.head))
    for np in _noun_phrases(clause):
        if np.num:
            rels.add(("num_noun", np.num, np.head))
        if np.adj:
            rels.add(("adj_noun", np.adj, np.head))
    return rels


def features(clause: Clause) -> set[str]:
    """Constructions used by the clause: question, neg, place, bene, time, comparative, ..."""
    feats = {clause.aspect.removeprefix("neg_")}
    flags = {
        "question": clause.question,
        "neg": clause.aspect.startswith("neg"),
        "place": clause.place,
        "bene": clause.bene,
        "time": clause.time,
        "comparative": clause.cmp_adj,
        "predicate": clause.pred_adj,
        "often": clause.often,
        "fragment": clause.fragment,
    }
    return feats | {name for name, on in flags.items() if on}


def held_out(sentence: list[Clause]) -> tuple[set, set]:
    """(held-out word combos, held-out construction combos) present in the sentence."""
    combos, structs = set(), set()
    for clause in sentence:
        combos |= relations(clause) & set(HELD_OUT_COMBOS)
        feats = features(clause)
        structs |= {s for s in HELD_OUT_STRUCTS if set(s) <= feats}
    return combos, structs


def _iid_splits(seed: int) -> dict[str, list[Sample]]:
    rng = SplitMix64(seed_for("iid", seed))
    out: dict[str, list[Sample]] = {"train": [], "valid": [], "test_iid": []}
    seen: set[str] = set()
    while any(len(out[k]) < SIZES[k] for k in out):
        sentence = sample_sentence(rng)
        zh, en, align = render(sentence)
        key = " ".join(zh)
        if len(zh) > MAX_SRC_LEN or len(en) > MAX_TGT_LEN or key in seen or any(held_out(sentence)):
            continue
        seen.add(key)
        bucket = stable_hash(key) % 100  # 5% valid, 5% test_iid, 90% train
        name = "valid" if bucket < 5 else "test_iid" if bucket < 10 else "train"
        if len(out[name]) < SIZES[name]:
            out[name].append(Sample(zh, en, align, sentence))
    return out


def _forced_split(name: str, seed: int, wants: list[tuple[dict, tuple]]) -> list[Sample]:
    """Cycle through `wants`, sampling until each sample really contains its combination."""
    rng = SplitMix64(seed_for(name, seed))
    out: list[Sample] = []
    seen: set[str] = set()
    while len(out) < SIZES[name]:
        want, combo = wants[len(out) % len(wants)]
        for _ in range(1000):
            sentence = sample_sentence(rng, want)
            combos, structs = held_out(sentence)
            found = combo in combos if name == "test_combo" else combo in structs
            other = structs if name == "test_combo" else combos
            zh, en, align = render(sentence)
            if (
                found
                and not other
                and len(zh) <= MAX_SRC_LEN
                and len(en) <= MAX_TGT_LEN
                and " ".join(zh) not in seen
            ):
                break
        else:
            raise RuntimeError(f"{name}: cannot sample {combo}")
        seen.add(" ".join(zh))
        out.append(Sample(zh, en, align, sentence))
    return out


def _long_split(seed: int) -> list[Sample]:
    rng = SplitMix64(seed_for("test_long", seed))
    out: list[Sample] = []
    seen: set[str] = set()
    while len(out) < SIZES["test_long"]:
        sentence = sample_sentence(rng, long=True)
        zh, en, align = render(sentence)
        key = " ".join(zh)
        if (
            MAX_SRC_LEN < len(zh) <= LONG_MAX_SRC_LEN
            and key not in seen
            and not any(held_out(sentence))
        ):
            seen.add(key)
            out.append(Sample(zh, en, align, sentence))
    return out


def build_splits(seed: int = SEED) -> dict[str, list[Sample]]:
    """Every translation split (TRANSLATION_SPLITS) as `Sample`s, deterministic for a seed."""
    splits = _iid_splits(seed)
    combo_wants = [(dict(zip(_WANT_KEYS[c[0]], c[1:])), c) for c in HELD_OUT_COMBOS]
    struct_wants = [({s[0]: True, s[1]: True}, s) for s in HELD_OUT_STRUCTS]
    splits["test_combo"] = _forced_split("test_combo", seed, combo_wants)
    splits["test_struct"] = _forced_split("test_struct", seed, struct_wants)
    splits["test_long"] = _long_split(seed)
    splits["test_unk"] = _unk_split(seed)
    splits["train_compound"] = _extra_train_split("train_compound", seed, splits, _two_statements)
    splits["train_neg_comparative"] = _extra_train_split(
        "train_neg_comparative", seed, splits, lambda rng: [negated_comparative(rng)]
    )
    seen = {" ".join(s.src) for samples in splits.values() for s in samples}
    for name, pairs in everyday_splits(seed, SIZES, _within_limits, seen).items():
        splits[name] = [Sample(zh, en, align, sentence) for sentence, (zh, en, align) in pairs]
    return splits


def _within_limits(sentence: list[Clause], rendered: tuple) -> bool:
    """Within MAX_SRC_LEN / MAX_TGT_LEN and holding no held-out combination or construction."""
    zh, en, _ = rendered
    return len(zh) <= MAX_SRC_LEN and len(en) <= MAX_TGT_LEN and not any(held_out(sentence))


def _two_statements(rng: SplitMix64) -> list[Clause]:
    return [sample_clause(rng, {}, statement=True) for _ in range(2)]


def _extra_train_split(
    name: str,
    seed: int,
    splits: dict[str, list[Sample]],
    sample: Callable[[SplitMix64], list[Clause]],
) -> list[Sample]:
    """SIZES[name] sentences from `sample` on a stream of their own: within MAX_SRC_LEN /
    MAX_TGT_LEN, no held-out combination or construction, each source new (in no split of
    `splits`) and hashing into train's bucket (see _iid_splits)."""
    rng = SplitMix64(seed_for(name, seed))
    seen = {" ".join(s.src) for samples in splits.values() for s in samples}
    out: list[Sample] = []
    while len(out) < SIZES[name]:
        sentence = sample(rng)
        zh, en, align = render(sentence)
        key = " ".join(zh)
        if (
            len(zh) <= MAX_SRC_LEN
            and len(en) <= MAX_TGT_LEN
            and key not in seen
            and stable_hash(key) % 100 >= 10
            and not any(held_out(sentence))
        ):
            seen.add(key)
            out.append(Sample(zh, en, align, sentence))
    return out


def _unk_split(seed: int) -> list[Sample]:
    seen: set[str] = set()

    def accept(sentence: list[Clause], rendered: tuple) -> bool:
        zh, en, _ = rendered
        key = " ".join(zh)
        ok = len(zh) <= MAX_SRC_LEN and len(en) <= MAX_TGT_LEN and key not in seen
        if ok and not any(held_out(sentence)):
            seen.add(key)
            return True
        return False

    pairs = unknown_split(seed, SIZES["test_unk"], accept)
    return [Sample(zh, en, align, sentence) for sentence, (zh, en, align) in pairs]
