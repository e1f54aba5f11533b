"""What went wrong, in words: the worst gradient entry of a failing input, and which known
mistake of the exercise's catalogue (catalogue.py) the learner's backward reproduces."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinygrad_attn.autograd import Function, unbroadcast
from tinygrad_attn.learn.cases import Case
from tinygrad_attn.learn.catalogue import MISTAKES, Mistake
from tinygrad_attn.learn.stubs import compile_body

ATOL, RTOL = 1e-5, 1e-3  # gradcheck's tolerances


@dataclass
class Failure:
    """A failed check: its kind, the lines that explain it, and the case it failed on."""

    kind: str  # "file", "not implemented", "forward", "error", "shape", "gradient", "property"
    lines: list[str]
    case: Case | None = None
    mistakes: list[Mistake] = field(default_factory=list)


@dataclass
class Attempt:
    """A backward's result on one case: its raw gradients, or the exception it raised."""

    grads: tuple | None
    error: BaseException | None = None


def run_backward(op: type[Function], backward, case: Case, grad_out: np.ndarray) -> Attempt:
    """Forward `op` on a copy of the case (a fresh ctx), then `backward(ctx, grad_out)`."""
    case = case.copy()
    ctx = op()
    ctx.needs_input_grad = case.needs
    try:
        op.forward(ctx, *case.inputs, **case.params)
        grads = backward(ctx, grad_out.copy())
    except Exception as err:  # noqa: BLE001 (a learner's backward may raise anything)
        return Attempt(None, err)
    if isinstance(grads, list):  # the engine reads a list as one gradient
        return Attempt(None, TypeError("backward returned a list: return a tuple, one per input"))
    return Attempt(grads if isinstance(grads, tuple) else (grads,))


def _same(mine: Attempt, theirs: Attempt, case: Case) -> bool:
    if mine.error is not None or theirs.error is not None:
        return type(mine.error) is type(theirs.error) and str(mine.error) == str(theirs.error)
    if len(mine.grads) != len(theirs.grads):
        return False
    for a, b, x in zip(mine.grads, theirs.grads, case.inputs):
        if x is None:
            continue
        if a is None or b is None:
            if a is not b:
                return False
            continue
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            a, b = _reduced(a, x.shape), _reduced(b, x.shape)
            if a is None or b is None:
                return False
        if not np.allclose(a, b, rtol=1e-7, atol=1e-9, equal_nan=True):
            return False
    return True


def _reduced(g: np.ndarray, shape: tuple) -> np.ndarray | None:
    try:
        return unbroadcast(g, shape)
    except ValueError:
        return None


def known_mistakes(name: str, op: type[Function], case: Case, grad_out, mine: Attempt) -> list:
    """The catalogued mistakes of exercise `name` whose result on `case` equals `mine`."""
    found = []
    for mistake in MISTAKES[name]:
        theirs = run_backward(op, compile_body(mistake.body), case, grad_out)
        if _same(mine, theirs, case):
            found.append(mistake)
    return found


def mistake_lines(mistakes: list[Mistake]) -> list[str]:
    """`looks like a known mistake: ...` lines (empty when none matched)."""
    if not mistakes:
        return []
    first = mistakes[0]
    lines = [f'looks like a known mistake, "{first.name}": {first.says}']
    lines += [f'  (or "{m.name}": {m.says})' for m in mistakes[1:]]
    return lines


def gradient_error(name: str, analytic: np.ndarray, numeric: np.ndarray) -> list[str] | None:
    """None when the gradient of input `name` agrees with finite differences, else the lines
    that say where it is worst."""
    excess = np.abs(analytic - numeric) - (ATOL + RTOL * np.abs(numeric))
    off = ~(excess <= 0) | ~np.isfinite(analytic)
    if not off.any():
        return None
    score = np.where(off, np.nan_to_num(excess, nan=np.inf), -np.inf)
    where = np.unravel_index(int(np.argmax(score)), analytic.shape)
    element = tuple(int(w) for w in where)
    error = np.nanmax(np.abs(analytic - numeric)) if np.isfinite(analytic).any() else np.nan
    return [
        f"the gradient of {name} is wrong ({int(off.sum())} of {off.size} entries off)",
        f"largest error {error:.3g}; worst at {name}{list(element)}: yours "
        f"{analytic[where]:.6g}, finite differences {numeric[where]:.6g}",
    ]
