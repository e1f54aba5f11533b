"""`learn train`: with the library's bodies in the learner's files it reproduces the library's
losses (to float32 rounding), every op the model calls really runs the learner's class, and a
subtly wrong backward shows in the curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.learn.helpers import LIBRARY_IMPORTS, right_body, write
from tinygrad_attn.learn import train
from tinygrad_attn.learn.catalogue import MISTAKES
from tinygrad_attn.learn.cli import main
from tinygrad_attn.learn.exercises import BY_NAME, EXERCISES
from tinygrad_attn.learn.grader import load_class

STEPS = 6


def _classes(tmp_path: Path, bodies: dict[str, str]) -> list:
    classes = []
    for name, body in bodies.items():
        path = write(tmp_path, BY_NAME[name], body, LIBRARY_IMPORTS.get(name, ""))
        classes.append(load_class(BY_NAME[name], path))
    return classes


def _runs(tmp_path: Path, bodies: dict[str, str]) -> tuple[list, list, dict, dict]:
    exercises = [BY_NAME[name] for name in bodies]
    mapping, _ = train.replacements(exercises, _classes(tmp_path, bodies))
    pairs, _ = train.load_pairs(limit=64)
    batches, src_vocab, tgt_vocab = train._batches(pairs, 8, STEPS, seed=0)
    ours, _ = train.run(batches, (src_vocab, tgt_vocab), {}, seed=0)
    theirs, counts = train.run(batches, (src_vocab, tgt_vocab), mapping, seed=0)
    return ours, theirs, mapping, counts


def test_the_library_bodies_reproduce_the_library_losses(tmp_path: Path) -> None:
    bodies = {e.name: right_body(e) for e in EXERCISES}
    ours, theirs, mapping, counts = _runs(tmp_path, bodies)
    np.testing.assert_allclose(theirs, ours, rtol=1e-5)
    called = {op.__name__ for op, replacement in mapping.items() if replacement in counts}
    assert called == {"Mul", "Linear", "CrossEntropy", "LayerNorm", "Embedding",
                      "ScaledDotProductAttention"}  # fmt: skip
    assert not set(mapping) & set(counts)  # no library node left of an op that was replaced


def test_softmax_and_log_softmax_alone_run_inside_the_fused_ops(tmp_path: Path) -> None:
    bodies = {name: right_body(BY_NAME[name]) for name in ("softmax", "log_softmax")}
    ours, theirs, mapping, counts = _runs(tmp_path, bodies)
    np.testing.assert_allclose(theirs, ours, rtol=1e-5)
    names = {cls.__name__ for cls in counts}
    assert {"SoftmaxAttentionStandIn", "LogSoftmaxCrossEntropyStandIn"} <= names


def test_a_subtly_wrong_backward_changes_the_curve(tmp_path: Path) -> None:
    wrong = next(m for m in MISTAKES["layer_norm"] if m.name.endswith("variance missing"))
    ours, theirs, _, _ = _runs(tmp_path, {"layer_norm": wrong.body})
    assert ours[0] == pytest.approx(theirs[0])  # the same start: only the gradients differ
    assert max(abs(a - b) for a, b in zip(ours, theirs)) > 1e-3


def test_learn_train_prints_both_curves(tmp_path: Path, capsys) -> None:
    write(tmp_path, BY_NAME["softmax"], right_body(BY_NAME["softmax"]))
    assert main(["check", "softmax", "--dir", str(tmp_path), "--max-examples", "3"]) == 0
    write(tmp_path, BY_NAME["cross_entropy"], right_body(BY_NAME["cross_entropy"]))
    code = main(["train", "--dir", str(tmp_path), "--steps", "4", "--try", "cross_entropy"])
    out = capsys.readouterr().out
    assert code == 0
    assert "your ops in this run: softmax, cross_entropy" in out
    assert (
        "softmax: yours ran in ScaledDotProductAttention's weights P = softmax(A) (3 calls" in out
    )
    assert "cross_entropy: yours ran in CrossEntropy (1 call a step)" in out
    assert "step    library      yours   difference" in out
    assert "steps 1-4 agree to" in out and "your backwards train the model as the" in out


def test_an_op_that_raises_in_the_model_is_reported(tmp_path: Path, capsys) -> None:
    # dK = s dA Q only has the right shape when L == S; cross-attention has L != S.
    wrong = next(m for m in MISTAKES["attention"] if m.name == "dK transposed")
    exercise = BY_NAME["attention"]
    lines = train.train([exercise], [load_class(exercise, write(tmp_path, exercise, wrong.body))],
                        steps=2)  # fmt: skip
    assert lines[-2].startswith("with your ops the run failed: ValueError")
    assert "the model's shapes are (B, T, E)" in capsys.readouterr().out


def test_without_the_clone_s_corpus_the_built_in_task_trains(tmp_path: Path) -> None:
    pairs, source = train.load_pairs(places=[tmp_path / "missing.tsv"])
    assert source.startswith("the built-in toy task") and len(pairs) == 160
    assert (["我", "不", "喜欢", "猫"], ["i", "do", "not", "like", "cats"]) in pairs
    batches, src_vocab, tgt_vocab = train._batches(pairs, 8, 4, seed=0)
    losses, _ = train.run(batches, (src_vocab, tgt_vocab), {}, seed=0)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
