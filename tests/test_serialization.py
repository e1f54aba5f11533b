"""tg.save / tg.load: exact round trips, a plain .npz without pickle, atomic writes, errors."""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_attn as tg
from tinygrad_attn import serialization
from tinygrad_attn.serialization import load, save


def assert_identical(a, b, where="root"):
    """Same nesting, same Python types, arrays equal in dtype, shape and bits (NaN too)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_identical(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}/{i}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape}"
        assert a.tobytes() == b.tobytes(), f"{where}: values differ"
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"


CHECKPOINT = {
    "model": OrderedDict(
        [("encoder.weight", np.arange(6, dtype=np.float32).reshape(2, 3)), ("bias", np.zeros(0))]
    ),
    "optim": {
        "state": {0: {"step": 3, "exp_avg": np.full((2, 3), 0.5)}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "amsgrad": False, "params": [0, 1]}],
    },
    "step": 3,
    "loss": float("nan"),
    "best": 1e-300,
    "name": "toy-translator ünïcode",
    "empty": {},
    "nothing": None,
    "ints": np.array([[1, -2]], dtype=np.int16),
    "flags": np.array([True, False]),
}


def test_nested_checkpoint_round_trips_exactly(tmp_path):
    save(CHECKPOINT, tmp_path / "ckpt.npz")
    loaded = load(tmp_path / "ckpt.npz")
    expected = dict(CHECKPOINT, model=dict(CHECKPOINT["model"]))  # an OrderedDict loads as dict
    assert_identical(loaded, expected)


def test_tensors_and_numpy_scalars_come_back_as_arrays(tmp_path):
    save({"w": tg.Tensor([1.5, 2.5]), "s": np.float32(0.25)}, tmp_path / "t.npz")
    loaded = load(tmp_path / "t.npz")
    assert_identical(
        loaded, {"w": np.array([1.5, 2.5], np.float32), "s": np.array(0.25, np.float32)}
    )


@given(
    value=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, np.complex64]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    )
)
def test_arrays_of_any_dtype_and_shape_round_trip_bitwise(value):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "a.npz")
        save({"a": value, "nested": {"b": [value]}}, path)
        assert_identical(load(path), {"a": value, "nested": {"b": [value]}})


def test_the_file_is_a_plain_npz_with_slash_joined_keys(tmp_path):
    save(CHECKPOINT, tmp_path / "ckpt.npz")
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as npz:
        np.testing.assert_array_equal(
            npz["model/encoder.weight"], CHECKPOINT["model"]["encoder.weight"]
        )
        assert npz["optim/state/0/step"] == 3 and npz["optim/param_groups/0/betas/1"] == 0.999


def test_a_plain_np_savez_file_loads_as_a_flat_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(3), **{"layer.0/b": np.zeros(2)})
    loaded = load(tmp_path / "plain.npz")
    assert_identical(loaded, {"w": np.ones(3), "layer.0/b": np.zeros(2)})


def test_path_is_used_as_given_and_overwrites(tmp_path):
    path = tmp_path / "checkpoint.bin"
    save({"a": 1}, path)
    save({"a": 2}, str(path))
    assert load(path) == {"a": 2} and os.listdir(tmp_path) == ["checkpoint.bin"]


# ----- atomic writes -----------------------------------------------------------------------
@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()], ids=repr)
def test_a_save_interrupted_mid_write_keeps_the_old_file_and_leaves_no_temp(
    tmp_path, monkeypatch, error
):
    path = tmp_path / "ckpt.npz"
    save({"w": np.zeros(1000)}, path)
    before = path.read_bytes()
    real_write, calls = np.lib.format.write_array, []

    def write_then_crash(f, array, **kwargs):  # the first array is written, then the crash
        calls.append(1)
        if len(calls) > 1:
            raise error
        real_write(f, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_crash)
    with pytest.raises(type(error)):
        save({"w": np.ones(1000), "v": np.ones(3)}, path)
    assert len(calls) == 2  # the crash really happened in the middle of the archive
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]
    monkeypatch.undo()
    np.testing.assert_array_equal(load(path)["w"], np.zeros(1000))


def test_save_fsyncs_the_data_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        serialization.os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd)
    )
    monkeypatch.setattr(
        serialization.os, "replace", lambda a, b: events.append("replace") or real_replace(a, b)
    )
    save({"a": np.ones(2)}, tmp_path / "c.npz")
    assert events[:2] == ["fsync", "replace"]


def test_an_invalid_value_is_rejected_before_anything_is_written(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"a": 1}, path)
    with pytest.raises(TypeError):
        save({"a": 2, "bad": object()}, path)
    assert load(path) == {"a": 1} and os.listdir(tmp_path) == ["ckpt.npz"]


# ----- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, key",
    [
        ({"model": {"w": object()}}, "'model/w'"),
        ({"opt": [1, {1.5j: 2}]}, "key 1.5j under 'opt/1'"),
        ({"obj": np.array([1, "a"], dtype=object)}, "'obj'"),
        ({"big": 2**70}, "'big'"),
        ({"c": 1 + 2j}, "'c'"),
        ({"s": {1, 2}}, "'s'"),
    ],
)
def test_unsupported_values_raise_type_error_naming_the_key(tmp_path, value, key):
    with pytest.raises(TypeError, match=key.replace("(", r"\(")):
        save(value, tmp_path / "x.npz")


def test_save_rejects_a_non_dict_and_a_missing_directory(tmp_path):
    with pytest.raises(TypeError, match="expected a dict, got list"):
        save([np.ones(2)], tmp_path / "x.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"a": 1}, tmp_path / "no" / "x.npz")


# The red team's cases: keys numpy or zip cannot name a member by, and strings ending in NUL.
AWKWARD = {
    "x.npy and x": {"x": 1, "x.npy": 2},
    "0 and '0'": {"a": {0: 1, "0": 2}},
    "slash in a key and nesting": {"a/b": 1, "a": {"b": 2}},
    "NUL in keys": {"a\0b": 1, "a": 2, "\0": 3},
    "empty keys": {"": {"": "", ".npy": 0}},
    "the structure's own name": {"__structure__": 1, "__structure__/0": [2]},
    "trailing NULs": {"s": "abc\0\0", "t": "\0", "u": ""},
    "lone surrogates": {"\ud800": "\udfff\0"},
}


@pytest.mark.parametrize("value", AWKWARD.values(), ids=AWKWARD.keys())
def test_awkward_keys_and_strings_round_trip_exactly(tmp_path, value):
    save(value, tmp_path / "x.npz")
    assert_identical(load(tmp_path / "x.npz"), value)


_KEYS = st.one_of(st.text(max_size=6), st.integers(-(2**70), 2**70))
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=6),
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.int8, np.bool_, np.dtype("<U3")]),
        shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
    ),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(_KEYS, children, max_size=4),
    ),
    max_leaves=12,
)


@given(state=st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_every_structure_save_accepts_loads_back_equal(state):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "c.npz")
        save(state, path)
        assert_identical(load(path), state)


def test_load_of_a_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        load(path)


def _huge_member(path) -> None:
    """An .npz whose one member's header claims a (2**20, 2**20, 2**3) float64 array (8 TiB)."""
    with zipfile.ZipFile(path, "w") as zf, zf.open("w.npy", "w") as member:
        header = {"descr": "<f8", "fortran_order": False, "shape": (2**20, 2**20, 2**3)}
        np.lib.format.write_array_header_1_0(member, header)
        member.write(np.zeros(4).tobytes())


