"""The learner's files: the stub `start` writes (the library's forward, a backward to write),
and the library's backward bodies (the tests paste them into a stub to check it passes).

A stub is a `Function` subclass of its own (never a subclass of the library op, so it cannot
inherit the library's backward) whose forward is the library op's forward, copied from its
source, saving exactly what the library saves.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable

import numpy as np

from tinygrad_attn.autograd import unbroadcast
from tinygrad_attn.learn.exercises import Exercise
from tinygrad_attn.ops.rowwise import row_sum

_IMPORTS = {
    "softmax": "from tinygrad_attn.ops.softmax import _shifted_exp",
    "log_softmax": "from tinygrad_attn.ops.softmax import _shifted_exp",
    "attention": "import math\n\nfrom tinygrad_attn.ops.softmax import _shifted_exp",
    "layer_norm": "from tinygrad_attn.ops.norm import _normalize",
    "batch_norm": "from tinygrad_attn.ops.norm import _normalize",
}
NOT_IMPLEMENTED = "not implemented yet"

SOLUTIONS = {  # the library's body relies on the engine's un-broadcast; these do it themselves
    "mul": "a, b = ctx.saved_tensors\n"
    "return unbroadcast(grad_out * b, a.shape), unbroadcast(grad_out * a, b.shape)\n",
    "matmul": "a, b = ctx.saved_tensors\n"
    "grad_a = grad_out @ np.swapaxes(b, -1, -2)\n"
    "grad_b = np.swapaxes(a, -1, -2) @ grad_out\n"
    "return unbroadcast(grad_a, a.shape), unbroadcast(grad_b, b.shape)\n",
}
"""Right backward bodies for the exercises whose library body is not one (strict shapes)."""


def _function_source(fn: Callable) -> tuple[list[str], ast.FunctionDef]:
    """The dedented source lines of a method (decorators dropped) and its parsed definition."""
    lines = textwrap.dedent(inspect.getsource(inspect.unwrap(fn))).splitlines()
    while lines[0].lstrip().startswith("@"):
        lines.pop(0)
    node = ast.parse("\n".join(lines)).body[0]
    return lines, node


def forward_source(exercise: Exercise) -> str:
    """The library op's forward, as it reads in its module (indented for a class body)."""
    lines, _ = _function_source(exercise.op.forward)
    return textwrap.indent("\n".join(lines), "    ")


def library_body(exercise: Exercise) -> str:
    """The body of the library op's backward, dedented, without its docstring (the math)."""
    lines, node = _function_source(exercise.op.backward)
    code = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return textwrap.dedent("\n".join(lines[code[0].lineno - 1 :])) + "\n"


def _backward_signature(exercise: Exercise) -> str:
    """The `def backward(...)` line(s) alone: the stub gets neither the body nor the docstring."""
    lines, node = _function_source(exercise.op.backward)
    return "\n".join(lines[: node.body[0].lineno - 1])


def render(exercise: Exercise, body: str | None = None, extra_imports: str = "") -> str:
    """The learner's file for `exercise`; `body` (default: raise NotImplementedError) is the
    backward's body."""
    if body is None:
        body = f'raise NotImplementedError("{exercise.name}: {NOT_IMPLEMENTED}")\n'
    imports = "\n".join(x for x in (_IMPORTS.get(exercise.name, ""), extra_imports) if x)
    return f'''"""Exercise: {exercise.name} ({exercise.teaches}).

Write the backward of {exercise.class_name} below: forward is the library's own (leave it as it
is), backward(ctx, grad_out) gets numpy arrays and returns one gradient per forward input.
Imported for you: np; unbroadcast(g, shape) sums g back to shape (the adjoint of
broadcasting); row_sum(x, dim) is np.sum(x, axis=dim, keepdims=True).
Then grade it:  python -m tinygrad_attn.learn check {exercise.name}
and ask for a hint: python -m tinygrad_attn.learn hint {exercise.name}
"""

from __future__ import annotations

import numpy as np

from tinygrad_attn.autograd import Function, unbroadcast
from tinygrad_attn.ops.rowwise import row_sum
{imports}


class {exercise.class_name}(Function):
    """{exercise.task}
    """

    @staticmethod
{forward_source(exercise)}

    @staticmethod
{textwrap.indent(_backward_signature(exercise), "    ")}
{textwrap.indent(body, "        ")}'''


def compile_body(body: str) -> Callable:
    """A backward function from a body's text, in the stub's namespace."""
    namespace = {"np": np, "unbroadcast": unbroadcast, "row_sum": row_sum}
    exec("def backward(ctx, grad_out):\n" + textwrap.indent(body, "    "), namespace)  # noqa: S102
    return namespace["backward"]
