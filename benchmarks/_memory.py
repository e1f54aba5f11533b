"""Peak memory of a few training steps, as the operating system sees it (resident set size).

Used inside a fresh subprocess per contender (bench_train_step.py starts them), so neither
framework's earlier allocations or caches are counted for the other. The measure is the peak
RSS while the steps run minus the RSS just before them: activations, saved tensors, gradients,
optimizer state and temporaries, plus whatever the allocator keeps. Model weights, the batch and
the imported libraries are in the baseline. This counts PyTorch's and numpy's memory alike
(tracemalloc sees only numpy's buffers, torch's CPU allocator is invisible to it).
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

_MB = 2**20


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (Linux), in MB, or None elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024 / _MB
    except OSError:
        return None
    return None


def _max_rss_mb() -> float:
    """The process's peak RSS so far from getrusage (KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / _MB if sys.platform == "darwin" else peak * 1024 / _MB


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0: write 5 to clear_refs); False if not."""
    try:
        with open(f"/proc/{os.getpid()}/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def measure(step: Callable[[], Any], steps: int = 3, trace_numpy: bool = False) -> dict:
    """Run `step` `steps` times -> {"baseline_mb", "peak_mb", "delta_mb"} (+ "traced_step_mb").

    With trace_numpy, one more step runs under tracemalloc afterwards and "traced_step_mb" is
    the peak of the Python/numpy allocations it made (a cross-check for our side only).
    """
    gc.collect()
    reset = _reset_peak()
    baseline = _status_mb("VmRSS") or _max_rss_mb()
    for _ in range(steps):
        step()
    peak = _status_mb("VmHWM") if reset else None
    peak = peak or _max_rss_mb()
    result = {"baseline_mb": baseline, "peak_mb": peak, "delta_mb": peak - baseline}
    if trace_numpy:
        tracemalloc.start()
        step()
        result["traced_step_mb"] = tracemalloc.get_traced_memory()[1] / _MB
        tracemalloc.stop()
    return result
