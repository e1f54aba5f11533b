"""Helpers of the training script: flags from a dataclass, progress display, BLAS thread
limit, peak memory."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import resource
import sys
import time

try:
    from tqdm import tqdm
except ImportError:  # progress bars are optional: plain log lines instead
    tqdm = None


def flag_parser(config_cls: type, description: str, choices: dict) -> argparse.ArgumentParser:
    """One flag per dataclass field (`d_model` -> `--d-model`, bools are switches).

    Flags not given are absent from the parsed namespace (default SUPPRESS), so the caller
    knows which values the user chose.
    """
    parser = argparse.ArgumentParser(description=description)
    for f in dataclasses.fields(config_cls):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            parser.add_argument(flag, action="store_true", default=argparse.SUPPRESS)
            continue
        kind = {"int": int, "float": float, "str": str}[f.type]  # annotations are strings
        parser.add_argument(
            flag,
            type=kind,
            choices=choices.get(f.name),
            default=argparse.SUPPRESS,
            help=f"default: {f.default}",
        )
    return parser


class Progress:
    """A tqdm bar (on a terminal, if installed) or one log line every `log_every` updates."""

    def __init__(self, total: int, start: int, log_every: int) -> None:
        self.total, self.start, self.step, self.log_every = total, start, start, log_every
        self.tokens, self.t0 = 0, time.perf_counter()
        self.bar = None
        if tqdm is not None and sys.stderr.isatty():
            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

    def update(self, loss: float, lr: float, tokens: int) -> None:
        """Count one update; `tokens` = non-pad source + target tokens of its batch."""
        self.step += 1
        self.tokens += tokens
        elapsed = time.perf_counter() - self.t0  # evaluations included, as in the ETA
        rate = self.tokens / max(elapsed, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {loss:.3f} | lr {lr:.1e} | {rate:,.0f} tok/s")
            self.bar.update(1)
        elif self.step % self.log_every == 0 or self.step == self.total:
            left = elapsed / (self.step - self.start) * (self.total - self.step)
            self.write(
                f"step {self.step}/{self.total} | loss {loss:.3f} | lr {lr:.1e} | "
                f"{rate:,.0f} tok/s | eta {int(left) // 60}:{int(left) % 60:02d}"
            )

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def thread_limit(threads: int) -> contextlib.AbstractContextManager:
    """Limit BLAS to `threads` threads with threadpoolctl (0: leave numpy's default)."""
    if threads <= 0:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("warning: --threads needs threadpoolctl (pip install threadpoolctl)", file=sys.stderr)
        return contextlib.nullcontext()
    return threadpool_limits(threads)


def peak_memory_mb() -> float:
    """Peak resident memory of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
