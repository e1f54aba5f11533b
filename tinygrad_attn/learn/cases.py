"""The inputs the grader tries: one fixed, well-conditioned example per exercise (chosen so that
every catalogued mistake shows on it) and a hypothesis strategy of shapes and parameters.

Values come from a drawn seed (uniform in [-2, 2], or a shuffled grid where ties or a tiny
variance would make finite differences meaningless), so hypothesis shrinks the shapes and the
parameters, which is what makes a counterexample readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError:  # the grader says which extra to install (grader.require_hypothesis)
    st = None


@dataclass
class Case:
    """Inputs (float64 arrays or None), keyword params, and which inputs want a gradient."""

    inputs: tuple
    params: dict = field(default_factory=dict)

    @property
    def needs(self) -> tuple[bool, ...]:
        """True for every input that is an array (None: an absent optional input)."""
        return tuple(x is not None for x in self.inputs)

    def copy(self) -> Case:
        """Fresh arrays (forwards may keep views of their inputs)."""
        inputs = tuple(None if x is None else x.copy() for x in self.inputs)
        params = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in self.params.items()}
        return Case(inputs, params)

    def values(self, names: tuple[str, ...], limit: int = 12) -> list[str]:
        """`x = [[0.1, -1.2]]` lines for small inputs (none if any input is bigger)."""
        arrays = [(n, x) for n, x in zip(names, self.inputs) if x is not None]
        if any(x.size > limit for _, x in arrays):
            return []
        return [f"{n} = {np.round(x, 3).tolist()}" for n, x in arrays]

    def describe(self, names: tuple[str, ...]) -> str:
        """`a (2, 1), b (3,), dim=1`: the shapes and the scalar params."""
        parts = [f"{n} {x.shape}" for n, x in zip(names, self.inputs) if x is not None]
        for key, value in self.params.items():
            if isinstance(value, np.ndarray):
                shown = value.tolist() if value.size <= 12 else f"array{value.shape}"
                parts.append(f"{key}={shown}")
            else:
                parts.append(f"{key}={value!r}")
        return ", ".join(parts)


def values(shape: tuple, seed: int, kind: str = "any") -> np.ndarray:
    """float64 values: "any" uniform in [-2, 2]; "distinct" a shuffled grid (no near-ties)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if kind == "distinct":
        return rng.permutation(np.linspace(-2.0, 2.0, max(size, 1)))[:size].reshape(shape)
    return rng.uniform(-2.0, 2.0, size).reshape(shape)


def causal(rows: int, cols: int) -> np.ndarray:
    """0 where key j <= query i, -inf after: (rows, cols)."""
    mask = np.zeros((rows, cols))
    mask[np.arange(cols)[None, :] > np.arange(rows)[:, None]] = -np.inf
    return mask


def _target(shape: tuple, classes: int, seed: int, ignore: bool) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    target = rng.integers(0, classes, size=shape)
    if ignore and target.size > 1:
        target.reshape(-1)[-1] = -100
    return target


FIXED: dict[str, Any] = {
    "mul": lambda: Case((values((2, 3), 0), values((3, 1, 1), 1))),
    "matmul": lambda: Case((values((2, 3, 3), 0), values((1, 3, 3), 1))),
    "sum": lambda: Case((values((3, 3), 0),), {"dim": (1,), "keepdim": False}),
    "tanh": lambda: Case((values((2, 3), 0),)),
    "softmax": lambda: Case((values((3, 3), 0),), {"dim": 0}),
    "log_softmax": lambda: Case((values((3, 3), 0),), {"dim": 0}),
    "cross_entropy": lambda: Case(
        (values((4, 3), 0),),
        {
            "target": np.array([0, 2, 1, -100]),
            "ignore_index": -100,
            "label_smoothing": 0.1,
            "reduction": "mean",
        },
    ),  # fmt: skip
    "layer_norm": lambda: Case(
        (values((3, 4), 0, "distinct"), values((4,), 1), values((4,), 2)),
        {"num_dims": 1, "eps": 1e-5},
    ),
    "batch_norm": lambda: Case(
        (values((4, 3), 0, "distinct"), values((3,), 1), values((3,), 2)),
        {"training": True, "running_mean": None, "running_var": None, "momentum": 0.1, "eps": 1e-5},
    ),  # fmt: skip
    "embedding": lambda: Case(
        (values((5, 3), 0),), {"indices": np.array([[0, 2, 2], [4, 1, 0]]), "padding_idx": 4}
    ),
    "attention": lambda: Case(
        (values((2, 3, 2), 0), values((2, 3, 2), 1), values((2, 3, 2), 2)), {"mask": causal(3, 3)}
    ),
}
"""Exercise name -> a function returning a fresh fixed Case."""


def _shape(draw: Any, min_dims: int = 1, max_dims: int = 3, max_side: int = 4) -> tuple:
    ndim = draw(st.integers(min_dims, max_dims))
    return tuple(draw(st.integers(1, max_side)) for _ in range(ndim))


