"""One training step of models.Transformer against the same architecture in PyTorch.

A step is forward, cross-entropy (PAD ignored), backward and an Adam update, on one batch of
random tokens with trailing padding. Both models are post-norm with ReLU and dropout 0 (so
neither spends time drawing masks), start from the same weights (the PyTorch one is loaded
from ours, and the script checks both give the same first loss), and run interleaved at 1 and
2 BLAS threads. Also: peak memory of a step (one subprocess per contender, see
benchmarks/README.md) and one multi-head attention block against a hand-written numpy floor.

Run from the repository root:
    python -m benchmarks.bench_train_step              # ~1-2 minutes
    python -m benchmarks.bench_train_step --quick      # tiny sizes, 1 repeat (the smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict

from benchmarks import _common, _memory
from benchmarks._mha import mha_contenders
from benchmarks._train import (
    CONFIGS,
    QUICK,
    TrainConfig,
    build_ours,
    build_torch,
    make_batch,
    ours_step,
    torch_step,
    train_contenders,
)


def time_config(name: str, cfg: TrainConfig, torch, thread_counts, repeats: int) -> list[list]:
    """Interleaved step times of both contenders at each thread count -> table rows."""
    tokens = cfg.batch * 2 * cfg.length  # source + target positions per step
    print(f"{name}: ", end="")
    contenders = train_contenders(torch, cfg, check=True)
    rows = []
    for n in thread_counts:
        with _common.threads(n, torch):
            times = _common.interleave(contenders, repeats, warmup=2)
        for who, samples in times.items():
            stats = _common.Stats.of(samples)
            vs = _common.ratio(times, "ours", "torch").ratio() if who == "ours" and torch else ""
            rows.append([name, n, who, stats.ms(), f"{tokens / stats.median:9.0f}", vs])
    return rows


def time_mha(torch, thread_counts, repeats: int, quick: bool) -> list[list]:
    """The MHA block at B=64, T=32, E=128, H=8 -> table rows with ratios to the floor."""
    sizes = (4, 8, 16, 2) if quick else (64, 32, 128, 8)
    b, t, e, h = sizes
    print(f"\nMHA block forward + backward (self-attention, no mask; B={b} T={t} E={e} H={h})")
    contenders = mha_contenders(torch, *sizes)
    rows = []
    for n in thread_counts:
        with _common.threads(n, torch):
            inner = _inner(contenders, 0 if quick else 0.05)
            times = _common.interleave(contenders, repeats, warmup=2, inner=inner)
        for who, samples in times.items():
            floor = _common.ratio(times, who, "numpy floor").ratio()
            rows.append([n, who, _common.Stats.of(samples).ms(), floor])
    return rows


def _inner(contenders: dict, target_s: float) -> dict[str, int]:
    """Calls per timed sample so that each sample lasts about target_s."""
    return {name: _common.calibrate(fn, target_s) for name, fn in contenders.items()}


def memory_rows(configs: dict[str, TrainConfig], with_torch: bool) -> list[list]:
    """Peak memory of each contender's steps, each measured in a fresh subprocess."""
    rows = []
    for name, cfg in configs.items():
        results = {}
        for who in ["ours"] + (["torch"] if with_torch else []):
            results[who] = _run_memory_child(who, cfg)
        for who, r in results.items():
            ratio = ""
            if who == "ours" and "torch" in results:
                ratio = f"{r['delta_mb'] / results['torch']['delta_mb']:.2f}x"
            traced = f"{r['traced_step_mb']:.1f}" if "traced_step_mb" in r else ""
            rows.append(
                [name, who, f"{r['delta_mb']:.1f}", ratio, traced, f"{r['baseline_mb']:.0f}"]
            )
    return rows


def _run_memory_child(who: str, cfg: TrainConfig) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [sys.executable, "-m", "benchmarks.bench_train_step", "--memory-child", who]
    command += ["--child-config", json.dumps(asdict(cfg))]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_child(who: str, cfg: TrainConfig) -> None:
    """Build one contender, then report its RSS growth over 3 steps as a JSON line."""
    batch = make_batch(cfg)
    model, optimizer = build_ours(cfg)
    if who == "torch":
        import torch

        model, optimizer = build_torch(torch, model)
        batch = tuple(torch.from_numpy(a) for a in batch)
        step = lambda: torch_step(torch, model, optimizer, batch)
    else:
        step = lambda: ours_step(model, optimizer, batch)
    result = _memory.measure(step, steps=3, trace_numpy=who == "ours")
    print(json.dumps(result))


def profile(cfg: TrainConfig, steps: int = 10, top: int = 25) -> None:
    """Print the functions where our train step spends its time (cProfile, 1 thread)."""
    import cProfile
    import pstats

    batch = make_batch(cfg)
    model, optimizer = build_ours(cfg)
    with _common.threads(1):
        ours_step(model, optimizer, batch)  # warm up
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [ours_step(model, optimizer, batch) for _ in range(steps)])
    print(f"cProfile of {steps} train steps, {cfg}, 1 thread; top {top} by own time")
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat, 1 thread")
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds per contender")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument(
        "--profile", choices=sorted(CONFIGS), help="only cProfile 10 steps of our model (1 thread)"
    )
    parser.add_argument("--memory-child", choices=["ours", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--child-config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, TrainConfig(**json.loads(args.child_config)))
        return
    if args.profile:
        profile(CONFIGS[args.profile])
        return
    torch = _common.import_torch()
    print(_common.runtime_report(torch))
    configs = QUICK if args.quick else CONFIGS
    repeats, thread_counts = (1, [1]) if args.quick else (args.repeats, args.threads)
    print(f"\nTrain step (forward + loss + backward + Adam), {repeats} interleaved rounds")
    rows = []
    for name, cfg in configs.items():
        rows += time_config(name, cfg, torch, thread_counts, repeats)
    headers = ["config", "threads", "who", "ms/step median [min-max]", "tokens/s", "ours/torch"]
    print(_common.table(headers, rows))
    mha = time_mha(torch, thread_counts, repeats, args.quick)
    print(_common.table(["threads", "who", "ms median [min-max]", "vs numpy floor"], mha))
    if not args.no_memory:
        print("\nPeak memory of a train step (RSS growth over 3 steps, fresh process, 1 thread)")
        headers = ["config", "who", "MB", "ours/torch", "numpy traced MB", "baseline RSS MB"]
        print(_common.table(headers, memory_rows(configs, torch is not None)))
    print(f"\nat the end: {_common.load_report()}")


if __name__ == "__main__":
    main()
