"""The row type of the op tables and the two checks every row gets (forward, gradient)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from tinygrad_attn import GradcheckWarning, Tensor, gradcheck

from .strategies import Case


class Row(NamedTuple):
    """(name, our_fn, numpy_reference, strategy): fn(*tensors, **params) is our op under test,
    reference(*arrays, **params) the same math in plain numpy, cases draws the inputs."""

    name: str
    fn: Callable[..., Tensor]
    reference: Callable[..., Any]
    cases: SearchStrategy[Case]
    tol: float = 1e-9  # forward: |ours - reference| <= tol + tol * |reference|


def table(rows: list[Row]) -> Any:
    """Parametrise a test over a table, one test id per row name."""
    names = [r.name for r in rows]
    assert len(set(names)) == len(names), f"duplicate row names in {names}"
    return pytest.mark.parametrize("row", rows, ids=names)


def describe(case: Case) -> str:
    shapes = ", ".join(str(t.shape) for t in case.tensors)
    params = ", ".join(f"{k}={v!r}" for k, v in case.params.items() if not _is_array(v))
    return f"inputs {shapes}" + (f" ({params})" if params else "")


def _is_array(v: Any) -> bool:
    return isinstance(v, (np.ndarray, Tensor))


def assert_close(actual: Any, expected: Any, what: str, tol: float = 1e-9) -> None:
    """Same shape and dtype, and every element within tol (abs + rel); NaN/Inf must match."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    same_special = (np.isnan(a) & np.isnan(e)) | (np.isinf(e) & (a == e))
    with np.errstate(invalid="ignore"):  # inf - inf where both are the same infinity
        err = np.where(same_special, 0.0, np.abs(a - e))
    bad = ~(err <= tol + tol * np.abs(np.where(same_special, 0.0, e)))
    if bad.any():
        rel = err / np.maximum(np.abs(e), 1e-300)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {a.size} elements differ; max abs error "
            f"{np.nanmax(err):.3g}, max rel error {np.nanmax(rel):.3g} (tol {tol})"
        )


def check_forward(row: Row, case: Case) -> None:
    """Our op's output equals the numpy reference's, in values, shape and dtype."""
    expected = row.reference(*case.arrays(), **case.params)
    out = row.fn(*case.tensors, **case.params)
    assert_close(out.data, expected, f"{row.name} forward, {describe(case)}", row.tol)


def check_gradient(row: Row, case: Case) -> None:
    """gradcheck in float64 through a random upstream gradient (gradcheck draws it).

    A drawn case may legitimately have an all-zero gradient (relu of negatives, an all-True
    mask), so GradcheckWarning is silenced here; tests/test_mutations.py makes sure every op's
    check can fail on a sensitive example.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckWarning)
        gradcheck(lambda *ts: row.fn(*ts, **case.params), case.tensors)


def table_tests(rows: list[Row]) -> tuple[Callable, Callable]:
    """The two tests every op table gets, parametrised over its rows. In a test module:

    test_forward_matches_numpy_reference, test_gradient_matches_finite_differences = (
        table_tests(TABLE)
    )
    """

    @table(rows)
    @given(data=st.data())
    def forward(row: Row, data: st.DataObject) -> None:
        check_forward(row, data.draw(row.cases))

    @table(rows)
    @given(data=st.data())
    def gradient(row: Row, data: st.DataObject) -> None:
        check_gradient(row, data.draw(row.cases))

    return forward, gradient
