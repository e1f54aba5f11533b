"""The files of a translation run: what train_translation.py writes and translate.py reads.

A run directory (`--out`, default runs/zh_en) holds:
    model.npz        the best weights so far (by valid exact match): {"model": state_dict,
                     "step", "valid_exact", "vocab_sha256"}; what translate.py loads
    train_state.npz  the latest resumable state: {"model", "optim", "step", "rng", "best",
                     "vocab_sha256"}, replaced at every evaluation and at the end
    vocab.json       {"src": [tokens], "tgt": [tokens]} (ids are list positions)
    config.json      the training Config, field -> value
    metrics.json     the final test table, written by train_translation.py at the end
Every file is replaced atomically (written beside, then renamed), so Ctrl-C or a crash leaves the
previous version intact. Loading checks that the weights match the vocabulary (a SHA-256 of
vocab.json's content) and the config (parameter shapes); every failure is a `RunFileError` that
names the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from toydata import Vocab

import tinygrad_attn as tg

MODEL_FILE = "model.npz"
STATE_FILE = "train_state.npz"
VOCAB_FILE = "vocab.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"


class RunFileError(Exception):
    """A run file is missing, unreadable, or does not match the others; the message names it."""


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically: a temporary file beside `path`, then `os.replace`."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


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


def read_dataclass(path: Path, cls: type) -> Any:
    """`cls(**json)` from a JSON file of its fields, or a RunFileError naming the file."""
    saved = read_json(path)
    names = {f.name for f in dataclasses.fields(cls)}
    if not isinstance(saved, dict) or not set(saved) <= names:
        unknown = sorted(set(saved) - names) if isinstance(saved, dict) else type(saved).__name__
        raise RunFileError(f"{path}: not a {cls.__name__} file (unexpected {unknown})")
    return cls(**saved)


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


def load_weights(model: tg.nn.Module, path: Path, digest: str) -> dict[str, Any]:
    """Load `path` (model.npz or train_state.npz) into `model`; returns the whole checkpoint.

    Raises RunFileError naming the files when the weights were saved with another vocabulary
    or another model configuration (missing, unexpected or mis-shaped parameters).
    """
    ckpt = load_npz(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "vocab_sha256" not in ckpt:
        raise RunFileError(f"{path}: not a translation checkpoint (no 'model'/'vocab_sha256')")
    if ckpt["vocab_sha256"] != digest:
        raise RunFileError(
            f"{path} was trained with a different vocabulary than {path.parent / VOCAB_FILE}"
        )
    try:
        model.load_state_dict(ckpt["model"])
    except (KeyError, ValueError) as err:
        raise RunFileError(
            f"{path} does not match {path.parent / CONFIG_FILE} and {VOCAB_FILE}: {err}"
        ) from err
    return ckpt
