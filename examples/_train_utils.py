"""Helpers of the training script: flags from a dataclass and their type check, progress
display, BLAS thread limit, peak memory, Ctrl-C handling."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import resource
import signal
import sys
import time

try:
    from tqdm import tqdm
except ImportError:  # progress bars are optional: plain log lines instead
    tqdm = None


def flag_parser(config_cls: type, description: str, choices: dict) -> argparse.ArgumentParser:
    """One flag per dataclass field (`d_model` -> `--d-model`; a bool has --x and --no-x).

    Flags not given are absent from the parsed namespace (default SUPPRESS), so the caller
    knows which values the user chose.
    """
    parser = argparse.ArgumentParser(description=description)
    for f in dataclasses.fields(config_cls):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":  # --src-bos / --no-src-bos
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"default: {f.default}",
            )
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


class ConfigError(ValueError):
    """A config field of the wrong type or value: `field` names it, `problem` says what."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field, self.problem = field, problem


_TYPE_NAMES = {"int": "an int", "float": "a finite number", "str": "a string", "bool": "a bool"}


def check_types(config: object) -> None:
    """ConfigError for the first dataclass field whose value is not of its annotated type
    (int, float, str or bool; an int is fine where a float is expected, a bool is no number)."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if f.type == "float":
            ok = number and math.isfinite(value)
        elif f.type == "int":
            ok = number and isinstance(value, int)
        else:
            ok = type(value).__name__ == f.type
        if not ok:
            raise ConfigError(f.name, f"must be {_TYPE_NAMES[f.type]}, got {value!r}")


def interrupt_once() -> None:
    """Make the first Ctrl-C raise KeyboardInterrupt and ignore any after it (for a script's
    main thread): a second Ctrl-C while the first is being handled, reported and the process
    exits would otherwise be a KeyboardInterrupt traceback from wherever it lands."""

    def first_interrupt(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first_interrupt)


class Progress:
    """A tqdm bar (on a terminal, if installed) or one log line every `log_every` updates."""

    def __init__(self, total: int, start: int, log_every: int) -> None:
        self.total, self.start, self.step, self.log_every = total, start, start, log_every
        self.tokens, self.t0 = 0, time.perf_counter()
        self.bar = None
        if tqdm is not None and sys.stderr.isatty():
            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

    def update(self, losses: dict[str, float], lr: float, tokens: int) -> None:
        """Count one update; `losses` are shown by name ({"loss": 1.2, ...}), `tokens` = non-pad
        source + target tokens of its batch."""
        self.step += 1
        self.tokens += tokens
        elapsed = time.perf_counter() - self.t0  # evaluations included, as in the ETA
        rate = self.tokens / max(elapsed, 1e-9)
        shown = " | ".join(f"{name} {value:.3f}" for name, value in losses.items())
        if self.bar is not None:
            self.bar.set_postfix_str(f"{shown} | lr {lr:.1e} | {rate:,.0f} tok/s")
            self.bar.update(1)
        elif self.step % self.log_every == 0 or self.step == self.total:
            left = elapsed / (self.step - self.start) * (self.total - self.step)
            self.write(
                f"step {self.step}/{self.total} | {shown} | lr {lr:.1e} | "
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
