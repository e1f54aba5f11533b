"""Minor page faults per call: what the C allocator costs, a measure a busy machine cannot blur.

A page fault is taken the first time a process touches a 4 KiB page the kernel has not yet
given it. glibc's malloc trims the top of its heap (and unmaps large chunks) once enough of it
is free, so a workload that frees everything at the end of a call (our backward frees the
graph) can fault its whole working set back in on the next call. Each case runs in a fresh
subprocess, is warmed up, then reports per call (steady state): minor faults
(getrusage ru_minflt), CPU ms (process time, which includes the kernel's fault handling), and
in one more call the peak of numpy's traced allocations and what the buffer pool keeps.

    python -m benchmarks.bench_faults                   # every case, pool on and off (~1 min)
    python -m benchmarks.bench_faults --cases mha floor --calls 50
    python -m benchmarks.bench_faults --mallopt         # also: glibc thresholds set by mallopt
    python -m benchmarks.bench_faults --lines mha --no-pool   # which lines take the faults

Cases: "mha" nn.MultiheadAttention fwd + bwd (B=64, T=32, E=128, 8 heads, causal bool
attn_mask, need_weights=False, as benchmarks/_mha.py builds it), "floor" the numpy floor of
benchmarks/_mha.py on the same block, "tiny" / "small" a train step (benchmarks/_train.py),
"t1024" the causal module path at T = 1024 (B=2, E=128, 8 heads).
--mallopt is an evaluation, not a recommendation: it sets M_MMAP_THRESHOLD to 64 MiB and
M_TRIM_THRESHOLD to 128 MiB through ctypes (glibc only; the same as the environment variables
MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_) before the case is built.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from benchmarks import _common

CASES = ("mha", "floor", "tiny", "small", "t1024")
CALLS = {"mha": 30, "floor": 30, "tiny": 15, "small": 6, "t1024": 6}
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers


def build(case: str) -> Callable[[], object]:
    """The zero-argument call of one case (fwd + bwd, or a train step)."""
    if case in ("mha", "floor"):
        from benchmarks._mha import mha_contenders

        contenders = mha_contenders(None, 64, 32, 128, 8, kind="causal")
        return contenders["ours" if case == "mha" else "numpy floor"]
    if case in ("tiny", "small"):
        from benchmarks._train import CONFIGS, train_contenders

        return train_contenders(None, CONFIGS[case])["ours"]
    return module_path(1024)


def module_path(length: int, batch: int = 2, embed: int = 128, heads: int = 8):
    """Causal self-attention through nn.MultiheadAttention with a bool attn_mask."""
    import tinygrad_attn as tg
    from tinygrad_attn import nn

    rng = np.random.default_rng(0)
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(embed, heads)
    x = tg.Tensor(rng.standard_normal((batch, length, embed), dtype=np.float32))
    x.requires_grad = True
    g = rng.standard_normal((batch, length, embed), dtype=np.float32)
    mask = np.triu(np.ones((length, length), dtype=bool), 1)

    def call() -> None:
        out, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
        out.backward(g)
        x.grad = None
        mha.zero_grad()

    return call


def measure(case: str, calls: int, pool: bool, mallopt: bool) -> dict:
    """Faults and CPU time per call after 3 warm-up calls, then one traced call."""
    if mallopt:
        set_mallopt()
    import tinygrad_attn as tg

    tg.set_buffer_pool(tg._buffers.DEFAULT_MAX_BYTES if pool else 0)
    fn = build(case)
    with _common.threads(1):
        for _ in range(3):
            fn()
        faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        cpu0 = time.process_time()
        for _ in range(calls):
            fn()
        cpu = (time.process_time() - cpu0) / calls
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / calls
        tracemalloc.start()
        fn()
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    kept = tg._buffers.POOL.kept_bytes()
    return {
        "faults": faults,
        "cpu_ms": cpu * 1e3,
        "traced_mb": traced / 2**20,
        "pool_mb": kept / 2**20,
    }


def set_mallopt() -> None:
    """glibc: mmap only past 64 MiB, trim the heap only past 128 MiB of free top."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(M_MMAP_THRESHOLD, 64 << 20)
    libc.mallopt(M_TRIM_THRESHOLD, 128 << 20)


