"""Shared benchmark helpers: thread pinning, the runtime report, interleaved timing and ratios.

Timing protocol (every script): the contenders run in rounds, one call each per round, the
order reversed every other round, so slow drifts of a shared machine's load hit all of them
alike. A ratio is computed per round (ours / theirs from the same round) and reported as the
median with the min-max over rounds; times are reported as median and min-max too.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    import threadpoolctl
except ImportError:  # optional: without it the BLAS keeps its default thread count
    threadpoolctl = None


def import_torch() -> Any:
    """torch, or None with a printed message when it is not installed."""
    try:
        import torch
    except ImportError:
        print("PyTorch not installed: its columns are skipped (pip install torch==2.13.0)")
        return None
    return torch


@contextlib.contextmanager
def threads(n: int, torch: Any = None) -> Iterator[None]:
    """Pin numpy's BLAS (via threadpoolctl) and torch's intra-op pool to `n` threads."""
    torch_before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    limiter = threadpoolctl.threadpool_limits(n) if threadpoolctl else contextlib.nullcontext()
    try:
        with limiter:
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(torch_before)


def runtime_report(torch: Any = None) -> str:
    """Python, numpy and BLAS (library, version, CPU kernel, threads), torch: one line each."""
    lines = [
        f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {load_report()}"
    ]
    if threadpoolctl is None:
        lines.append(
            "threadpoolctl not installed: BLAS threads NOT pinned (pip install threadpoolctl, "
            "or set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS)"
        )
    else:
        for pool in threadpoolctl.threadpool_info():
            if pool["user_api"] == "blas":
                lines.append(
                    f"numpy BLAS: {pool['internal_api']} {pool.get('version')} "
                    f"({pool.get('architecture')}), default threads {pool['num_threads']}, "
                    "pinned per run with threadpoolctl"
                )
    if torch is not None:
        lines.append(
            f"torch {torch.__version__}, default intra-op threads {torch.get_num_threads()}, "
            "pinned per run with torch.set_num_threads"
        )
    return "\n".join(lines)


def load_report() -> str:
    """The 1-minute load average: other processes' demand on the CPUs (shared machines)."""
    if not hasattr(os, "getloadavg"):
        return "load average unknown"
    return f"load average {os.getloadavg()[0]:.2f}"


@dataclass
class Stats:
    """Median and range of a list of measurements."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Stats:
        return cls(statistics.median(values), min(values), max(values))

    def ms(self) -> str:
        return f"{self.median * 1e3:8.2f} ms [{self.low * 1e3:.2f}-{self.high * 1e3:.2f}]"

    def us(self) -> str:
        return f"{self.median * 1e6:8.1f} us [{self.low * 1e6:.1f}-{self.high * 1e6:.1f}]"

    def ratio(self) -> str:
        return f"{self.median:5.2f}x [{self.low:.2f}-{self.high:.2f}]"


def calibrate(fn: Callable[[], Any], target_s: float = 0.02) -> int:
    """How many calls of fn make one timed sample of about target_s (at least 1)."""
    if target_s <= 0:
        return 1
    fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, int(target_s / max(once, 1e-9)))


def interleave(
    contenders: dict[str, Callable[[], Any]],
    repeats: int,
    warmup: int = 1,
    inner: dict[str, int] | None = None,
    settle_s: float | None = None,
) -> dict[str, list[float]]:
    """Seconds per call of each contender, `repeats` samples each, alternating contenders.

    Each sample times `inner[name]` back-to-back calls (default 1) and divides by their number.
    `settle_s` is a pause before each sample: with several threads, the BLAS and OpenMP worker
    threads of the contender that just ran keep spinning for a while (OpenBLAS up to ~0.1 s)
    and would take a core from the next one. None: 0.2 s when the BLAS runs several threads.
    """
    inner = inner or {}
    if settle_s is None:
        settle_s = 0.2 if _blas_threads() > 1 else 0.0
    names = list(contenders)
    for name in names:
        for _ in range(warmup):
            contenders[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    # Collect once before timing. Not between rounds: garbage a framework leaves in cycles is
    # part of its cost, and a full collection with torch loaded takes ~0.1 s.
    gc.collect()
    for round_index in range(repeats):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            calls = inner.get(name, 1)
            fn = contenders[name]
            if settle_s:
                time.sleep(settle_s)
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) / calls)
    return times


def _blas_threads() -> int:
    """numpy's BLAS thread count now (the CPU count when threadpoolctl is missing)."""
    if threadpoolctl is None:
        return os.cpu_count() or 1
    pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    return max((p["num_threads"] for p in pools), default=1)


def ratio(times: dict[str, list[float]], numerator: str, denominator: str) -> Stats:
    """Per-round ratios numerator / denominator: median and min-max."""
    pairs = zip(times[numerator], times[denominator])
    return Stats.of([a / b for a, b in pairs])


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with columns padded to their widest cell."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)
