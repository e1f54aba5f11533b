"""`learn train`, the milestone: a small translation model trained twice from the same seed,
once with the library's ops and once with the learner's completed ops in their place (through
`tg.override_ops`), the two loss curves printed side by side.

Data: the toy zh->en corpus examples/data/zh_en/train.tsv when run from a clone (looked up
from the current directory, then beside the package); otherwise a small built-in task (short
sentences from a fixed lexicon), so an installed package trains too.
The model calls Linear, the fused ScaledDotProductAttention and the fused CrossEntropy: the
matmul and attention exercises stand in for the first two, and a completed softmax (when
attention is not) computes the attention weights, a completed log_softmax (when cross_entropy
is not) the loss's log-probabilities (standins.py, attention_op.py). The model is built without
dropout and without learned attention biases, which the attention exercise does not cover.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812
from tinygrad_attn import optim
from tinygrad_attn.autograd import Function, toposort
from tinygrad_attn.learn.attention_op import standin_for
from tinygrad_attn.learn.exercises import Exercise
from tinygrad_attn.learn.standins import (
    cross_entropy_standin,
    linear_standin,
    softmax_attention,
)
from tinygrad_attn.ops.attention_fast import ScaledDotProductAttention
from tinygrad_attn.ops.matmul import Linear
from tinygrad_attn.ops.nn import CrossEntropy

PAD, BOS, EOS = 0, 1, 2
AGREE_STEPS, AGREE_TOL = 50, 1e-4  # right backwards agree to ~1e-6 over these steps
_CORPUS = Path("examples") / "data" / "zh_en" / "train.tsv"
_SUBJECTS = {"我": "i", "你": "you", "他们": "they", "我们": "we"}
_VERBS = {"喜欢": "like", "看见": "see", "有": "have", "想要": "want"}
_OBJECTS = {"猫": "cats", "狗": "dogs", "书": "books", "茶": "tea", "苹果": "apples"}


def _builtin_pairs() -> list[tuple[list[str], list[str]]]:
    """Subject-verb-object sentences, with a negation: 我 不 喜欢 猫 -> i do not like cats."""
    pairs = []
    for (zs, es), (zv, ev), (zo, eo) in itertools.product(
        _SUBJECTS.items(), _VERBS.items(), _OBJECTS.items()
    ):
        pairs.append(([zs, zv, zo], [es, ev, eo]))
        pairs.append(([zs, "不", zv, zo], [es, "do", "not", ev, eo]))
    return pairs


def corpus_places() -> list[Path]:
    """Where the clone's corpus may be: under the current directory, then beside the package."""
    return [Path.cwd() / _CORPUS, Path(__file__).resolve().parents[2] / _CORPUS]


def load_pairs(limit: int = 512, places: list[Path] | None = None) -> tuple[list, str]:
    """(pairs of token lists, where they came from): the first corpus of `places` (default
    `corpus_places()`) that exists, else the built-in task."""
    for path in corpus_places() if places is None else places:
        if path.is_file():
            pairs = []
            for line in path.read_text(encoding="utf-8").splitlines()[1:]:
                src, tgt = line.split("\t")[:2]
                if len(src.split()) <= 8 and len(tgt.split()) <= 10:
                    pairs.append((src.split(), tgt.split()))
                if len(pairs) == limit:
                    break
            return pairs, str(path)
    return _builtin_pairs(), "the built-in toy task (no examples/data/zh_en found)"


def _batches(pairs: list, batch: int, steps: int, seed: int) -> list[tuple[np.ndarray, ...]]:
    """`steps` batches of (src, tgt_in, tgt_out) id arrays, padded, in a seeded order."""
    src_vocab = {w: i + 3 for i, w in enumerate(sorted({w for s, _ in pairs for w in s}))}
    tgt_vocab = {w: i + 3 for i, w in enumerate(sorted({w for _, t in pairs for w in t}))}
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        chosen = [pairs[i] for i in rng.choice(len(pairs), size=batch, replace=False)]
        s_len = max(len(s) for s, _ in chosen)
        t_len = max(len(t) for _, t in chosen) + 1
        src = np.full((batch, s_len), PAD)
        tgt = np.full((batch, t_len + 1), PAD)
        for row, (s, t) in enumerate(chosen):
            src[row, : len(s)] = [src_vocab[w] for w in s]
            tgt[row, : len(t) + 2] = [BOS] + [tgt_vocab[w] for w in t] + [EOS]
        out.append((src, tgt[:, :-1], tgt[:, 1:]))
    return out, len(src_vocab) + 3, len(tgt_vocab) + 3


def replacements(exercises: list[Exercise], classes: list[type[Function]]) -> tuple[dict, dict]:
    """(library op -> the learner's class or a stand-in running it, for `override_ops`;
    exercise name -> [(library op, how the learner's op runs there)])."""
    mine = {exercise.name: cls for exercise, cls in zip(exercises, classes)}
    mapping: dict = {}
    roles: dict = {name: [] for name in mine}
    for exercise, cls in zip(exercises, classes):
        if exercise.name != "attention":
            mapping[exercise.op] = cls
            roles[exercise.name].append((exercise.op, ""))
    if "matmul" in mine:
        mapping[Linear] = linear_standin(mine["matmul"])
        roles["matmul"].append((Linear, " as x Wᵀ"))
    if "attention" in mine:
        mapping[ScaledDotProductAttention] = standin_for(mine["attention"])
        roles["attention"].append((ScaledDotProductAttention, ""))
    elif "softmax" in mine:  # the model's only softmax is inside the fused attention
        mapping[ScaledDotProductAttention] = standin_for(softmax_attention(mine["softmax"]))
        roles["softmax"].append((ScaledDotProductAttention, "'s weights P = softmax(A)"))
    if "log_softmax" in mine and "cross_entropy" not in mine:  # and its log-softmax in the loss
        mapping[CrossEntropy] = cross_entropy_standin(mine["log_softmax"])
        roles["log_softmax"].append((CrossEntropy, "'s log-probabilities"))
    return mapping, roles