def test_a_member_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    _huge_member(tmp_path / "huge.npz")
    with pytest.raises(ValueError, match=r"huge.npz.*'w.npy' claims shape \(1048576, 1048576, 8\)"):
        load(tmp_path / "huge.npz")


@pytest.mark.parametrize("kind", ["garbage", "truncated", "npy", "pickled", "bad-structure"])
def test_load_of_a_corrupt_or_foreign_file_is_a_value_error_naming_the_path(tmp_path, kind):
    path = tmp_path / "bad.npz"
    if kind == "garbage":
        path.write_bytes(b"definitely not a zip file\n" * 10)
    elif kind == "truncated":
        save({"w": np.ones(1000)}, path)
        path.write_bytes(path.read_bytes()[:3000])
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.ones(3))
    elif kind == "pickled":
        np.savez(path, obj=np.array([{"a": 1}], dtype=object))
    else:
        np.savez(path, __structure__=np.array('{"dict": [["w", {"array": "missing"}]]}'))
    with pytest.raises(ValueError, match="bad.npz"):
        load(path)


def _raw_header_member(path, header: str, data: bytes = b"") -> None:
    """An .npz whose one member has a version 1.0 .npy header of the text `header`."""
    text = header.encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    with zipfile.ZipFile(path, "w") as zf, zf.open("w.npy", "w") as member:
        member.write(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data)


