"""Every exercise: the untouched stub says it is not implemented, each catalogued mistake fails
and is named, the library's own backward passes, and a wrong file fails although the library's
op is right (the grader grades the file it is given)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.learn.helpers import grade_body, right_body, scaled_body, write
from tinygrad_attn import Tensor, gradcheck
from tinygrad_attn.learn import stubs
from tinygrad_attn.learn.cases import FIXED
from tinygrad_attn.learn.catalogue import MISTAKES
from tinygrad_attn.learn.exercises import BY_NAME, EXERCISES
from tinygrad_attn.learn.grader import grade

NAMES = [e.name for e in EXERCISES]


def test_the_exercises_come_in_the_issue_order() -> None:
    assert NAMES == [
        "mul", "matmul", "sum", "tanh", "softmax", "log_softmax", "cross_entropy",
        "layer_norm", "batch_norm", "embedding", "attention",
    ]  # fmt: skip
    assert all(MISTAKES[name] for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_untouched_stub_fails_saying_not_implemented(tmp_path: Path, name: str) -> None:
    report = grade_body(tmp_path, BY_NAME[name], None)
    assert not report.passed
    assert report.failure.kind == "not implemented"
    assert f"{name}: not implemented yet" in "\n".join(report.lines)


_MISTAKES = [pytest.param(n, m, id=f"{n}-{m.name}") for n in NAMES for m in MISTAKES[n]]


@pytest.mark.parametrize("name, mistake", _MISTAKES)
def test_catalogued_mistake_fails_and_is_named(tmp_path: Path, name: str, mistake) -> None:
    report = grade_body(tmp_path, BY_NAME[name], mistake.body)
    text = "\n".join(report.lines)
    assert not report.passed, text
    assert f'looks like a known mistake, "{mistake.name}"' in text or (
        f'(or "{mistake.name}"' in text
    ), text
    assert mistake.says in text


@pytest.mark.parametrize("name", NAMES)
def test_library_backward_body_pasted_into_the_stub_passes(tmp_path: Path, name: str) -> None:
    exercise = BY_NAME[name]
    report = grade_body(tmp_path, exercise, stubs.library_body(exercise))
    if exercise.strict_shapes:  # the library leaves un-broadcasting to the engine: the lesson
        assert not report.passed
        assert '"missing un-broadcast"' in "\n".join(report.lines)
        report = grade_body(tmp_path, exercise, right_body(exercise))
    assert report.passed, "\n".join(report.lines)
    assert report.lines[0] == f"check {name}: passed"


def _library_passes_gradcheck(name: str) -> bool:
    """The library's op on the exercise's fixed example, through the engine's gradcheck."""
    case = FIXED[name]()
    params = dict(case.params)
    if name == "embedding":
        params["padding_idx"] = None  # a frozen padding row is no finite difference
    tensors = [None if x is None else Tensor(x, requires_grad=True) for x in case.inputs]
    op = BY_NAME[name].op

    def fn(*given: Tensor) -> Tensor:
        it = iter(given)
        return op.apply(*[None if t is None else next(it) for t in tensors], **params)

    return gradcheck(fn, [t for t in tensors if t is not None])


@pytest.mark.parametrize("name", NAMES)
def test_wrong_file_fails_though_the_library_op_is_right(tmp_path: Path, name: str) -> None:
    assert _library_passes_gradcheck(name)
    report = grade_body(tmp_path, BY_NAME[name], scaled_body(BY_NAME[name]))
    assert not report.passed
    assert report.failure.kind == "gradient"
    assert "largest error" in "\n".join(report.lines)


def test_a_class_inheriting_the_library_backward_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "softmax.py"
    path.write_text(
        "from tinygrad_attn.ops import softmax\n\nclass Softmax(softmax.Softmax):\n    pass\n",
        encoding="utf-8",
    )
    report = grade(BY_NAME["softmax"], path, max_examples=2)
    assert not report.passed and report.failure.kind == "file"
    assert "define forward and backward itself" in report.lines[1]
    path.write_text("from tinygrad_attn.ops.softmax import Softmax\n", encoding="utf-8")
    assert grade(BY_NAME["softmax"], path, max_examples=2).failure.kind == "file"


