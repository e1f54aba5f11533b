"""A run directory as train_translation.py writes it (`RunDir`): the files of
_translation_io.py, saved with the run's config and checked on --resume; and the clean-up of
the temporary files a killed save leaves behind."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from _train_utils import interrupts_deferred
from _translation_io import (
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    STATE_FILE,
    VOCAB_FILE,
    RunFileError,
    check_task,
    load_weights,
    read_vocabs,
    vocab_digest,
    write_json,
    write_vocabs,
)
from toydata import Pair, Vocab

import tinygrad_attn as tg


class RunDir:
    """A run directory as train_translation.py writes it: config.json and vocab.json at the
    start, model.npz (the best weights so far) and train_state.npz at every evaluation,
    metrics.json at the end. `best` is the best valid exact match so far, `saved_step` the step
    train_state.npz holds (None before the first evaluation)."""

    def __init__(self, out: str | Path, config: dict[str, Any], free: Iterable[str] = ()) -> None:
        """`config`: the run's settings (saved with the weights); `free`: those a --resume may
        change (the others must match train_state.npz's)."""
        self.out = Path(out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            if not os.access(self.out, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as err:
            raise RunFileError(
                f"--out {out}: cannot be a run directory ({err.strerror or err})"
            ) from None
        remove_orphan_temps(self.out)  # left by a save that was killed (kill -9)
        self.config = {k: v for k, v in config.items() if k != "resume"}
        self.free = set(free) | {"out", "resume"}
        self.best, self.saved_step = -1.0, None
        self.vocabs: tuple[Vocab, Vocab] | None = None  # set by vocabularies()
        self.digest = ""

    def vocabularies(self, train: list[Pair], resume: bool) -> tuple[Vocab, Vocab]:
        """(src_vocab, tgt_vocab): built from the training pairs, or (resume) read back and
        checked against the task; then written with config.json (use_vocabularies)."""
        if resume:
            vocabs = read_vocabs(self.out)
            check_task(self.out, self.config["task"], self.config["direction"], *vocabs)
        else:
            vocabs = Vocab.build([p.src for p in train]), Vocab.build([p.tgt for p in train])
        self.use_vocabularies(*vocabs)
        return vocabs

    def use_vocabularies(self, src_vocab: Vocab, tgt_vocab: Vocab) -> None:
        """Write vocab.json and config.json (Ctrl-C waits until both are written); the weights
        saved from now on carry the digest."""
        self.vocabs, self.digest = (src_vocab, tgt_vocab), vocab_digest(src_vocab, tgt_vocab)
        with interrupts_deferred():
            write_vocabs(self.out, src_vocab, tgt_vocab)
            write_json(self.out / CONFIG_FILE, self.config)

    def save(self, model: tg.nn.Module, opt: Any, step: int, score: float) -> None:
        """model.npz if `score` (valid exact match) is the best so far, and train_state.npz.

        Ctrl-C during the save waits until both files are in place and `saved_step` says so."""
        weights = model.state_dict()
        with interrupts_deferred():
            remove_orphan_temps(self.out)
            if score >= self.best:  # ties go to the later, longer-trained model
                self.save_best(weights, step, score)
            state = {"model": weights, "optim": opt.state_dict(), "step": step}
            rng = json.dumps(tg.random.get_state())
            extra = {"rng": rng, "best": self.best, "vocab_sha256": self.digest}
            self._save(self.out / STATE_FILE, {**state, **extra, "config": self._config_json()})
            self.saved_step = step

    def save_best(self, weights: dict[str, np.ndarray], step: int, score: float) -> None:
        """model.npz: the weights (a state_dict) with their step and valid exact match."""
        best = {"model": weights, "step": step, "valid_exact": score}
        extra = {"vocab_sha256": self.digest, "config": self._config_json()}
        self._save(self.out / MODEL_FILE, {**best, **extra})
        self.best = score

    def _config_json(self) -> str:
        return json.dumps(self.config, ensure_ascii=False, sort_keys=True)

    def _save(self, path: Path, checkpoint: dict[str, Any]) -> None:
        """tg.save, with an OSError (disk full, directory removed) as a RunFileError."""
        try:
            tg.save(checkpoint, path)
        except OSError as err:
            raise RunFileError(f"{path}: cannot write it ({err.strerror or err})") from None

    def resume(self, model: tg.nn.Module, opt: Any, steps: int | None = None) -> int:
        """Model, optimizer, best score and RNG from train_state.npz; returns its step
        (RunFileError if the file is bad, was saved with another config in a field --resume
        may not change, or holds more than `steps` steps already)."""
        path = self.out / STATE_FILE
        fixed = [name for name in self.config if name not in self.free]
        state = load_weights(model, path, self.digest, self.config, fixed)
        try:
            opt.load_state_dict(state["optim"])
            step, self.best = state["step"], float(state["best"])
            if not isinstance(step, int) or step < 0:
                raise ValueError(f"step {step!r}")
            tg.random.set_state(json.loads(state["rng"]))  # dropout continues
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise RunFileError(f"{path}: not a resumable training state ({err!r})") from err
        if steps is not None and steps < step:
            raise RunFileError(
                f"--steps {steps}: {path} holds step {step} already; give --steps > {step} "
                "to train on"
            )
        if steps == step:
            print(f"note: {path} holds step {step} = --steps: nothing to train, report only")
        self.saved_step = step
        return step

    def load_best(self, model: tg.nn.Module) -> dict[str, Any]:
        """Load model.npz into `model`; returns the checkpoint (step, valid_exact, ...)."""
        return load_weights(model, self.out / MODEL_FILE, self.digest, self.config)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_json(self.out / METRICS_FILE, metrics)

    def interrupted_text(self, step: int, eval_every: int) -> str:
        """Where an interrupted run stopped and how to resume it."""
        if self.saved_step is None:
            return f"\ninterrupted at step {step}, before the first checkpoint (step {eval_every})"
        return (
            f"\ninterrupted at step {step}; {self.out / STATE_FILE} holds step "
            f"{self.saved_step}. Continue with\n"
            f"  python examples/train_translation.py --out {self.out} --resume"
        )


_TEMP = re.compile(r"\.(.+?)\.([0-9a-f]+\.)?tmp")  # tg.save's and write_json's temporary files


def remove_orphan_temps(out: Path) -> None:
    """Delete the temporary files of run files whose save was killed (kill -9, power loss).

    A finished save renames its temporary file, so any left over is an orphan, as long as no
    other process writes to the same run directory (a run directory belongs to one run).
    """
    names = {MODEL_FILE, STATE_FILE, VOCAB_FILE, CONFIG_FILE, METRICS_FILE}
    for tmp in out.glob(".*tmp"):
        match = _TEMP.fullmatch(tmp.name)
        if match and match.group(1) in names:
            tmp.unlink(missing_ok=True)
