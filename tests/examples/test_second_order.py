"""examples/second_order.py: the quick run prints its three checked results, and its power
iteration finds the top eigenvalue of a known Hessian."""

from __future__ import annotations

import re

import numpy as np
import second_order

import tinygrad_attn as tg


def test_quick_run_prints_the_three_results(capsys) -> None:
    assert second_order.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"1\. Hessian of cross-entropy .* max error \S+", out)
    error = float(re.search(r"finite differences of gradients: (\S+)", out).group(1))
    assert error < 1e-6
    found = re.search(r"iterations\): (\S+) at init .* (\S+) after 5 Adam updates", out)
    assert found and all(np.isfinite(float(v)) for v in found.groups()), out


def test_power_iteration_finds_the_top_eigenvalue_of_a_quadratic() -> None:
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    a = basis @ np.diag([5.0, 1.0, 0.5, -0.3, 0.2, 0.1]) @ basis.T  # top eigenvalue 5
    x = tg.Tensor(rng.standard_normal(6), requires_grad=True)

    def loss() -> tg.Tensor:
        return (x * (tg.Tensor(a) @ x)).sum() * 0.5  # Hessian a

    assert abs(second_order.top_eigenvalue(loss, [x], iters=60) - 5.0) < 1e-6
