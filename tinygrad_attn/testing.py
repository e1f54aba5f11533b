"""Hypothesis strategies for testing ops, and `check_op_grad` (needs the `test` extra).

Install with `pip install "tinygrad_attn[test]"` (pytest and hypothesis). A new op gets its
gradient property test in a few lines:

    from tinygrad_attn.testing import broadcastable_tensors, check_op_grad, shapes, tensors

    def test_softplus_gradient():               # one input, of any shape up to rank 4
        check_op_grad(Softplus.apply, tensors(shapes(max_side=4)))

    def test_swish_gradient():                  # two inputs whose shapes broadcast together
        check_op_grad(Swish.apply, broadcastable_tensors(max_side=4))

How many examples hypothesis draws comes from its settings profile. `load_profile()` registers
this project's three profiles and loads the one named by the HYPOTHESIS_PROFILE environment
variable; call it once in your own `conftest.py` to get the same thorough runs
(`HYPOTHESIS_PROFILE=ci python -m pytest`). Without it that variable does nothing: hypothesis
itself does not read it.

Values are kept well-conditioned by construction (never by rejecting draws): `away_from`
keeps them off kinks such as relu's 0, `distinct` spaces them apart so max/min have no near-ties,
and `low`/`high` keep them in a domain such as log's x > 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import hypothesis
import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from tinygrad_attn.gradcheck import gradcheck
from tinygrad_attn.tensor import Tensor

Shape = tuple[int, ...]

_COMMON = {"deadline": None, "suppress_health_check": (HealthCheck.too_slow,)}
PROFILES: dict[str, dict[str, Any]] = {
    "default": {"max_examples": 15, **_COMMON},  # quick: the everyday run
    "ci": {"max_examples": 40, "derandomize": True, **_COMMON},  # thorough and repeatable
    "dev": {"max_examples": 300, **_COMMON},  # many examples, when hunting a bug
}
"""The hypothesis settings profiles `load_profile` registers: name -> `hypothesis.settings`
arguments. No deadline (a gradient check of a big op is slow, not wrong)."""


def load_profile(name: str | None = None) -> str:
    """Register `PROFILES` with hypothesis and load one: `name`, else the HYPOTHESIS_PROFILE
    environment variable, else "default". Returns the name loaded. Call it once, at the top
    of a `conftest.py`:

        from tinygrad_attn.testing import load_profile
        load_profile()          # HYPOTHESIS_PROFILE=ci python -m pytest -> 40 examples a test

    ValueError for a name that is not one of `PROFILES`.
    """
    chosen = name or os.environ.get("HYPOTHESIS_PROFILE") or "default"
    if chosen not in PROFILES:
        raise ValueError(f"load_profile: unknown profile {chosen!r}; one of {list(PROFILES)}")
    for profile, kwargs in PROFILES.items():
        hypothesis.settings.register_profile(profile, **kwargs)
    hypothesis.settings.load_profile(chosen)
    return chosen


__all__ = [
    "arrays",
    "broadcastable_pair",
    "broadcastable_tensors",
    "PROFILES",
    "check_op_grad",
    "load_profile",
    "matmul_shapes",
    "shapes",
    "tensors",
]


def shapes(
    min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5
) -> SearchStrategy[Shape]:
    """Array shapes of rank min_dims..max_dims with sides min_side..max_side.

    Shapes: draws e.g. (), (3,), (2, 1, 4). Keep sides small for gradient checks: finite
    differences cost two forward passes per element.

    >>> from hypothesis import find
    >>> find(shapes(min_dims=2), lambda s: True)
    (1, 1)
    """
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_pair(
    min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5
) -> SearchStrategy[tuple[Shape, Shape]]:
    """Two shapes that broadcast together: size-1 axes and different ranks included.

    Shapes: draws e.g. ((3, 1), (4, 1, 5)) or ((), (2,)).

    >>> from hypothesis import find
    >>> a, b = find(broadcastable_pair(), lambda p: len(p[0]) != len(p[1]))
    >>> np.broadcast_shapes(a, b) is not None
    True
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda drawn: drawn.input_shapes)


def matmul_shapes(
    max_batch_dims: int = 2, min_side: int = 1, max_side: int = 4
) -> SearchStrategy[tuple[Shape, Shape]]:
    """Operand shapes for `a @ b` under np.matmul's rules: 1-D, 2-D and batched operands whose
    batch dims broadcast (each side may have a different number of them).

    Shapes: draws e.g. ((3,), (3, 2)), ((2, 1, 4, 3), (5, 3, 2)).
    """
    return hnp.mutually_broadcastable_shapes(
        signature=np.matmul.signature, max_dims=max_batch_dims, min_side=min_side,
        max_side=max_side,
    ).map(lambda drawn: drawn.input_shapes)  # fmt: skip


def _allowed_intervals(
    low: float, high: float, away_from: Sequence[float], gap: float
) -> list[tuple[float, float]]:
    """[low, high] minus an open ball of radius `gap` around each point of `away_from`."""
    intervals = [(float(low), float(high))]
    for point in away_from:
        cut = []
        for a, b in intervals:
            if point + gap <= a or point - gap >= b:
                cut.append((a, b))
                continue
            if a < point - gap:
                cut.append((a, point - gap))
            if point + gap < b:
                cut.append((point + gap, b))
        intervals = cut
    if not intervals:
        raise ValueError(
            f"arrays: nothing of [{low}, {high}] is at least {gap} away from {list(away_from)}"
        )
    return intervals


