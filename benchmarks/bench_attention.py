"""Attention as users run it: the MHA block with real masks, long sequences, and blocking.

    python -m benchmarks.bench_attention                  # all sections, 1 and 2 threads (~3 min)
    python -m benchmarks.bench_attention --quick          # tiny sizes, 1 repeat (the smoke test)
    python -m benchmarks.bench_attention --blocks         # also: time vs query-block size

Sections:
- MHA block, forward + backward (B=64, T=32, E=128, 8 heads) for each mask kind of
  benchmarks/_mha.py (self, causal, decoder = causal + key padding, cross = against a padded
  memory): ours (nn.MultiheadAttention), the numpy floor, PyTorch; each / floor.
- Long sequences: causal self-attention (B=2, E=128, 8 heads), forward + backward, T = 256,
  1024, 4096: ours / PyTorch in time, and peak memory above the baseline, each contender in a
  fresh subprocess (benchmarks/_memory.py).
- Blocks (--blocks): the op's time with blocks of 8-64 query rows and with one block, causal
  and not, at a few (B, T): the measurements behind F._auto_block_size.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from benchmarks import _common, _memory
from benchmarks._mha import KINDS, mha_contenders
from tinygrad_attn import nn

ROOT = Path(__file__).resolve().parents[1]


def block_rows(torch, thread_counts: list[int], repeats: int, quick: bool) -> list[list]:
    """The MHA block of every mask kind -> rows [kind, threads, who, ms, vs floor]."""
    sizes = (4, 8, 16, 2) if quick else (64, 32, 128, 8)
    rows = []
    for kind in KINDS:
        contenders = mha_contenders(torch, *sizes, kind=kind)
        for n in thread_counts:
            with _common.threads(n, torch):
                inner = {
                    k: _common.calibrate(fn, 0 if quick else 0.05) for k, fn in contenders.items()
                }
                times = _common.interleave(contenders, repeats, warmup=2, inner=inner)
            for who, samples in times.items():
                floor = _common.ratio(times, who, "numpy floor").ratio()
                rows.append([kind, n, who, _common.Stats.of(samples).ms(), floor])
    return rows


def causal_step(who: str, length: int, batch: int = 2, embed: int = 128, heads: int = 8):
    """A forward + backward of causal self-attention by `who` ("ours" or "torch")."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((batch, length, embed), dtype=np.float32)
    g0 = rng.standard_normal((batch, length, embed), dtype=np.float32)
    # The mask as a decoder written against nn.MultiheadAttention passes it: a bool (T, T)
    # array, True above the diagonal (our module recognises it as causal, see _causal_mask.py).
    causal = np.triu(np.ones((length, length), dtype=bool), 1)
    if who == "ours":
        tg.manual_seed(0)
        mha, x = nn.MultiheadAttention(embed, heads), tg.Tensor(x0, requires_grad=True)

        def ours() -> None:
            x.grad = None
            mha.zero_grad()
            out, _ = mha(x, x, x, attn_mask=causal, need_weights=False)
            out.backward(g0)

        return ours
    import torch

    mha = torch.nn.MultiheadAttention(embed, heads, batch_first=True)
    xt, gt = torch.from_numpy(x0).requires_grad_(True), torch.from_numpy(g0)
    causal = torch.from_numpy(causal)  # with is_causal=True, PyTorch's own fast path

    def theirs() -> None:
        xt.grad = None
        mha.zero_grad(set_to_none=True)
        out, _ = mha(xt, xt, xt, attn_mask=causal, is_causal=True, need_weights=False)
        out.backward(gt)

    return theirs


