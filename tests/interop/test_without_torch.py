"""Without PyTorch (hidden in a fresh interpreter): tinygrad_attn.interop still imports, each
use says how to install PyTorch, and every test that needs PyTorch skips cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HIDE_TORCH = "import sys; sys.modules['torch'] = None  # `import torch` now raises ImportError\n"
MODULE_SKIPS = [  # files that skip as a whole
    "tests/interop/test_layers.py",
    "tests/interop/test_transformer.py",
    "tests/examples/test_scale_out_with_pytorch.py",
    "tests/nn/test_torch_parity.py",
    "tests/test_torch_oracle.py",
]
TEST_SKIPS = [  # files where the PyTorch comparisons skip one by one (names say torch)
    "tests/optim/test_adam.py",
    "tests/optim/test_sgd.py",
    "tests/optim/test_lr_scheduler.py",
    "tests/test_dtypes.py",
    "tests/ops/test_elementwise.py",
]


def _run_hidden(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", HIDE_TORCH + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_interop_imports_and_names_the_install_command_on_use() -> None:
    code = """
from tinygrad_attn import interop, nn
assert interop.key_mapping(nn.Linear(2, 2)) == [(("weight",), "weight"), (("bias",), "bias")]
for use in (lambda: interop.to_torch(nn.Linear(2, 2)), lambda: interop.from_torch(None),
            lambda: interop.TorchTransformer):
    try:
        use()
    except ModuleNotFoundError as err:
        print(type(err).__name__, err.name, err)
"""
    result = _run_hidden(code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    for line in lines:
        assert line.startswith("ModuleNotFoundError torch "), line
        assert "pip install torch==2.13.0" in line, line


def test_every_pytorch_test_skips_cleanly() -> None:
    args = [*MODULE_SKIPS, *TEST_SKIPS, "-k", "torch", "-q", "-p", "no:cacheprovider", "-rs"]
    result = _run_hidden(f"import pytest; sys.exit(pytest.main({args!r}))")
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-3000:]
    assert not re.search(r"failed|error", summary), summary
    skipped = int(re.search(r"(\d+) skipped", summary).group(1))
    assert skipped >= len(MODULE_SKIPS) + len(TEST_SKIPS), summary
    reasons = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert reasons and all("torch" in line for line in reasons), reasons