def test_a_changed_forward_fails(tmp_path: Path) -> None:
    path = write(tmp_path, BY_NAME["tanh"], right_body(BY_NAME["tanh"]))
    path.write_text(path.read_text().replace("y = np.tanh(x)", "y = np.tanh(x) * 1.001"))
    report = grade(BY_NAME["tanh"], path, max_examples=2)
    assert not report.passed and report.failure.kind == "forward"
    assert "your forward differs from the library's" in "\n".join(report.lines)


def test_a_shape_only_bug_is_shrunk_to_a_minimal_counterexample(tmp_path: Path) -> None:
    # Right on the fixed example (dim 0), wrong for any other axis: hypothesis must find and
    # shrink a case, and the report must show it with its values.
    body = "(y,) = ctx.saved_tensors\ngy = grad_out * y\n"
    body += "return gy - y * np.sum(gy, axis=0, keepdims=True)\n"
    report = grade_body(tmp_path, BY_NAME["softmax"], body)
    text = "\n".join(report.lines)
    shrunk = re.search(
        r"minimal counterexample \(hypothesis shrank it\): x \((\d), (\d)\), dim=(-?\d)", text
    )
    assert shrunk, text  # this hypothesis version gives x (1, 2), dim=1
    assert int(shrunk[1]) * int(shrunk[2]) <= 2 and shrunk[3] in ("1", "-1"), text
    assert "x = [[" in text
    assert "dx must sum to 0 along dim" in text


def test_the_stub_saves_what_the_library_saves() -> None:
    exercise = BY_NAME["softmax"]
    source = stubs.render(exercise)
    assert "ctx.save_for_backward(y)" in source and "ctx.dim = dim" in source
    assert "class Softmax(Function):" in source
    assert 'raise NotImplementedError("softmax: not implemented yet")' in source
    case = FIXED["softmax"]()
    namespace: dict = {}
    exec(compile(source, "softmax.py", "exec"), namespace)  # noqa: S102
    mine, theirs = namespace["Softmax"](), exercise.op()
    out = namespace["Softmax"].forward(mine, *case.inputs, **case.params)
    np.testing.assert_array_equal(out, exercise.op.forward(theirs, *case.inputs, **case.params))
    np.testing.assert_array_equal(mine.saved_tensors[0], theirs.saved_tensors[0])
    assert mine.dim == theirs.dim


@pytest.mark.parametrize("name", NAMES)
def test_the_answer_on_the_library_backward_stays_out_of_the_stub(name: str) -> None:
    """The library backward's docstring is its math: the stub copies the forward (docstring
    and all) and the backward's signature only, and the library body the tests paste is code."""
    exercise = BY_NAME[name]
    answer = exercise.op.backward.__doc__
    assert answer and answer.startswith("backward"), f"{exercise.class_name}.backward: no math"
    stub = stubs.render(exercise)
    assert answer not in stub and answer.splitlines()[0] not in stub
    assert answer.splitlines()[0] not in stubs.library_body(exercise)
    assert exercise.op.forward.__doc__ in stub  # the forward's docstring comes along


def test_docs_list_every_exercise_and_mistake() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "learn.md").read_text(encoding="utf-8")
    for name in NAMES:
        row = next(
            line for line in text.splitlines() if line.startswith("| ") and f"`{name}`" in line
        )
        for mistake in MISTAKES[name]:
            assert mistake.name in row, (name, mistake.name)


def test_a_list_of_gradients_is_refused_with_a_reason(tmp_path: Path) -> None:
    body = "a, b = ctx.saved_tensors\nreturn [unbroadcast(grad_out * b, a.shape), None]\n"
    report = grade_body(tmp_path, BY_NAME["mul"], body)
    assert "backward returned a list: return a tuple, one per input" in "\n".join(report.lines)