def long_rows(torch, lengths: list[int], repeats: int, memory: bool) -> list[list]:
    """[T, ours ms, torch ms, ours/torch, ours MB, torch MB, MB ratio] at 1 thread."""
    rows = []
    for length in lengths:
        contenders = {"ours": causal_step("ours", length)}
        if torch is not None:
            contenders["torch"] = causal_step("torch", length)
        with _common.threads(1, torch):
            times = _common.interleave(contenders, repeats, warmup=1)
        row = [length, _common.Stats.of(times["ours"]).ms()]
        if torch is not None:
            row += [
                _common.Stats.of(times["torch"]).ms(),
                _common.ratio(times, "ours", "torch").ratio(),
            ]
        if memory:
            mb = {who: _peak_mb(who, length) for who in contenders}
            row += [f"{mb['ours']:.0f}"]
            if torch is not None:
                row += [f"{mb['torch']:.0f}", f"{mb['ours'] / mb['torch']:.2f}x"]
        rows.append(row)
    return rows


def _peak_mb(who: str, length: int) -> float:
    """Peak RSS above the baseline over 2 steps, measured in a fresh subprocess (1 thread)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [sys.executable, "-m", "benchmarks.bench_attention", "--memory-child", who]
    command += ["--length", str(length)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["delta_mb"]


def block_size_rows(repeats: int, quick: bool) -> list[list]:
    """[B, T, causal, ms per block size...] for F.attention's block_size, at 1 thread."""
    shapes = [(2, 64)] if quick else [(64, 64), (64, 128), (2, 256), (2, 1024), (2, 4096)]
    sizes: list[int | None] = [8, 16, 32, 64, None]
    rows = []
    for batch, length in shapes:
        for causal in (True, False):
            if length >= 4096 and not causal:
                continue  # one block would hold 2 GB of scores
            contenders = {
                str(size): _block_step(batch, length, causal, size)
                for size in sizes
                if not (size is None and length >= 4096)
            }
            with _common.threads(1):
                times = _common.interleave(contenders, 1 if length >= 4096 else repeats)
            cells = [
                _common.Stats.of(times[str(s)]).ms() if str(s) in times else "-" for s in sizes
            ]
            auto = F._auto_block_size((batch, 8, length, length), causal)
            rows.append([batch, length, causal, *cells, auto])
    return rows


def _block_step(batch: int, length: int, causal: bool, size: int | None):
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((batch, length, 384), dtype=np.float32), requires_grad=True)
    g = rng.standard_normal((batch, length, 128), dtype=np.float32)
    attend = functools.partial(F.attention, num_heads=8, packed=True, block_size=size)

    def step() -> None:
        x.grad = None
        out, _ = attend(x, None, None, causal_offset=0 if causal else None)
        out.backward(g)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 9, long 5)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--blocks", action="store_true", help="also time the block sizes")
    parser.add_argument("--memory-child", choices=["ours", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, default=1024, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:  # one contender's peak memory, as a JSON line (see _peak_mb)
        print(json.dumps(_memory.measure(causal_step(args.memory_child, args.length), steps=2)))
        return
    torch = _common.import_torch()
    print(_common.runtime_report(torch))
    repeats = 1 if args.quick else (args.repeats or 9)

    print("\nMHA block forward + backward by mask kind (B=64 T=32 E=128 H=8; --quick: tiny)")
    headers = ["kind", "threads", "who", "ms median [min-max]", "vs numpy floor"]
    print(_common.table(headers, block_rows(torch, args.threads, repeats, args.quick)))

    lengths = [32, 64] if args.quick else [256, 1024, 4096]
    print("\nLong sequences: causal self-attention forward + backward (B=2 E=128 H=8, 1 thread)")
    headers = ["T", "ours ms"] + (["torch ms", "ours/torch"] if torch else [])
    if not args.no_memory:
        headers += ["ours MB"] + (["torch MB", "MB ours/torch"] if torch else [])
    rows = long_rows(torch, lengths, 1 if args.quick else min(repeats, 5), not args.no_memory)
    print(_common.table(headers, rows))

    if args.blocks or args.quick:
        print("\nBlocks: F.attention forward + backward by query rows per block (E=128 H=8)")
        headers = ["B", "T", "causal", "8", "16", "32", "64", "one block", "auto"]
        print(_common.table(headers, block_size_rows(repeats, args.quick)))
    print(f"\nat the end: {_common.load_report()}")


if __name__ == "__main__":
    main()
