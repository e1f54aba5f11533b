"""examples/position_study.py, tiny: two schemes x two seeds on the reversal task, its table,
reuse of finished runs, and the heatmaps of the best and the worst scheme."""

from __future__ import annotations

import json

import numpy as np
import position_study as ps
import pytest

TINY_FLAGS = (
    "--task reversal --d-model 16 --nhead 2 --num-encoder-layers 1 --num-decoder-layers 1 "
    "--dim-feedforward 32 --steps 40 --batch-size 16 --warmup 5 --eval-every 40 --eval-size 20 "
    "--samples 0 --schemes rope sinusoidal --seeds 0 1 --jobs 1 --threads 1"
).split()


def test_tiny_study_prints_every_scheme_and_split_with_mean_and_range(tmp_path, capsys):
    assert ps.main(TINY_FLAGS + ["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    runs = {p.parent.name for p in tmp_path.glob("*/metrics.json")}
    assert runs == {"rope_s0", "rope_s1", "sinusoidal_s0", "sinusoidal_s1"}
    for scheme in ("rope", "sinusoidal"):
        row = next(line for line in out.splitlines() if line.startswith(scheme))
        longs = [
            json.loads((tmp_path / f"{scheme}_s{s}" / "metrics.json").read_text())["test_long"]
            for s in (0, 1)
        ]
        values = [m["exact_match"] for m in longs]
        expected = f"{np.mean(values):.1f} [{min(values):.1f}-{max(values):.1f}]"
        assert expected in row, (expected, row)
        assert row.count("-") >= 3, "test_combo, test_struct, test_unk: no such split in reversal"
    pytest.importorskip("matplotlib")
    pictures = sorted(p.name for p in tmp_path.glob("attention_*.png"))
    assert len(pictures) == 2 and pictures[0].startswith("attention_best_"), pictures
    assert all((tmp_path / p).stat().st_size > 5000 for p in pictures)


def test_finished_runs_are_read_not_retrained(tmp_path, monkeypatch, capsys):
    flags = TINY_FLAGS[:-8] + ["--schemes", "alibi", "--seeds", "0", "--jobs", "1"]
    assert ps.main(flags + ["--out", str(tmp_path)]) == 0
    monkeypatch.setattr(ps.tt, "train", lambda cfg: pytest.fail("retrained a finished run"))
    assert ps.main(flags + ["--out", str(tmp_path)]) == 0
    assert "alibi" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--pos", "rope"], "--pos is set by the study"),
        (["--schemes", "absolute"], "--schemes from"),
        (["--jobs", "0"], "--jobs >= 1"),
        (["--steps", "0"], "--steps must be >= 1"),
    ],
)
def test_bad_flags_are_named(flags, message, capsys):
    with pytest.raises(SystemExit):
        ps.main(flags)
    assert message in capsys.readouterr().err