def run(batches: list, vocab: tuple[int, int], mapping: dict, seed: int) -> tuple[list, dict]:
    """Train from `seed` with `mapping` in force; (losses, op class -> nodes in one step)."""
    from models import Transformer

    tg.manual_seed(seed)
    sizes = dict(d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1)
    model = Transformer(*vocab, **sizes, dim_feedforward=64, dropout=0.0, max_len=32)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    losses, counts = [], {}
    with tg.override_ops(mapping):
        for step, (src, tgt_in, tgt_out) in enumerate(batches):
            logits = model(src, tgt_in)
            loss = F.cross_entropy(logits, tgt_out, ignore_index=PAD, label_smoothing=0.1)
            if step == 0:
                for node in toposort(loss.grad_fn):
                    counts[type(node)] = counts.get(type(node), 0) + 1
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
    return losses, counts


def train(exercises: list[Exercise], classes: list, steps: int = 120, seed: int = 0) -> list:
    """Both runs and the printed comparison; returns the printed lines (also printed)."""
    pairs, source = load_pairs()
    batches, src_vocab, tgt_vocab = _batches(pairs, 32, steps, seed)
    mapping, roles = replacements(exercises, classes)
    lines = [f"learn train: {len(pairs)} sentence pairs from {source}; {steps} Adam steps of "
             "32, a 1+1-layer transformer (d_model 32, 2 heads, no dropout)"]  # fmt: skip
    start = time.perf_counter()
    ours, _ = run(batches, (src_vocab, tgt_vocab), {}, seed)
    try:
        theirs, counts = run(batches, (src_vocab, tgt_vocab), mapping, seed)
    except Exception as err:  # noqa: BLE001 (a learner's op may raise anything)
        lines.append(f"with your ops the run failed: {type(err).__name__}: {err}")
        lines.append("(check each op you use: the model's shapes are (B, T, E), 4-D in attention)")
        print("\n".join(lines))
        return lines
    elapsed = time.perf_counter() - start
    for exercise in exercises:
        lines.append("  " + _usage(exercise.name, roles[exercise.name], mapping, counts))
    if not exercises:
        lines.append("  no exercise completed yet: both runs use the library's ops")
    lines.append(f"{'step':>6} {'library':>10} {'yours':>10} {'difference':>12}")
    shown = sorted(set(range(0, steps, max(steps // 12, 1))) | {steps - 1})
    for step in shown:
        diff = theirs[step] - ours[step]
        lines.append(f"{step + 1:>6} {ours[step]:>10.5f} {theirs[step]:>10.5f} {diff:>12.2e}")
    lines += _verdict(ours, theirs)
    lines.append(f"({elapsed:.0f} s for both runs)")
    print("\n".join(lines))
    return lines


def _verdict(ours: list[float], theirs: list[float]) -> list[str]:
    """Agreement over the first AGREE_STEPS steps decides; later, float32 rounding compounds
    (right backwards drift ~1e-3 apart by step 150, a wrong one by 1e-2 or more by step 50)."""
    early = min(len(ours), AGREE_STEPS)
    first = max(abs(a - b) for a, b in zip(ours[:early], theirs[:early]))
    worst = max(abs(a - b) for a, b in zip(ours, theirs))
    if first < AGREE_TOL:
        lines = [f"steps 1-{early} agree to {first:.1e}, float32 rounding: your backwards train "
                 "the model as the library's do"]  # fmt: skip
        if len(ours) > early:
            lines.append(f"(later steps drift to {worst:.1e} apart as rounding compounds)")
        return lines
    return [f"steps 1-{early} differ by up to {first:.1e}, far beyond float32 rounding: a "
            "backward of yours changes what the model learns (check your ops again)"]  # fmt: skip


_INSIDE = {  # where a completed softmax / log_softmax would run if its fused op were not done
    "softmax": " (its softmax is inside the attention, where your attention op runs)",
    "log_softmax": " (its log-softmax is inside the loss, where your cross_entropy runs)",
}


def _usage(name: str, roles: list, mapping: dict, counts: dict) -> str:
    """One line: where the exercise's op ran in the model, and how often one step calls it."""
    used = [(op, how, counts.get(mapping[op], 0)) for op, how in roles]
    used = [(op, how, n) for op, how, n in used if n]
    if not used:
        names = ", ".join(op.__name__ for op, _ in roles)
        inside = _INSIDE.get(name, "")
        return f"{name}: not used, this model never calls {names}{inside}"
    return f"{name}: yours ran in " + ", ".join(
        f"{op.__name__}{how} ({n} call{'' if n == 1 else 's'} a step)" for op, how, n in used
    )