def lines(case: str, calls: int = 3, top: int = 15) -> None:
    """Print the source lines of tinygrad_attn that take the most faults per call (a line
    tracer reading ru_minflt at every line event: slow, for finding, not for timing)."""
    import linecache

    fn = build(case)
    with _common.threads(1):
        for _ in range(3):
            fn()
        counts: dict = {}
        last: list = [None, resource.getrusage(resource.RUSAGE_SELF).ru_minflt]

        def tracer(frame, event, arg):
            if "tinygrad_attn" not in frame.f_code.co_filename:
                return None
            return local

        def local(frame, event, arg):
            now = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            if last[0] is not None:
                counts[last[0]] = counts.get(last[0], 0) + now - last[1]
            last[0] = (frame.f_code.co_filename, frame.f_lineno)
            last[1] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            return local

        sys.settrace(tracer)
        for _ in range(calls):
            fn()
        sys.settrace(None)
    print(f"{case}: faults per call by line (top {top})")
    for (path, line), n in sorted(counts.items(), key=lambda kv: -kv[1])[:top]:
        source = linecache.getline(path, line).strip()[:70]
        print(f"{n / calls:8.1f}  {path.split('tinygrad_attn/')[-1]}:{line}  {source}")


def run_child(case: str, calls: int, pool: bool, mallopt: bool) -> dict:
    command = [sys.executable, "-m", "benchmarks.bench_faults", "--child", case]
    command += ["--calls", str(calls)] + (["--no-pool"] if not pool else [])
    command += ["--mallopt"] if mallopt else []
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--calls", type=int, help="calls per measure (default: per case)")
    parser.add_argument("--mallopt", action="store_true", help="also with glibc thresholds")
    parser.add_argument("--lines", choices=CASES, help="only: faults per source line")
    parser.add_argument("--quick", action="store_true", help="the mha case, 2 calls")
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--no-pool", action="store_true", help="--lines without the pool")
    args = parser.parse_args(argv)
    if args.child:
        calls = args.calls or CALLS[args.child]
        print(json.dumps(measure(args.child, calls, not args.no_pool, args.mallopt)))
        return
    if args.lines:
        import tinygrad_attn as tg

        tg.set_buffer_pool(0 if args.no_pool else tg._buffers.DEFAULT_MAX_BYTES)
        lines(args.lines)
        return
    print(_common.runtime_report())
    cases = ["mha"] if args.quick else args.cases
    settings = [(True, False), (False, False)]
    settings += [(True, True), (False, True)] if args.mallopt else []
    rows = []
    for case in cases:
        calls = 2 if args.quick else args.calls or CALLS[case]
        for pool, mallopt in settings:
            if case == "floor" and pool:
                continue  # the floor is plain numpy: the pool never serves it
            r = run_child(case, calls, pool, mallopt)
            setting = ("pool" if pool else "no pool") + (", mallopt" if mallopt else "")
            rows.append([case, setting, f"{r['faults']:.1f}", f"{r['cpu_ms']:.2f}"])
            rows[-1] += [f"{r['traced_mb']:.1f}", f"{r['pool_mb']:.1f}"]
    print("\nMinor page faults per call (steady state, fresh process per row, 1 thread)")
    headers = ["case", "allocator", "faults/call", "CPU ms/call", "numpy peak MB", "pool MB"]
    print(_common.table(headers, rows))
    print("numpy peak: tracemalloc over one call; it does not see the pool's maps (pool MB).")
    print(f"\nat the end: {_common.load_report()}")


if __name__ == "__main__":
    main()
