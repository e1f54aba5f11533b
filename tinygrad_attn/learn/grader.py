"""The grader: imports the learner's file (never the library's op in its place) and checks its
class as the library's ops are checked: forward unchanged, float64 finite differences against
a random cotangent on a fixed example and on hypothesis-drawn inputs (shrunk to a minimal
counterexample when one fails), and the exercise's property; diagnosis.py says what is wrong.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinygrad_attn.autograd import Function
from tinygrad_attn.gradcheck import gradcheck
from tinygrad_attn.learn import diagnosis
from tinygrad_attn.learn.cases import FIXED, Case, strategy
from tinygrad_attn.learn.diagnosis import Attempt, Failure, run_backward
from tinygrad_attn.learn.exercises import Exercise
from tinygrad_attn.learn.properties import PROPERTIES
from tinygrad_attn.learn.stubs import NOT_IMPLEMENTED
from tinygrad_attn.tensor import Tensor

EXTRA_HINT = (
    'the grader needs hypothesis: pip install -e ".[learn]" from a clone (the test extra has it '
    'too), or pip install "tinygrad_attn[learn]"'
)


@dataclass
class Report:
    """The grade: passed, and the lines `check` prints."""

    passed: bool
    lines: list[str]
    failure: Failure | None = None


def load_class(exercise: Exercise, path: Path) -> type[Function]:
    """The learner's class from the file at `path`, imported from that file. Raises
    LearnerFileError saying what is wrong with it."""
    if not path.is_file():
        raise LearnerFileError(f"{path} does not exist: start with `learn start {exercise.name}`")
    spec = importlib.util.spec_from_file_location(f"_learn_{exercise.name}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 (a learner's file may raise anything)
        raise LearnerFileError(f"{path} does not import: {type(err).__name__}: {err}") from err
    cls = getattr(module, exercise.class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Function)):
        raise LearnerFileError(f"{path} defines no Function subclass {exercise.class_name}")
    if issubclass(cls, exercise.op) or "backward" not in vars(cls) or "forward" not in vars(cls):
        raise LearnerFileError(
            f"{exercise.class_name} in {path} must subclass Function (not the library's "
            f"{exercise.class_name}) and define forward and backward itself"
        )
    return cls


class LearnerFileError(Exception):
    """The learner's file is missing, does not import or lacks its class."""


def _numeric(exercise: Exercise, case: Case, i: int, grad_out: np.ndarray) -> np.ndarray:
    """Central differences of sum(forward(...) * grad_out) w.r.t. input i (library forward)."""
    eps, work = 1e-6, case.copy()
    inputs = list(work.inputs)
    flat = inputs[i].reshape(-1)
    grad = np.zeros(flat.size)

    def f() -> float:
        return float(np.sum(exercise.op.forward(exercise.op(), *inputs, **work.params) * grad_out))

    for j in range(flat.size):
        original = flat[j]
        flat[j] = original + eps
        plus = f()
        flat[j] = original - eps
        minus = f()
        flat[j] = original
        grad[j] = (plus - minus) / (2 * eps)
    grad = grad.reshape(inputs[i].shape)
    if exercise.name == "embedding" and work.params["padding_idx"] is not None:
        grad[work.params["padding_idx"]] = 0  # the padding row is frozen: no gradient by design
    return grad


def _forward_failure(exercise: Exercise, cls: type, case: Case) -> Failure | None:
    try:
        mine = cls.forward(cls(), *case.copy().inputs, **case.params)
    except Exception as err:  # noqa: BLE001
        return Failure("forward", [f"your forward raised {type(err).__name__}: {err}"], case)
    ref = exercise.op.forward(exercise.op(), *case.copy().inputs, **case.params)
    if np.shape(mine) != ref.shape or not np.allclose(mine, ref, rtol=1e-12, atol=1e-12):
        says = "your forward differs from the library's: leave it as `start` wrote it"
        return Failure("forward", [says + " (the exercise is the backward)"], case)
    return None


def _as_gradients(exercise: Exercise, attempt: Attempt, case: Case) -> tuple[list, Failure | None]:
    """The learner's gradients reduced to the inputs' shapes, or the Failure saying why not."""
    names, grads = exercise.inputs, attempt.grads
    if len(grads) != len(case.inputs):
        msg = f"backward returned {len(grads)} gradients for {len(case.inputs)} inputs ({names})"
        return [], Failure("shape", [msg], case)
    out = []
    for name, g, x in zip(names, grads, case.inputs):
        if x is None:
            out.append(None)
            continue
        if g is None:
            return [], Failure("shape", [f"backward returned None for {name}, which needs a "
                                         "gradient"], case)  # fmt: skip
        g = np.asarray(g, dtype=np.float64)
        if g.shape != x.shape:
            reduced = diagnosis._reduced(g, x.shape)
            if exercise.strict_shapes or reduced is None:
                return [], Failure("shape", [f"the gradient of {name} has shape {g.shape}, but "
                                             f"{name} has shape {x.shape}"], case)  # fmt: skip
            g = reduced
        out.append(g)
    return out, None


