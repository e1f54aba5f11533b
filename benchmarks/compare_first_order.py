"""First-order speed and memory of two checkouts, interleaved: did a change (issue 26's
create_graph engine) move the small train step or the MHA block's ratio to the numpy floor?

Each round runs one fresh subprocess per checkout, alternating which goes first; a child
imports tinygrad_attn and benchmarks._train / benchmarks._mha from its own checkout and reports
(as a JSON line) the median time of the "small" train step, the median time of the MHA block
(B=64, T=32, E=128, H=8, forward + backward) and of the numpy floor interleaved with it, and the
RSS growth of 3 train steps. The parent prints medians over the rounds and new / old ratios.

Run from the repository root, with the old checkout a git worktree (no build step needed):
    git worktree add /tmp/tg_main 51ca154
    python -m benchmarks.compare_first_order --old /tmp/tg_main --rounds 5
    python -m benchmarks.compare_first_order --old /tmp/tg_main --quick   # tiny sizes (smoke)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

# The child's code, run with -c in the checkout under test (so it needs nothing from this one).
CHILD = r"""
import json, statistics, sys, time
from benchmarks import _common, _memory
from benchmarks._mha import mha_contenders
from benchmarks._train import CONFIGS, QUICK, build_ours, make_batch, ours_step
quick, repeats = sys.argv[1] == "1", int(sys.argv[2])
cfg = QUICK["quick"] if quick else CONFIGS["small"]
with _common.threads(1):
    model, optimizer = build_ours(cfg)
    batch = make_batch(cfg)
    step = lambda: ours_step(model, optimizer, batch)
    memory = _memory.measure(step, steps=3)
    train = _common.interleave({"step": step}, repeats, warmup=2)["step"]
    sizes = (4, 8, 16, 2) if quick else (64, 32, 128, 8)
    mha = mha_contenders(None, *sizes)
    times = _common.interleave(mha, repeats, warmup=2)
print(json.dumps({
    "train_s": statistics.median(train),
    "mha_s": statistics.median(times["ours"]),
    "floor_s": statistics.median(times["numpy floor"]),
    "delta_mb": memory["delta_mb"],
}))
"""


def run_child(tree: Path, quick: bool, repeats: int) -> dict:
    """One measurement of the checkout at `tree`, in a fresh one-thread subprocess."""
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    command = [sys.executable, "-c", CHILD, "1" if quick else "0", str(repeats)]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(old: Path, new: Path, rounds: int, repeats: int, quick: bool) -> dict:
    """{"old": [results], "new": [results]}, the checkouts alternating first and second."""
    results: dict[str, list[dict]] = {"old": [], "new": []}
    for index in range(rounds):
        order = [("old", old), ("new", new)]
        for name, tree in order if index % 2 == 0 else order[::-1]:
            results[name].append(run_child(tree, quick, repeats))
    return results


def summary(results: dict) -> str:
    """Medians over the rounds and the new / old ratios (MHA as its ratio to the floor)."""

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    def floor_ratio(name: str) -> float:
        return statistics.median(r["mha_s"] / r["floor_s"] for r in results[name])

    lines = [f"{'':12}{'old':>12}{'new':>12}{'new/old':>10}"]
    for label, key in (("train step", "train_s"), ("MHA block", "mha_s")):
        a, b = median("old", key), median("new", key)
        lines.append(f"{label:12}{a * 1e3:10.2f}ms{b * 1e3:10.2f}ms{b / a:10.3f}")
    a, b = floor_ratio("old"), floor_ratio("new")
    lines.append(f"{'MHA / floor':12}{a:12.3f}{b:12.3f}{b / a:10.3f}")
    a, b = median("old", "delta_mb"), median("new", "delta_mb")
    lines.append(f"{'step MB':12}{a:12.1f}{b:12.1f}{b / max(a, 1e-9):10.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the flags, run the rounds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="checkout to compare against")
    parser.add_argument("--new", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--rounds", type=int, default=5, help="subprocess pairs")
    parser.add_argument("--repeats", type=int, default=9, help="timed samples per child")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round (smoke)")
    args = parser.parse_args(argv)
    rounds, repeats = (1, 2) if args.quick else (args.rounds, args.repeats)
    results = compare(args.old.resolve(), args.new.resolve(), rounds, repeats, args.quick)
    print(f"{rounds} interleaved rounds, 1 thread, old {args.old} vs new {args.new}")
    print(summary(results))


if __name__ == "__main__":
    main()
