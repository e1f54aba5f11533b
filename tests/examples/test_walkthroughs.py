"""The study examples run with small sizes and every check they print holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import attention_walkthrough
import custom_op
import layernorm_vs_batchnorm
import numpy as np
import pytest
import rnn_vs_attention

import tinygrad_attn as tg

ROOT = Path(__file__).resolve().parents[2]
EXACT = 1e-10  # float64: the walkthroughs promise agreement to this


# ----- attention_walkthrough --------------------------------------------------------------
@pytest.mark.parametrize(("seed", "dim", "heads"), [(0, 4, 2), (1, 6, 3), (2, 4, 1), (3, 8, 4)])
def test_walkthrough_every_printed_equal_is_equal_to_float64_precision(seed, dim, heads) -> None:
    lines: list[str] = []
    diffs = attention_walkthrough.run(seed, dim, heads, out=lines.append)
    equal_lines = [line for line in lines if line.lstrip().startswith(("equal", "DIFFERENT"))]
    assert len(equal_lines) == len(diffs)  # every printed comparison is returned, and checked
    assert not [line for line in lines if "DIFFERENT" in line]
    bad = {name: d for name, d in diffs.items() if not d < EXACT}
    assert not bad, f"walkthrough comparisons above {EXACT}: {bad}"


def test_walkthrough_checks_every_stage_of_forward_and_backward() -> None:
    diffs = attention_walkthrough.run(0, 4, 2, out=lambda line: None)
    names = " | ".join(diffs)
    for stage in (
        "the loop's alpha_1",
        "the loop's b_1",
        "F.scaled_dot_product_attention(q, k, v) == O^T",
        "MultiheadAttention output == O^T",
        "MultiheadAttention(2 heads) output",
        "head 2 weights",
        "dL/dV",
        "dL/dA-hat",
        "dL/dA (softmax backward)",
        "dL/dQ",
        "dL/dK",
        "dL/dW_q: by hand == engine W_q.grad",
        "dL/dW_q: by hand == MultiheadAttention q_proj.weight.grad",
    ):
        assert stage in names, stage


def test_walkthrough_report_flags_a_real_difference() -> None:
    lines: list[str] = []
    report = attention_walkthrough.Report(lines.append)
    report.equal("off by 1e-6", np.zeros(3), np.array([0.0, 1e-6, 0.0]))
    assert "DIFFERENT" in lines[0] and report.diffs["off by 1e-6"] == pytest.approx(1e-6)


def test_walkthrough_rejects_dim_not_divisible_by_heads() -> None:
    with pytest.raises(ValueError, match="dim 6 must be a multiple of heads 4"):
        attention_walkthrough.run(0, 6, 4, out=lambda line: None)


def test_walkthrough_command_line_runs_and_validates_its_options() -> None:
    script = str(ROOT / "examples" / "attention_walkthrough.py")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(
        [sys.executable, script, "--dim", "6", "--heads", "3", "--seed", "1"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "=== 7. backward" in ok.stdout and "DIFFERENT" not in ok.stdout
    bad = subprocess.run(
        [sys.executable, script, "--dim", "6", "--heads", "4"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "multiple of --heads" in bad.stderr


# ----- layernorm_vs_batchnorm -------------------------------------------------------------
def test_layernorm_vs_batchnorm_statistics_and_effects() -> None:
    lines: list[str] = []
    results = layernorm_vs_batchnorm.run(seed=0, out=lines.append)
    equal = results["equal"]
    assert len(equal) == sum(line.lstrip().startswith("equal") for line in lines) == 6
    assert all(v < EXACT for v in equal.values()), equal
    assert "batch_norm" in results["batch1_error"] and "(1, 5)" in results["batch1_error"]
    # Batch norm couples a token to its neighbours and to padding; layer norm never does.
    assert results["bn_context_change"] > 0.1 and results["ln_context_change"] < EXACT
    assert results["bn_padding_change"] > 0.1 and results["ln_padding_change"] < EXACT


def test_layernorm_vs_batchnorm_axes_hold_for_other_seeds() -> None:
    x, _ = layernorm_vs_batchnorm.make_batch(5)
    ln = layernorm_vs_batchnorm.layer_norm(x)
    bn, _ = layernorm_vs_batchnorm.batch_norm_train(x)
    real = np.abs(x).sum(-1) > 0  # padding tokens are all zero: variance 0, not 1
    assert np.allclose(ln.mean(-1), 0, atol=1e-12)
    assert np.allclose(ln.var(-1)[real], 1, atol=1e-3)  # var / (var + eps)
    assert np.allclose(bn.mean((0, 1)), 0, atol=1e-12)
    assert np.allclose(bn.var((0, 1)), 1, atol=1e-3)


# ----- rnn_vs_attention -------------------------------------------------------------------
def test_rnn_depth_grows_with_length_and_attention_depth_does_not() -> None:
    rows = rnn_vs_attention.run((4, 8), batch=2, dim=4, repeats=1, out=lambda line: None)
    short, long = rows
    assert short["rnn_error"] < EXACT
    assert long["rnn"]["depth"] - short["rnn"]["depth"] == 3 * (8 - 4)  # linear, add, tanh
    assert long["attention"]["depth"] == short["attention"]["depth"]
    assert all(row[m]["seconds"] > 0 for row in rows for m in ("rnn", "attention"))


def test_rnn_vs_attention_plot_writes_a_png(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    rows = rnn_vs_attention.run((4, 8), batch=2, dim=4, repeats=1, out=lambda line: None)
    path = tmp_path / "rnn.png"
    rnn_vs_attention.plot(rows, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


# ----- custom_op --------------------------------------------------------------------------
def test_custom_op_swish_property_test_passes() -> None:
    custom_op.check_swish_gradients()  # hypothesis over broadcastable (x, beta) pairs


def test_custom_op_property_test_catches_a_wrong_backward() -> None:
    class BrokenSwish(custom_op.Swish):
        @staticmethod
        def backward(ctx, grad_out):
            grad_x, grad_beta = custom_op.Swish.backward(ctx, grad_out)
            return grad_x, 0.5 * grad_beta  # wrong by a factor of two

    x = tg.Tensor(np.linspace(-2, 2, 6), requires_grad=True)
    beta = tg.Tensor(np.array(1.3), requires_grad=True)
    with pytest.raises(tg.GradcheckError, match="input 1"):
        tg.gradcheck(lambda a, b: BrokenSwish.apply(a, b), [x, beta])


def test_custom_op_example_checks_pass_and_training_lowers_the_loss() -> None:
    lines: list[str] = []
    results = custom_op.run(steps=60, seed=0, out=lines.append)
    assert results["forward_error"] < EXACT
    assert any("property test" in line and "passed" in line for line in lines)
    assert results["losses"][-1] < 0.25 * results["losses"][0]
    assert any("Swish" in line for line in lines)  # the graph shows the new op as one node


def test_swish_rejects_beta_that_does_not_broadcast_to_x() -> None:
    with pytest.raises(ValueError, match=r"swish: beta \(3,\) does not broadcast to x \(2, 4\)"):
        custom_op.swish(tg.Tensor(np.zeros((2, 4))), tg.Tensor(np.ones(3)))