def check_case(exercise: Exercise, cls: type[Function], case: Case) -> Failure | None:
    """None if the learner's op is right on `case`, else what is wrong."""
    failure = _forward_failure(exercise, cls, case)
    if failure is not None:
        return failure
    out_shape = exercise.op.forward(exercise.op(), *case.copy().inputs, **case.params).shape
    grad_out = np.random.default_rng(0).standard_normal(out_shape)
    attempt = run_backward(cls, cls.backward, case, grad_out)
    if isinstance(attempt.error, NotImplementedError):
        return Failure("not implemented", [f"{exercise.name}: {NOT_IMPLEMENTED} (backward "
                                           "raises NotImplementedError)"], case)  # fmt: skip
    grads: list = []
    if attempt.error is not None:
        err = attempt.error
        failure = Failure("error", [f"your backward raised {type(err).__name__}: {err}"], case)
    else:
        grads, failure = _as_gradients(exercise, attempt, case)
    if failure is None:
        wrong: list[str] = []  # every input whose gradient is off, the first one first
        for i, (name, g) in enumerate(zip(exercise.inputs, grads)):
            if g is not None:
                lines = diagnosis.gradient_error(name, g, _numeric(exercise, case, i, grad_out))
                wrong += lines or []
        failure = Failure("gradient", wrong, case) if wrong else None
    if attempt.error is None and grads and exercise.name in PROPERTIES:
        violated = PROPERTIES[exercise.name](case, grads)
        if violated is not None and failure is None:
            failure = Failure("property", [f"a property of the right gradient fails: {violated}"])
        elif violated is not None:
            failure.lines.append(f"and a property of the right gradient fails: {violated}")
    if failure is not None:
        failure.mistakes = diagnosis.known_mistakes(
            exercise.name, exercise.op, case, grad_out, attempt
        )
    return failure


def _engine_failure(exercise: Exercise, cls: type[Function]) -> Failure | None:
    """tinygrad_attn.gradcheck of `cls.apply` on the fixed example: the op as the engine (and
    `learn train`) runs it. The embedding's padding row is left out (it has no gradient by
    design, which finite differences cannot know)."""
    case = FIXED[exercise.name]()
    if exercise.name == "embedding":
        case.params["padding_idx"] = None
    tensors = [None if x is None else Tensor(x, requires_grad=True) for x in case.inputs]

    def fn(*given: Tensor) -> Tensor:
        it = iter(given)
        return cls.apply(*[None if t is None else next(it) for t in tensors], **case.params)

    try:
        gradcheck(fn, [t for t in tensors if t is not None])
    except Exception as err:  # noqa: BLE001 (GradcheckError, or the learner's own error)
        return Failure("engine", [f"{type(err).__name__}: {err}"], case)
    return None


def _hypothesis_failure(exercise: Exercise, cls: type, max_examples: int) -> Failure | None:
    """Run check_case on hypothesis-drawn cases; the minimal failing case's Failure, or None."""
    from hypothesis import HealthCheck, given, settings

    found: list[Failure] = []

    @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)  # fmt: skip
    @given(strategy(exercise.name))
    def run(case: Case) -> None:
        failure = check_case(exercise, cls, case)
        if failure is not None:
            found.append(failure)
            raise _FailedError

    try:
        run()
    except _FailedError:
        return found[-1]  # hypothesis replays the shrunk example last
    return None


class _FailedError(Exception):
    """Raised inside the hypothesis test to mark a failing case."""


def require_hypothesis() -> None:
    """ImportError saying which extra to install when hypothesis is missing."""
    try:
        import hypothesis  # noqa: F401
    except ImportError as err:
        raise ImportError(EXTRA_HINT) from err


def grade(exercise: Exercise, path: Path, max_examples: int = 25) -> Report:
    """Grade the learner's file at `path` for `exercise`: the fixed example, then
    `max_examples` hypothesis-drawn cases."""
    require_hypothesis()
    try:
        cls = load_class(exercise, path)
    except LearnerFileError as err:
        failure = Failure("file", [str(err)])
        return Report(False, [f"check {exercise.name}: FAILED", f"  {err}"], failure)
    failure, where = check_case(exercise, cls, FIXED[exercise.name]()), "the fixed example"
    if failure is None:
        failure = _hypothesis_failure(exercise, cls, max_examples)
        where = "a minimal counterexample (hypothesis shrank it)"
    if failure is None:
        failure, where = _engine_failure(exercise, cls), "the fixed example, through the engine"
    if failure is None:
        lines = [f"check {exercise.name}: passed",
                 "  forward unchanged; gradients agree with float64 finite differences on the "
                 f"fixed example and on {max_examples} hypothesis-drawn inputs;",
                 f"  tg.gradcheck passes {exercise.class_name}.apply in the engine"]  # fmt: skip
        if exercise.name in PROPERTIES:
            lines.append("  and the right gradient's property holds")
        return Report(True, lines)
    lines = [f"check {exercise.name}: FAILED ({failure.kind})"]
    if failure.case is not None and failure.kind != "not implemented":
        lines.append(f"  on {where}: {failure.case.describe(exercise.inputs)}")
        lines += [f"    {line}" for line in failure.case.values(exercise.inputs)]
    lines += [f"  {line}" for line in failure.lines + diagnosis.mistake_lines(failure.mistakes)]
    if failure.kind == "not implemented":
        lines.append(f"  open {path}, write backward, then run check again")
    lines.append(f"  stuck? python -m tinygrad_attn.learn hint {exercise.name}")
    return Report(False, lines, failure)