def _seed(draw: Any) -> int:
    return draw(st.integers(0, 2**16))


def _elementwise(draw: Any) -> Case:
    return Case((values(_shape(draw, 0), _seed(draw)),))


def _mul(draw: Any) -> Case:
    out = _shape(draw, 1, 3)
    shapes = []
    for _ in range(2):
        drop = draw(st.integers(0, len(out)))  # leading axes this operand lacks
        kept = out[drop:]
        shapes.append(tuple(1 if draw(st.booleans()) else s for s in kept))
    seed = _seed(draw)
    return Case((values(shapes[0], seed), values(shapes[1], seed + 1)))


def _matmul(draw: Any) -> Case:
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch = _shape(draw, 0, 2, 3)
    a_batch = tuple(1 if draw(st.booleans()) else s for s in batch)
    b_batch = tuple(1 if draw(st.booleans()) else s for s in batch)[draw(st.integers(0, 2)) :]
    seed = _seed(draw)
    return Case((values(a_batch + (n, k), seed), values(b_batch + (k, m), seed + 1)))


def _along(draw: Any, shape: tuple) -> int:
    return draw(st.integers(-len(shape), len(shape) - 1))


def _sum(draw: Any) -> Case:
    shape = _shape(draw, 1, 3)
    axes = draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))
    keepdim = draw(st.booleans())
    return Case((values(shape, _seed(draw)),), {"dim": tuple(sorted(axes)), "keepdim": keepdim})


def _softmax(draw: Any) -> Case:
    shape = _shape(draw, 1, 3)
    return Case((values(shape, _seed(draw)),), {"dim": _along(draw, shape)})


def _cross_entropy(draw: Any) -> Case:
    lead, classes, seed = _shape(draw, 1, 2, 3), draw(st.integers(2, 4)), _seed(draw)
    params = {
        "target": _target(lead, classes, seed, draw(st.booleans())),
        "ignore_index": -100,
        "label_smoothing": draw(st.sampled_from([0.0, 0.1, 0.3])),
        "reduction": draw(st.sampled_from(["mean", "sum", "none"])),
    }
    return Case((values(lead + (classes,), seed),), params)


def _layer_norm(draw: Any) -> Case:
    num_dims = draw(st.integers(1, 2))
    normalized = tuple(draw(st.integers(2, 4)) for _ in range(num_dims))
    lead, seed = _shape(draw, 0, 2, 3), _seed(draw)
    x = values(lead + normalized, seed, "distinct")
    weight, bias = values(normalized, seed + 1), values(normalized, seed + 2)
    if draw(st.booleans()):
        weight = bias = None  # elementwise_affine=False
    return Case((x, weight, bias), {"num_dims": num_dims, "eps": 1e-5})


def _batch_norm(draw: Any) -> Case:
    batch, channels = draw(st.integers(2, 4)), draw(st.integers(1, 3))
    length = draw(st.sampled_from([(), (1,), (2,), (3,)]))
    seed = _seed(draw)
    x = values((batch, channels) + length, seed, "distinct")
    params = {"training": True, "running_mean": None, "running_var": None, "momentum": 0.1,
              "eps": 1e-5}  # fmt: skip
    return Case((x, values((channels,), seed + 1), values((channels,), seed + 2)), params)


def _embedding(draw: Any) -> Case:
    vocab, dim = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    ids_shape, seed = _shape(draw, 1, 2, 4), _seed(draw)
    indices = np.random.default_rng(seed).integers(0, vocab, size=ids_shape)  # repeats likely
    padding = draw(st.one_of(st.none(), st.integers(0, vocab - 1)))
    return Case((values((vocab, dim), seed),), {"indices": indices, "padding_idx": padding})


def _attention(draw: Any) -> Case:
    batch, seed = _shape(draw, 0, 2, 2), _seed(draw)
    rows = draw(st.integers(1, 3))
    cols = rows + draw(st.integers(0, 2))  # S >= L: every query sees key 0
    d, dv = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    q, k = values(batch + (rows, d), seed), values(batch + (cols, d), seed + 1)
    return Case((q, k, values(batch + (cols, dv), seed + 2)), {"mask": causal(rows, cols)})


_DRAWS = {
    "mul": _mul, "matmul": _matmul, "sum": _sum, "tanh": _elementwise, "softmax": _softmax,
    "log_softmax": _softmax, "cross_entropy": _cross_entropy, "layer_norm": _layer_norm,
    "batch_norm": _batch_norm, "embedding": _embedding, "attention": _attention,
}  # fmt: skip


def strategy(name: str) -> Any:
    """The hypothesis strategy of Cases for exercise `name`."""
    draw_case = _DRAWS[name]
    return st.composite(lambda draw: draw_case(draw))()
