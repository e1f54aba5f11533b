"""The self-attention notebook: docs/self_attention.ipynb is stored with its outputs, has the
same cells as its text source docs/self_attention.py, and runs (every check in it holds).

The sync and run tests skip without the `test` extra's jupytext, nbclient and ipykernel.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "self_attention.ipynb"
TINY = re.compile(r"\d(\.\d+)?e[-+]\d+")  # 2e-16 and kin: rounding noise, machine-dependent


def _build_notebook() -> ModuleType:
    """docs/build_notebook.py, the script that writes the notebook, imported by path."""
    spec = importlib.util.spec_from_file_location(
        "build_notebook", ROOT / "docs" / "build_notebook.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stored() -> dict:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))


def _streams(cell: dict) -> str:
    """A code cell's printed text, with rounding-noise numbers masked."""
    text = "".join("".join(o["text"]) for o in cell["outputs"] if o["output_type"] == "stream")
    return TINY.sub("<tiny>", text)


def test_notebook_is_stored_run_top_to_bottom_with_outputs_and_no_errors() -> None:
    notebook = _stored()
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert len(code) >= 10 and notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert [cell["execution_count"] for cell in code] == list(range(1, len(code) + 1))
    outputs = [o for cell in code for o in cell["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert not [o for o in outputs if o.get("name") == "stderr"], "warnings in the stored run"
    silent = [cell["source"] for cell in code[1:] if not cell["outputs"]]
    assert not silent, f"code cells stored without their output: {silent}"  # (1: the setup)
    kinds = [[(o["output_type"], o.get("name")) for o in cell["outputs"]] for cell in code]
    unmerged = [a for k in kinds for a, b in zip(k, k[1:]) if a == b and a[0] == "stream"]
    assert not unmerged, "consecutive prints stored as separate outputs: rebuild the notebook"


def test_merge_streams_joins_consecutive_prints_to_one_stream_only() -> None:
    build = _build_notebook()
    out = lambda text, name="stdout": {"output_type": "stream", "name": name, "text": text}
    image = {"output_type": "display_data", "data": {"text/plain": "<Figure>"}, "metadata": {}}
    outputs = [out("a\n"), out(["b", "\n"]), out("!\n", "stderr"), out("c\n"), image, out("d")]
    assert build.merge_streams(outputs) == [
        out("a\nb\n"),
        out("!\n", "stderr"),
        out("c\n"),
        image,
        out("d"),
    ]


def test_notebook_has_the_cells_of_its_text_source() -> None:
    pytest.importorskip("jupytext")
    build = _build_notebook()
    problems = build.differences(build.read_source(), _stored())
    assert not problems, "run `python docs/build_notebook.py`:\n" + "\n".join(problems)


def test_sync_check_names_an_edited_a_dropped_and_an_added_cell() -> None:
    pytest.importorskip("jupytext")
    build = _build_notebook()
    source = build.read_source()
    edited, dropped, added = (copy.deepcopy(source) for _ in range(3))
    edited["cells"][5]["source"] += "\nprint('one more line')"
    del dropped["cells"][-1]
    added["cells"].insert(2, copy.deepcopy(source["cells"][2]))
    problems = build.differences(source, edited)
    assert len(problems) == 1 and problems[0].startswith("cell 6 (code, starting ")
    count = len(source["cells"])
    assert build.differences(source, dropped) == [
        f"{count} cells in the source, {count - 1} in the .ipynb"
    ]
    problems = build.differences(source, added)
    assert problems[0] == f"{count} cells in the source, {count + 1} in the .ipynb"
    assert len(problems) > 2  # and the cells after the copy, each one place off
    assert build.differences(source, copy.deepcopy(source)) == []


def test_notebook_runs_and_prints_what_is_stored() -> None:
    """Every assert in the notebook holds on this machine, and the stored outputs are this
    code's (numbers below 1e-3 printed in e-notation are rounding noise and not compared; the
    heatmap cell depends on matplotlib and is not compared)."""
    for name in ("jupytext", "nbclient", "ipykernel"):
        pytest.importorskip(name)
    build = _build_notebook()
    fresh = build.execute(build.read_source())
    stored = [c for c in _stored()["cells"] if c["cell_type"] == "code"]
    ran = [c for c in fresh["cells"] if c["cell_type"] == "code"]
    assert not [o for c in ran for o in c["outputs"] if o["output_type"] == "error"]
    compared = 0
    for index, (old, new) in enumerate(zip(stored, ran)):
        if "matplotlib" in "".join(old["source"]):
            continue
        assert _streams(new) == _streams(old), f"code cell {index + 1}: rebuild the notebook"
        compared += 1
    assert compared == len(stored) - 1
