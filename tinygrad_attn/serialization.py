"""`save` / `load`: checkpoints as `.npz` files, written atomically and read without pickle.

A checkpoint is a nested structure of dicts (str or int keys), lists and tuples whose leaves
are numpy arrays, Tensors, numpy scalars, or Python int / float / bool / str / None, e.g.
`{"model": model.state_dict(), "optim": opt.state_dict(), "step": 300}`.

File format: a plain `.npz` (a zip of `.npy` files). Every leaf except None is one array member,
named by its path joined with "/" ("model/encoder.weight", "optim/state/0/exp_avg"), so
`np.load(path)` reads it too. One extra member, `__structure__`, holds the nesting and the
Python type of each leaf as JSON, which is how `load` rebuilds the exact structure. A path that
cannot be a zip member name as it is (a NUL character, an unencodable surrogate, one ending in
".npy", which numpy strips, or one that another key already produced, such as 0 and "0") is
stored under a generated name, `__structure__/<n>`: every key round-trips exactly.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import struct
import zipfile
from typing import Any

import numpy as np

from tinygrad_attn.tensor import Tensor

SEP = "/"
STRUCTURE_KEY = "__structure__"
_SCALARS = {bool: "bool", int: "int", float: "float", str: "str"}  # exact Python types
_MAX_NAME_BYTES = 60000  # a zip member name holds at most 65535 bytes
_MAX_HEADER = 100000  # bytes of a .npy header we are willing to parse
_MAX_DEFLATE_RATIO = 1100  # deflate expands at most ~1032x: a bound on a member's real size


def save(state_dict: dict[str, Any], path: str | os.PathLike) -> None:
    """Write `state_dict` to `path` as an `.npz`, atomically (the file is replaced, never torn).

    Shapes: each array is saved with its shape and dtype; Tensors are saved as their data.

    The data goes to a temporary file in the same directory, is flushed and fsynced, then
    renamed over `path` with `os.replace`: an interrupted save leaves the old file intact. The
    path is used as given (no ".npz" is appended). Raises TypeError naming the key of a value
    that cannot be saved without pickle (objects, object arrays, complex numbers, ...). Every
    value it accepts loads back equal (Python scalars and strings exactly, arrays bitwise).
    """
    if not isinstance(state_dict, dict):
        raise TypeError(f"save: expected a dict, got {type(state_dict).__name__}")
    arrays: dict[str, np.ndarray] = {}
    structure = _flatten(state_dict, None, arrays)
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
    is not a readable `.npz` checkpoint, both naming the path. Each member's claimed size is
    checked against the file before anything is allocated.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no checkpoint file at {path!r}")
    try:
        arrays = _read_npz(path)
        structure_member = STRUCTURE_KEY + ".npy"
        if structure_member not in arrays:
            return {_stem(name): array for name, array in arrays.items()}
        structure = json.loads(str(arrays.pop(structure_member)))
        return _unflatten(structure, arrays)
    except (
        AttributeError,
        TypeError,
        ValueError,
        OSError,
        EOFError,
        KeyError,
        RecursionError,
        NotImplementedError,
        struct.error,
        zipfile.BadZipFile,
    ) as err:
        raise ValueError(f"load: {path!r} is not a valid .npz checkpoint ({err})") from err


def _stem(name: str) -> str:
    """A member name without its ".npy", as np.load names it."""
    return name[:-4] if name.endswith(".npy") else name


def _read_npz(path: str) -> dict[str, np.ndarray]:
    """Every member of the zip at `path`, by its exact name (np.load strips ".npy" and so merges
    "x" and "x.npy"), each checked to hold the bytes its header claims before it is read."""
    archive_size = os.path.getsize(path)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        for info in infos:
            _check_member_size(zf, info, archive_size)
        arrays = {}
        for info in infos:
            with zf.open(info) as f:
                arrays[info.filename] = np.lib.format.read_array(f, allow_pickle=False)
    return arrays


def _check_member_size(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive_size: int) -> None:
    """ValueError naming the member when its .npy header claims more data than it holds."""
    stored = info.compress_type == zipfile.ZIP_STORED
    limit = archive_size if stored else archive_size * _MAX_DEFLATE_RATIO
    if info.file_size > limit:
        raise ValueError(f"member {info.filename!r} claims {info.file_size} bytes")
    with zf.open(info) as f:
        shape, dtype = _npy_header(f)
        header_bytes = f.tell()
    if dtype.hasobject:
        raise ValueError(f"member {info.filename!r} holds Python objects (needs pickle)")
    count = 1
    for n in shape:
        count *= n
    claimed = count * dtype.itemsize
    if claimed != info.file_size - header_bytes:
        raise ValueError(
            f"member {info.filename!r} claims shape {shape} of {dtype} ({claimed} bytes) but "
            f"holds {info.file_size - header_bytes} bytes"
        )


def _npy_header(f: Any) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a .npy header (any format version), without reading the data."""
    major, _ = np.lib.format.read_magic(f)
    length = int.from_bytes(f.read(2 if major == 1 else 4), "little")
    if length > _MAX_HEADER:
        raise ValueError(f".npy header of {length} bytes")
    text = f.read(length).decode("latin1" if major < 3 else "utf8")
    try:  # a hostile header: no literal, or nested past the parser's limit
        header = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise ValueError(f".npy header is not a Python literal: {text[:60]!r}") from None
    if not isinstance(header, dict) or not {"descr", "shape"} <= set(header):
        raise ValueError(f".npy header is not a dict with 'descr' and 'shape': {text[:60]!r}")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f".npy header with shape {shape!r}")
    return shape, np.lib.format.descr_to_dtype(header["descr"])


