"""Build docs/self_attention.ipynb from its text source docs/self_attention.py, and run it.

    python docs/build_notebook.py            # read the .py, execute it, write the .ipynb
    python docs/build_notebook.py --check    # exit 1 if the .ipynb's cells differ from the .py

The text source is the one to edit and review: jupytext's "percent" format, where `# %%` starts
a code cell and `# %% [markdown]` a markdown cell. The .ipynb is generated from it with its
outputs stored, so that it opens ready to read in Jupyter, VS Code or Colab. With jupytext's
Jupyter extension the two files are also paired (the notebook's `jupytext.formats` metadata).

The notebook runs in a kernel of this interpreter (ipykernel), in docs/ as Jupyter would start
it. Needs the `test` extra: jupytext, nbclient, ipykernel. tests/test_notebook.py checks that the
two files agree and that the notebook runs.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
SOURCE = DOCS / "self_attention.py"
NOTEBOOK = DOCS / "self_attention.ipynb"
TIMEOUT = 120  # seconds per cell; the whole notebook takes a few seconds


def read_source(path: Path = SOURCE) -> Any:
    """The text source as a notebook (nbformat NotebookNode), without outputs."""
    import jupytext

    notebook = jupytext.read(path, fmt="py:percent")
    for index, cell in enumerate(notebook["cells"]):
        cell["id"] = f"cell-{index + 1}"  # not random ones: a rebuild changes only what changed
    return notebook


def cells(notebook: Any) -> list[tuple[str, str]]:
    """(cell type, source) of every cell: what the text source and the .ipynb must share."""
    return [(cell["cell_type"], "".join(cell["source"]).strip()) for cell in notebook["cells"]]


def differences(source: Any, stored: Any) -> list[str]:
    """Where the stored notebook's cells differ from the text source's (empty: in step)."""
    ours, theirs = cells(source), cells(stored)
    problems = (
        []
        if len(ours) == len(theirs)
        else [f"{len(ours)} cells in the source, {len(theirs)} in the .ipynb"]
    )
    for index, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            first = a[1].splitlines()[0] if a[1] else "(empty)"
            problems.append(f"cell {index + 1} ({a[0]}, starting {first!r}) differs")
    return problems


def execute(notebook: Any, cwd: Path = DOCS, timeout: int = TIMEOUT) -> Any:
    """Run every cell in a fresh kernel of this interpreter (not whichever `python3` kernel is
    installed first on the machine); outputs are stored in `notebook`, which is returned."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    specs = KernelSpecManager(kernel_dirs=[])  # only ipykernel's own spec: sys.executable
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=timeout,
        record_timing=False,  # no timestamps in the stored file: rebuilds differ only in outputs
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = merge_streams(cell["outputs"])
    return notebook


def merge_streams(outputs: list) -> list:
    """Join consecutive prints to the same stream into one output: how the kernel happens to
    flush them (one chunk or two) changes from run to run, and the stored file should not."""
    merged: list = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            output["output_type"] == "stream"
            and last is not None
            and last["output_type"] == "stream"
            and last["name"] == output["name"]
        ):
            last["text"] = "".join(last["text"]) + "".join(output["text"])
        else:
            merged.append(copy.copy(output))  # (a NotebookNode stays one)
    return merged


def build(source: Path = SOURCE, target: Path = NOTEBOOK) -> Any:
    """Read the text source, execute it and write the notebook with its outputs."""
    import nbformat

    notebook = execute(read_source(source), cwd=target.parent)
    nbformat.write(notebook, str(target))
    return notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare the two files' cells")
    args = parser.parse_args()
    if args.check:
        import nbformat

        problems = differences(read_source(), nbformat.read(str(NOTEBOOK), as_version=4))
        for problem in problems:
            print(problem)
        if problems:
            sys.exit(
                f"{NOTEBOOK.name} is out of step with {SOURCE.name}: run {Path(__file__).name}"
            )
        print(f"{NOTEBOOK.name} and {SOURCE.name} have the same cells")
        return
    notebook = build()
    code = sum(cell["cell_type"] == "code" for cell in notebook["cells"])
    print(f"wrote {NOTEBOOK.relative_to(DOCS.parent)}: {len(notebook['cells'])} cells, {code} run")


if __name__ == "__main__":
    main()
