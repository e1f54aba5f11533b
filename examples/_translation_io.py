"""The files of a translation run: what train_translation.py writes and translate.py reads.

A run directory (`--out`, default runs/zh_en) holds (and `.<name>.<hex>.tmp` files only while
one is being written: `_run_dir.remove_orphan_temps` clears those a killed save left behind):
    model.npz        the best weights so far (by valid exact match): {"model": state_dict,
                     "step", "valid_exact", "vocab_sha256", "config"}; what translate.py loads
    train_state.npz  the latest resumable state: {"model", "optim", "step", "rng", "best",
                     "vocab_sha256", "config"}, replaced at every evaluation and at the end
    vocab.json       {"src": [tokens], "tgt": [tokens]} (ids are list positions)
    config.json      the training Config, field -> value
    metrics.json     the final test table, written by train_translation.py at the end
Every file is replaced atomically (written beside, then renamed), so Ctrl-C or a crash leaves the
previous version intact (a temporary file is removed when its write fails or is interrupted).
Loading checks that the weights match the vocabulary (a SHA-256 of vocab.json's content) and the
config: parameter shapes and dtypes, and the configuration saved with the weights ("config", the
JSON of config.json when they were saved), field by field: a config.json edited in a way that
keeps every shape (pos, nhead, src_bos, ...) is a RunFileError naming the field. Checkpoints
written before "config" was saved load as before (shapes checked only), with a warning. Every
failure is a `RunFileError` that names the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from toydata import Vocab

import tinygrad_attn as tg

MODEL_FILE = "model.npz"
STATE_FILE = "train_state.npz"
VOCAB_FILE = "vocab.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"


class RunFileError(Exception):
    """A run file is missing, unreadable, or does not match the others; the message names it."""


MEANING = (  # the config fields that change what a model's weights mean (checked on load)
    "task direction d_model nhead num_encoder_layers num_decoder_layers dim_feedforward "
    "norm_first pos src_bos"
).split()


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically: a temporary file beside `path`, flushed and fsynced, then
    `os.replace`. A failed or interrupted write (Ctrl-C) removes the temporary file; an OSError
    (unwritable directory, disk full) is a RunFileError naming `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    text = json.dumps(obj, ensure_ascii=False, indent=2) + "\n"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise RunFileError(f"{path}: cannot write it ({err.strerror or err})") from None
        raise


def read_json(path: Path) -> Any:
    """JSON content of a run file, or a RunFileError naming it."""
    if not path.is_file():
        raise RunFileError(
            f"{path}: file not found (train first: python examples/train_translation.py)"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFileError(f"{path}: not valid JSON ({err})") from err
    except RecursionError:
        raise RunFileError(f"{path}: not a run file (nested too deeply)") from None
    except OSError as err:
        raise RunFileError(f"{path}: cannot read it ({err.strerror or err})") from None


def read_dataclass(path: Path, cls: type, missing: dict[str, Any] | None = None) -> Any:
    """`cls(**json)` from a JSON file of its fields, or a RunFileError naming the file.

    A field the file lacks (saved before the field existed) takes its value from `missing`,
    else the class default."""
    saved = read_json(path)
    names = {f.name for f in dataclasses.fields(cls)}
    if not isinstance(saved, dict) or not set(saved) <= names:
        unknown = sorted(set(saved) - names) if isinstance(saved, dict) else type(saved).__name__
        raise RunFileError(f"{path}: not a {cls.__name__} file (unexpected {unknown})")
    return cls(**{**(missing or {}), **saved})


def vocab_task(src_vocab: Vocab, tgt_vocab: Vocab) -> str | None:
    """The task a vocabulary pair was built for: "translation zh-en", "translation en-zh",
    "reversal", "dates zh-en" or "dates en-zh"; None when it looks like none of them."""
    kinds = (_vocab_kind(src_vocab.itos[4:]), _vocab_kind(tgt_vocab.itos[4:]))
    return {
        ("zh", "words"): "translation zh-en",
        ("words", "zh"): "translation en-zh",
        ("letters", "letters"): "reversal",
        ("months", "words"): "dates zh-en",
        ("words", "months"): "dates en-zh",
    }.get(kinds)


def _vocab_kind(tokens: list[str]) -> str:
    """ "zh" (Chinese words), "letters" (a-j: reversal), "months" (dates source) or "words"."""
    if any(re.search("[\u4e00-\u9fff]", t) for t in tokens):
        return "zh"
    if tokens and all(len(t) == 1 and "a" <= t <= "j" for t in tokens):
        return "letters"
    return "months" if "january" in tokens else "words"


def check_task(out: Path, task: str, direction: str, src_vocab: Vocab, tgt_vocab: Vocab) -> None:
    """RunFileError when config.json's task/direction is not what vocab.json was built for."""
    found = vocab_task(src_vocab, tgt_vocab)
    expected = task if task == "reversal" else f"{task} {direction}"  # reversal is symmetric
    if found is not None and found != expected:
        raise RunFileError(
            f"{out / CONFIG_FILE} says task {task!r} direction {direction!r}, but "
            f"{out / VOCAB_FILE} holds a {found} vocabulary"
        )


