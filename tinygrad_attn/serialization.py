"""`save` / `load`: checkpoints as `.npz` files, written atomically and read without pickle.

A checkpoint is a nested structure of dicts (str or int keys), lists and tuples whose leaves
are numpy arrays, Tensors, numpy scalars, or Python int / float / bool / str / None, e.g.
`{"model": model.state_dict(), "optim": opt.state_dict(), "step": 300}`.

File format: a plain `.npz` (a zip of `.npy` files). Every leaf except None is one array member,
named by its path joined with "/" ("model/encoder.weight", "optim/state/0/exp_avg"), so
`np.load(path)` reads it too. One extra member, `__structure__`, holds the nesting and the
Python type of each leaf as JSON, which is how `load` rebuilds the exact structure.
"""

from __future__ import annotations

import json
import os
import secrets
import zipfile
from typing import Any

import numpy as np

from tinygrad_attn.tensor import Tensor

SEP = "/"
STRUCTURE_KEY = "__structure__"
_SCALARS = {bool: "bool", int: "int", float: "float", str: "str"}  # exact Python types


def save(state_dict: dict[str, Any], path: str | os.PathLike) -> None:
    """Write `state_dict` to `path` as an `.npz`, atomically (the file is replaced, never torn).

    Shapes: each array is saved with its shape and dtype; Tensors are saved as their data.

    The data goes to a temporary file in the same directory, is flushed and fsynced, then
    renamed over `path` with `os.replace`: an interrupted save leaves the old file intact. The
    path is used as given (no ".npz" is appended). Raises TypeError naming the key of a value
    that cannot be saved without pickle (objects, object arrays, complex numbers, ...).
    """
    if not isinstance(state_dict, dict):
        raise TypeError(f"save: expected a dict, got {type(state_dict).__name__}")
    arrays: dict[str, np.ndarray] = {}
    structure = _flatten(state_dict, "", arrays)
    if STRUCTURE_KEY in arrays:
        raise ValueError(f"save: the key {STRUCTURE_KEY!r} is reserved")
    arrays[STRUCTURE_KEY] = np.array(json.dumps(structure))
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: directory {directory!r} does not exist (saving {path!r})")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as f:  # "x": never clobber; created with the usual umask mode
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # also KeyboardInterrupt: no temp file is left behind
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_directory(directory)


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by `save`, without pickle; returns the saved structure.

    Shapes: arrays come back with their saved shape and dtype.

    Arrays and Tensors come back as numpy arrays (numpy scalars as 0-d arrays); Python numbers,
    bools, strings and None, and the dicts (with their str or int keys), lists and tuples come
    back exactly as saved. A plain `.npz` without `__structure__` (e.g. from `np.savez`) gives a
    flat dict of arrays. Raises FileNotFoundError for a missing file and ValueError for one that
    is not a readable `.npz` checkpoint, both naming the path.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no checkpoint file at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        if STRUCTURE_KEY not in arrays:
            return arrays
        structure = json.loads(str(arrays.pop(STRUCTURE_KEY)))
        return _unflatten(structure, arrays)
    except (
        AttributeError,
        TypeError,
        ValueError,
        OSError,
        EOFError,
        KeyError,
        zipfile.BadZipFile,
    ) as err:
        # np.load returns an ndarray (no .files, no context manager) for a .npy file
        raise ValueError(f"load: {path!r} is not a valid .npz checkpoint ({err})") from err


def _flatten(value: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """Store the leaves of `value` in `arrays` under their paths; return its JSON structure."""
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(
                    f"save: key {k!r} under {key or 'the top level'!r} is not a str/int"
                )
            items.append([k, _flatten(v, f"{key}{SEP}{k}" if key else str(k), arrays)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_flatten(v, f"{key}{SEP}{i}", arrays) for i, v in enumerate(value)]}
    if value is None:
        return {"none": None}
    if key in arrays:
        raise ValueError(f"save: two values map to the same key {key!r}")
    kind = _SCALARS.get(type(value), "array")
    arrays[key] = _to_array(value, key)
    return {kind: key}


def _to_array(value: Any, key: str) -> np.ndarray:
    """A leaf as an array that `np.load(allow_pickle=False)` can read back."""
    if isinstance(value, Tensor):
        value = value.data
    if not isinstance(value, (np.ndarray, np.generic, bool, int, float, str)):
        raise TypeError(f"save: unsupported value of type {type(value).__name__} at key {key!r}")
    try:
        array = np.asarray(value)
    except OverflowError:
        raise TypeError(f"save: the int at key {key!r} does not fit in int64") from None
    if array.dtype.hasobject:
        raise TypeError(f"save: value at key {key!r} of dtype {array.dtype} needs pickle")
    return array


def _write_npz(f: Any, arrays: dict[str, np.ndarray]) -> None:
    """The zip layout of np.savez, written member by member with pickle disabled."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, array in arrays.items():
            with zf.open(key + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _unflatten(node: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """Rebuild the value that `_flatten` described by `node`."""
    ((kind, body),) = node.items()
    if kind == "dict":
        return {k: _unflatten(v, arrays) for k, v in body}
    if kind in ("list", "tuple"):
        items = [_unflatten(v, arrays) for v in body]
        return items if kind == "list" else tuple(items)
    if kind == "none":
        return None
    array = arrays[body]
    if kind == "array":
        return array
    if kind == "str":
        return str(array)
    if kind in ("bool", "int", "float"):
        return {"bool": bool, "int": int, "float": float}[kind](array.item())
    raise ValueError(f"unknown entry kind {kind!r} in {STRUCTURE_KEY}")


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); not possible on some systems, e.g. Windows."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
