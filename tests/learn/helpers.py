"""What the learn tests share: a learner's file written from a backward body, and the library's
own backward body for each exercise (the stub plus the imports that body needs)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tinygrad_attn.learn import stubs
from tinygrad_attn.learn.exercises import Exercise
from tinygrad_attn.learn.grader import Report, grade

EXAMPLES = 10  # hypothesis draws per check: the CI budget, not the learner's default (25)

# Helpers a library backward calls beyond numpy, unbroadcast and row_sum.
LIBRARY_IMPORTS = {
    "sum": "from tinygrad_attn.ops.reduce import _expand_back",
    "layer_norm": "from tinygrad_attn.ops.norm import _normalize_backward",
    "batch_norm": "from tinygrad_attn.ops.norm import _normalize_backward",
}


def write(directory: Path, exercise: Exercise, body: str | None = None, extra: str = "") -> Path:
    """The learner's file for `exercise` with `body` as its backward (None: the stub's)."""
    path = directory / f"{exercise.name}.py"
    path.write_text(stubs.render(exercise, body, extra), encoding="utf-8")
    return path


def right_body(exercise: Exercise) -> str:
    """A right backward: the library's body (or, where the exercise wants input-shaped
    gradients and the library leaves that to the engine, the library's body un-broadcast)."""
    return stubs.SOLUTIONS.get(exercise.name) or stubs.library_body(exercise)


def scaled_body(exercise: Exercise, factor: float = 1.01) -> str:
    """A right backward whose every gradient is off by `factor`: subtly wrong."""
    return (
        "def right(ctx, grad_out):\n"
        + textwrap.indent(right_body(exercise), "    ")
        + "grads = right(ctx, grad_out)\ngrads = grads if isinstance(grads, tuple) else (grads,)\n"
        + f"return tuple(None if g is None else g * {factor} for g in grads)\n"
    )


def grade_body(directory: Path, exercise: Exercise, body: str | None, extra: str = "") -> Report:
    """Write the file and grade it with EXAMPLES hypothesis draws."""
    extra = extra or LIBRARY_IMPORTS.get(exercise.name, "")
    return grade(exercise, write(directory, exercise, body, extra), max_examples=EXAMPLES)