def vocab_digest(src_vocab: Vocab, tgt_vocab: Vocab) -> str:
    """SHA-256 of both token lists: stored with the weights to detect a swapped vocab.json."""
    text = json.dumps({"src": src_vocab.itos, "tgt": tgt_vocab.itos}, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_vocabs(out: Path, src_vocab: Vocab, tgt_vocab: Vocab) -> None:
    write_json(out / VOCAB_FILE, {"src": src_vocab.itos, "tgt": tgt_vocab.itos})


def read_vocabs(out: Path) -> tuple[Vocab, Vocab]:
    """(src_vocab, tgt_vocab) from vocab.json, or a RunFileError naming it."""
    path = out / VOCAB_FILE
    data = read_json(path)
    try:
        return Vocab(data["src"]), Vocab(data["tgt"])
    except (KeyError, TypeError, ValueError) as err:
        raise RunFileError(f"{path}: not a vocabulary file ({err!r})") from err


def load_npz(path: Path) -> dict[str, Any]:
    """`tg.load(path)`, with a missing or corrupt file reported as a RunFileError naming it."""
    try:
        return tg.load(path)
    except FileNotFoundError as err:
        raise RunFileError(f"{path}: file not found") from err
    except ValueError as err:
        raise RunFileError(f"{path}: corrupt or not a checkpoint ({err})") from err


def load_weights(
    model: tg.nn.Module,
    path: Path,
    digest: str,
    config: dict[str, Any] | None = None,
    fields: Iterable[str] = MEANING,
) -> dict[str, Any]:
    """Load `path` (model.npz or train_state.npz) into `model`; returns the whole checkpoint.

    Raises RunFileError naming the files when the weights were saved with another vocabulary
    or another model configuration: missing, unexpected, mis-shaped or non-float parameters,
    or (given `config`, what config.json says) one of `fields` that differs from the config
    saved with the weights.
    """
    ckpt = load_npz(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "vocab_sha256" not in ckpt:
        raise RunFileError(f"{path}: not a translation checkpoint (no 'model'/'vocab_sha256')")
    weights = ckpt["model"]
    if not isinstance(weights, dict) or not all(
        isinstance(v, np.ndarray) for v in weights.values()
    ):
        raise RunFileError(f"{path}: its 'model' entry is not a dict of arrays")
    odd = [k for k, v in weights.items() if v.dtype.kind != "f"]
    if odd:
        raise RunFileError(
            f"{path}: weight {odd[0]!r} holds {weights[odd[0]].dtype} values, not floats"
        )
    diverged = [k for k, v in weights.items() if not np.isfinite(v).all()]
    if diverged:
        raise RunFileError(
            f"{path}: weight {diverged[0]!r} holds NaN or Inf values (the run diverged?); "
            "retrain with a lower --lr"
        )
    if ckpt["vocab_sha256"] != digest:
        raise RunFileError(
            f"{path} was trained with a different vocabulary than {path.parent / VOCAB_FILE}"
        )
    if config is not None:
        check_saved_config(path, ckpt, config, fields)
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError, TypeError) as err:
        raise RunFileError(
            f"{path} does not match {path.parent / CONFIG_FILE} and {VOCAB_FILE}: {err}"
        ) from err
    return ckpt


def check_saved_config(
    path: Path, ckpt: dict[str, Any], config: dict[str, Any], fields: Iterable[str]
) -> None:
    """RunFileError naming the first of `fields` where config.json (`config`) differs from the
    configuration saved with the weights; a checkpoint from before configs were saved gets a
    warning on stderr instead (only its shapes can be checked)."""
    if "config" not in ckpt:
        print(
            f"warning: {path} predates saved configurations; {CONFIG_FILE} is checked against "
            "its parameter shapes only",
            file=sys.stderr,
        )
        return
    try:
        saved = json.loads(ckpt["config"])
        if not isinstance(saved, dict):
            raise TypeError(type(saved).__name__)
    except (TypeError, ValueError, RecursionError) as err:
        raise RunFileError(f"{path}: its 'config' entry is not a saved config ({err})") from None
    for name in fields:
        if name in saved and name in config and saved[name] != config[name]:
            raise RunFileError(
                f"{path} was trained with {name} {saved[name]!r}, but "
                f"{path.parent / CONFIG_FILE} says {name} {config[name]!r}"
            )