def _spread(u: np.ndarray, intervals: list[tuple[float, float]]) -> np.ndarray:
    """Map u in [0, total length] onto the intervals in order; distances never shrink."""
    lengths = np.array([b - a for a, b in intervals])
    starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    which = np.clip(np.searchsorted(starts, u, side="right") - 1, 0, len(intervals) - 1)
    lows = np.array([a for a, _ in intervals])
    return np.minimum(lows[which] + (u - starts[which]), [b for _, b in intervals][-1])


@st.composite
def _values(
    draw: Callable,
    shape: Shape,
    intervals: list[tuple[float, float]],
    min_gap: float,
    distinct: bool,
) -> np.ndarray:
    total = sum(b - a for a, b in intervals)
    n = int(np.prod(shape))
    spacing = min(min_gap, total / (2 * (n - 1))) if distinct and n > 1 else 0.0
    span = total - spacing * max(n - 1, 0)
    floats = st.floats(0.0, span, allow_subnormal=False)
    u = draw(hnp.arrays(np.float64, (n,), elements=floats))
    if distinct:
        # Sorted draws plus i * spacing are spacing apart; a drawn permutation shuffles them.
        u = np.sort(u) + spacing * np.arange(n)
        u = u[np.random.default_rng(draw(st.integers(0, 2**32 - 1))).permutation(n)]
    return _spread(u, intervals).reshape(shape)


def arrays(
    shape: Shape | SearchStrategy[Shape],
    dtype: Any = np.float64,
    low: float = -3.0,
    high: float = 3.0,
    away_from: Sequence[float] | None = None,
    min_gap: float = 0.1,
    distinct: bool = False,
) -> SearchStrategy[np.ndarray]:
    """Float arrays with well-conditioned values in [low, high].

    Shapes: `shape` is a tuple or a strategy of shapes (e.g. `shapes()`).
    Args:
        away_from: points every value keeps at least `min_gap` from (e.g. (0,) for relu/abs).
        distinct: space the values pairwise apart (at least `min_gap`, or the most that fits
            in the range when there are many), so max/min have no near-ties.

    >>> from hypothesis import find
    >>> x = find(arrays((4,), away_from=[0.0], distinct=True), lambda a: True)
    >>> bool(np.all(np.abs(x) >= 0.1)) and len(set(x.tolist())) == 4
    True
    """
    if not low < high:
        raise ValueError(f"arrays: need low < high, got [{low}, {high}]")
    intervals = _allowed_intervals(low, high, tuple(away_from or ()), min_gap)  # fails early
    shape_strategy = shape if isinstance(shape, SearchStrategy) else st.just(tuple(shape))
    return shape_strategy.flatmap(lambda s: _values(s, intervals, min_gap, distinct)).map(
        lambda a: a.astype(dtype)
    )


def tensors(
    shape: Shape | SearchStrategy[Shape],
    dtype: Any = np.float64,
    requires_grad: bool = True,
    **value_kwargs: Any,
) -> SearchStrategy[Tensor]:
    """Float64 Tensors requiring grad (by default) with values from `arrays(shape, ...)`.

    >>> from hypothesis import find
    >>> t = find(tensors((2, 3), low=0.5, high=2.0), lambda t: True)
    >>> t.shape, t.dtype, t.requires_grad
    ((2, 3), dtype('float64'), True)
    """
    return arrays(shape, dtype, **value_kwargs).map(
        lambda a: Tensor(a, requires_grad=requires_grad)
    )


def broadcastable_tensors(
    min_dims: int = 0,
    max_dims: int = 4,
    min_side: int = 1,
    max_side: int = 5,
    **value_kwargs: Any,
) -> SearchStrategy[tuple[Tensor, Tensor]]:
    """A pair of Tensors whose shapes broadcast together (see `broadcastable_pair`).

    `value_kwargs` go to `tensors` for both; for different value ranges per operand, draw the
    shapes with `broadcastable_pair` and build the tensors yourself.
    """
    pair = broadcastable_pair(min_dims, max_dims, min_side, max_side)
    return pair.flatmap(
        lambda shp: st.tuples(tensors(shp[0], **value_kwargs), tensors(shp[1], **value_kwargs))
    )


def _as_inputs(drawn: Any) -> list[Tensor]:
    """Drawn values as a flat list of Tensors: tuples are spliced, float arrays require grad."""
    if isinstance(drawn, (tuple, list)):
        return [t for item in drawn for t in _as_inputs(item)]
    if isinstance(drawn, Tensor):
        return [drawn]
    array = np.asarray(drawn)
    return [Tensor(array, requires_grad=array.dtype.kind == "f")]


def check_op_grad(
    fn: Callable[..., Tensor],
    *input_strategies: SearchStrategy[Any],
    settings: hypothesis.settings | None = None,
    **gradcheck_kwargs: Any,
) -> None:
    """Run `gradcheck(fn, inputs)` over inputs drawn by hypothesis; raises on the first failure.

    Each strategy draws one input (a Tensor, or an ndarray, wrapped as a Tensor that requires
    grad when it holds floats) or a tuple of them, spliced into the argument list so that one
    strategy can draw inputs with linked shapes (`broadcastable_tensors()`). Uses the active
    hypothesis settings profile unless `settings` is given; `gradcheck_kwargs` (eps, atol, rtol)
    go to `gradcheck`. Do not call it inside another `@given` test.

    >>> check_op_grad(lambda a, b: a * b, broadcastable_tensors(max_side=3))
    >>> check_op_grad(lambda x: x.log(), tensors(shapes(max_side=3), low=0.5, high=3.0))
    """
    if not input_strategies:
        raise ValueError("check_op_grad: give at least one input strategy")

    def check(drawn: tuple) -> None:
        gradcheck(fn, _as_inputs(drawn), **gradcheck_kwargs)

    test = given(st.tuples(*input_strategies))(check)
    if settings is not None:
        test = settings(test)
    test()
