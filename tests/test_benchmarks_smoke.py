"""Each benchmark script runs end to end with --quick (tiny sizes, 1 repeat), so none rots.

No timing assertions: only that each script finishes and prints its tables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {
    "bench_attention": ["MHA block", "Long sequences", "Blocks"],
    "bench_train_step": ["Train step", "MHA block", "Peak memory"],
    "bench_ops": ["Per-op", "MHA block", "Train step vs d_model"],
    "bench_decode": ["Greedy decoding", "Beam search"],
    "bench_faults": ["Minor page faults"],
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_script_runs_quick_and_prints_its_tables(script: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", f"benchmarks.{script}", "--quick"]
    if script == "bench_ops":
        command += ["--plot", str(tmp_path / "ops.png")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    for heading in SCRIPTS[script]:
        assert heading in done.stdout, f"{script}: no {heading!r} section in\n{done.stdout}"
    assert " nan" not in done.stdout.lower(), f"{script} printed a NaN:\n{done.stdout}"


def test_compare_first_order_runs_quick_against_its_own_checkout() -> None:
    command = [sys.executable, "-m", "benchmarks.compare_first_order", "--quick"]
    command += ["--old", str(ROOT), "--new", str(ROOT)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"compare_first_order failed:\n{done.stdout}\n{done.stderr}"
    for row in ("train step", "MHA block", "MHA / floor", "step MB"):
        assert row in done.stdout, f"no {row!r} row in\n{done.stdout}"
