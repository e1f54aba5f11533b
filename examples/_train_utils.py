"""Helpers of the training script: flags from a dataclass and their type check, progress
display, BLAS thread limit, peak memory, Ctrl-C handling (and holding it off while run files
are written)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import resource
import signal
import sys
import threading
import time
from collections.abc import Iterator

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


# The data split a size field draws from: asking for more than it holds is an error, not a cap.
DRAWN_FROM = {
    "compound_pairs": "train_compound",
    "neg_comparative_pairs": "train_neg_comparative",
    "everyday_pairs": "train_everyday",
    "eval_size": "valid",
    "samples": "test_iid",
}


def check_against_data(cfg: object, data: dict[str, list]) -> None:
    """ConfigError when a size field asks for more pairs than its split holds (DRAWN_FROM), or
    max_len is shorter than the longest sequence the model will see: a source (with its start
    token when cfg.src_bos) or a target with its start / end token."""
    for name, split in DRAWN_FROM.items():
        value = getattr(cfg, name)
        if split in data and value > len(data[split]):
            raise ConfigError(name, f"must be <= {len(data[split])} ({split}), got {value}")
    longest, where = 0, ""
    for split, pairs in data.items():
        for p in pairs:
            n = max(len(p.src) + int(cfg.src_bos), len(p.tgt) + 1)
            if n > longest:
                longest, where = n, split
    if cfg.max_len < longest:
        raise ConfigError(
            "max_len",
            f"must be >= {longest}, the longest sequence of the data ({where}, with its start "
            f"or end token), got {cfg.max_len}",
        )


def _on(value: object) -> bool:
    """Whether a flag's value asks for something (not 0 / off / the default direction)."""
    return value not in (0, False, "zh-en")


def check_flags_used(given: dict[str, object], cfg: object) -> None:
    """ConfigError naming a flag the user gave that the run would ignore: the consistency and
    extra-pair flags outside the translation task, --direction with --task reversal, the
    consistency pair counts with --question-consistency 0, --unk-rate where no word can be
    masked (it masks Chinese source words: translation zh-en only), --unpunctuated-rate likewise
    (it drops a Chinese final 。/？)."""
    translation = cfg.task == "translation"
    only_translation = f"only --task translation uses it, not --task {cfg.task}"
    rules = [
        (name, translation, only_translation)
        for name in "compound_pairs neg_comparative_pairs question_consistency".split()
        + ["everyday_pairs", "consistency_pairs", "place_pairs"]
    ]
    rules += [("direction", cfg.task != "reversal", "a reversal is the same both ways")]
    rules += [
        (name, cfg.question_consistency > 0, "the consistency term is off (weight 0)")
        for name in ("consistency_pairs", "place_pairs")
    ]
    rules += [
        (
            "unk_rate",
            translation and cfg.direction == "zh-en",
            "it masks Chinese source words (--task translation --direction zh-en only)",
        ),
        (
            "unpunctuated_rate",
            translation and cfg.direction == "zh-en",
            "it drops a Chinese source's final 。/？ (--task translation --direction zh-en only)",
        ),
    ]
    for name, ok, why in rules:
        if name in given and _on(given[name]) and not ok:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(flag, f"{given[name]} would be ignored: {why}")


def interrupt_once() -> None:
    """Make the first Ctrl-C raise KeyboardInterrupt and ignore any after it (for a script's
    main thread): a second Ctrl-C while the first is being handled, reported and the process
    exits would otherwise be a KeyboardInterrupt traceback from wherever it lands."""

    def first_interrupt(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first_interrupt)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives inside the block until the block is done, then
    deliver it as the handler in place would have (KeyboardInterrupt): a run file being
    written is finished, renamed and recorded first. Outside the main thread (where signals
    cannot be handled) the block just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[object] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held and callable(previous):
            previous(signal.SIGINT, held[0])
        elif held and previous == signal.SIG_DFL:
            raise KeyboardInterrupt


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