def _flatten(value: Any, key: str | None, arrays: dict[str, np.ndarray]) -> Any:
    """Store the leaves of `value` in `arrays` under their member names; return its JSON
    structure. `key` is the path of `value` ("/"-joined keys), None at the top level."""
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                where = "the top level" if key is None else repr(key)
                raise TypeError(f"save: key {k!r} under {where} is not a str/int")
            items.append([k, _flatten(v, str(k) if key is None else f"{key}{SEP}{k}", arrays)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_flatten(v, f"{key}{SEP}{i}", arrays) for i, v in enumerate(value)]}
    if value is None:
        return {"none": None}
    kind = _SCALARS.get(type(value), "array")
    array = _to_array(value, key)
    stem = _member_stem(key, arrays)
    arrays[stem] = array
    if kind == "str":
        # numpy drops a string's trailing NULs when it reads it back: keep the length
        return {kind: [stem, len(value)]}
    return {kind: stem}


def _member_stem(key: str, arrays: dict[str, np.ndarray]) -> str:
    """The path itself when it is usable as a zip member name (+ ".npy"), else a generated one."""
    usable = (
        key not in arrays
        and not key.startswith(STRUCTURE_KEY)
        and not key.endswith(".npy")
        and zipfile.ZipInfo(key).filename == key  # zipfile cuts names at NUL
    )
    try:
        usable = usable and len(key.encode("utf-8")) <= _MAX_NAME_BYTES
    except UnicodeEncodeError:  # a lone surrogate
        usable = False
    return key if usable else f"{STRUCTURE_KEY}{SEP}{len(arrays)}"


def _to_array(value: Any, key: str) -> np.ndarray:
    """A leaf as an array that `np.load(allow_pickle=False)` can read back."""
    if isinstance(value, Tensor):
        value = value.data
    if not isinstance(value, (np.ndarray, np.generic)) and type(value) not in _SCALARS:
        # subclasses of int/str/... (IntEnum, ...) would come back as plain arrays: refused
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
    if kind == "str":
        stem, length = (body, None) if isinstance(body, str) else body  # older files: no length
        return _string(arrays[stem + ".npy"], stem, length)
    array = arrays[body + ".npy"]
    if kind == "array":
        return array
    if kind in ("bool", "int", "float"):
        return {"bool": bool, "int": int, "float": float}[kind](array.item())
    raise ValueError(f"unknown entry kind {kind!r} in {STRUCTURE_KEY}")


def _string(array: np.ndarray, stem: str, length: Any) -> str:
    """A str leaf: the text numpy read back (trailing NULs dropped), padded with NULs to its
    saved `length`, which must lie between the text's length and the array's width (checked
    before the padding is allocated)."""
    if array.dtype.kind != "U" or array.ndim:
        raise ValueError(f"str member {stem!r} holds {array.dtype} {array.shape}, not a string")
    text = str(array)
    if length is None:
        return text
    width = array.dtype.itemsize // 4
    if type(length) is not int or not len(text) <= length <= width:
        raise ValueError(
            f"str member {stem!r} claims {length!r} characters; it holds {len(text)} of {width}"
        )
    return text + "\0" * (length - len(text))


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