@pytest.mark.parametrize(
    "header",
    [
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1,) if True else ()}",  # no literal
        "{'descr': '<f8', 'fortran_order': False, 'shape': " + "(" * 300 + ")" * 300 + "}",
        "[" * 5000 + "]" * 5000,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
        "{'descr': '<f8', 'fortran_order': False}",
        "['descr', 'shape']",
    ],
    ids=["not-a-literal", "300-parentheses", "5000-brackets", "negative-dim", "no-shape", "list"],
)
def test_a_hostile_npy_header_is_a_value_error(tmp_path, header):
    """Issue 28: a header that is no literal or nests 300 parentheses raised SyntaxError."""
    _raw_header_member(tmp_path / "bad.npz", header, np.zeros(1).tobytes())
    with pytest.raises(ValueError, match=r"bad.npz.*\.npy header"):
        load(tmp_path / "bad.npz")


def _structure_file(path, structure: str, **members) -> None:
    np.savez(path, __structure__=np.array(structure), **members)


@pytest.mark.parametrize(
    "length, problem",
    [(10**12, "claims 1000000000000 characters"), (-1, "claims -1 characters"), (1, "claims 1")],
)
def test_a_string_leaf_claiming_a_bad_length_is_refused_before_allocating(
    tmp_path, length, problem
):
    """Issue 28: a length of 10**12 raised MemoryError, a negative one was accepted; the
    stored text "ab" may only be padded up to the width of its array (4 characters here)."""
    _structure_file(
        tmp_path / "bad.npz",
        '{"dict": [["s", {"str": ["s", ' + str(length) + "]}]]}",
        s=np.array("ab", dtype="<U4"),
    )
    with pytest.raises(ValueError, match=f"bad.npz.*'s' {problem}"):
        load(tmp_path / "bad.npz")


def test_a_string_leaf_padded_to_its_stored_width_loads(tmp_path):
    _structure_file(
        tmp_path / "ok.npz", '{"dict": [["s", {"str": ["s", 4]}]]}', s=np.array("ab", dtype="<U4")
    )
    assert load(tmp_path / "ok.npz") == {"s": "ab\0\0"}


@pytest.mark.parametrize("depth", [100, 100000])
def test_a_deeply_nested_structure_is_a_value_error_or_loads(tmp_path, depth):
    """Nesting the interpreter can follow loads; deeper is a ValueError, not RecursionError."""
    _structure_file(tmp_path / "deep.npz", '{"list": [' * depth + "]}" * depth)
    if depth < 200:
        value = load(tmp_path / "deep.npz")
        for _ in range(depth - 1):
            (value,) = value
        assert value == []
    else:
        with pytest.raises(ValueError, match="deep.npz"):
            load(tmp_path / "deep.npz")
