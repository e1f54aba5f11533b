"""The command line: the listing with progress, start, check's exit codes, hints one at a time,
and the message when hypothesis is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.learn.helpers import right_body, write
from tinygrad_attn.learn.catalogue import MISTAKES
from tinygrad_attn.learn.cli import main
from tinygrad_attn.learn.exercises import BY_NAME, EXERCISES

ROOT = Path(__file__).resolve().parents[2]


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_listing_shows_the_exercises_in_order_and_the_progress(tmp_path: Path, capsys) -> None:
    code, out = _run(capsys, "--dir", str(tmp_path))
    assert code == 0
    rows = [line.split("]")[1].split()[0] for line in out.splitlines() if "] " in line]
    assert rows == [e.name for e in EXERCISES]
    assert "0 of 11 done. Next: python -m tinygrad_attn.learn start mul" in out
    write(tmp_path, BY_NAME["mul"], right_body(BY_NAME["mul"]))
    assert _run(capsys, "check", "mul", "--dir", str(tmp_path), "--max-examples", "5")[0] == 0
    _, out = _run(capsys, "--dir", str(tmp_path))
    assert "[ done  ] mul" in out and "1 of 11 done. Next: python -m tinygrad_attn.learn start " \
        "matmul" in out  # fmt: skip


def test_start_then_check_then_fix(tmp_path: Path, capsys) -> None:
    code, out = _run(capsys, "start", "softmax", "--dir", str(tmp_path))
    assert code == 0 and f"wrote {tmp_path / 'softmax.py'}" in out
    assert _run(capsys, "start", "softmax", "--dir", str(tmp_path))[0] == 1  # never overwrites
    code, out = _run(capsys, "check", "softmax", "--dir", str(tmp_path))
    assert code == 1 and "softmax: not implemented yet" in out
    write(tmp_path, BY_NAME["softmax"], MISTAKES["softmax"][0].body)
    code, out = _run(capsys, "check", "softmax", "--dir", str(tmp_path), "--max-examples", "5")
    assert code == 1 and '"no row-sum term"' in out
    write(tmp_path, BY_NAME["softmax"], right_body(BY_NAME["softmax"]))
    code, out = _run(capsys, "check", "softmax", "--dir", str(tmp_path), "--max-examples", "5")
    assert code == 0 and out.startswith("check softmax: passed")
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["completed"] == ["softmax"]


def test_hints_come_one_at_a_time_and_are_remembered(tmp_path: Path, capsys) -> None:
    hints = BY_NAME["tanh"].hints
    for number, hint in enumerate(hints, 1):
        code, out = _run(capsys, "hint", "tanh", "--dir", str(tmp_path))
        assert code == 0 and out.strip() == f"hint {number} of {len(hints)} for tanh: {hint}"
    _, out = _run(capsys, "hint", "tanh", "--dir", str(tmp_path))
    assert out.startswith("no more hints for tanh")
    assert json.loads((tmp_path / "progress.json").read_text())["hints"] == {"tanh": len(hints)}


def test_an_unknown_exercise_is_an_error_listing_the_names(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "relu", "--dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "no exercise 'relu'; the exercises are: mul, matmul" in capsys.readouterr().err


def test_without_hypothesis_check_says_which_extra_to_install(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # `import hypothesis` now fails
    write(tmp_path, BY_NAME["tanh"], right_body(BY_NAME["tanh"]))
    code, out = _run(capsys, "check", "tanh", "--dir", str(tmp_path))
    assert code == 1 and 'pip install -e ".[learn]"' in out


def test_python_dash_m_runs_the_listing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tinygrad_attn.learn", "--dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "11. [   -   ] attention" in done.stdout
