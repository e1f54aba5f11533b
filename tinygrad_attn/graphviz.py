"""Draw the graph behind a tensor: Graphviz DOT text (`to_dot`), or a plain-text tree.

print(tg.to_dot(loss))            # paste into https://dreampuf.github.io/GraphvizOnline
tg.render_dot(loss, "graph.svg")   # needs the `dot` program (Debian: graphviz)
print(tg.graph_tree(loss))         # for terminals
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from tinygrad_attn.tensor import Tensor


def _walk(root: Tensor) -> tuple[list[Tensor], list[tuple[int, int]]]:
    """Every tensor reachable from root (root first) and the edges input -> output, by index."""
    tensors: list[Tensor] = [root]
    index = {id(root): 0}
    edges: list[tuple[int, int]] = []
    stack = [root]
    while stack:
        t = stack.pop()
        node = t.grad_fn
        if node is None or node.inputs is None:
            continue
        for parent in node.inputs:
            if parent is None:
                continue
            if id(parent) not in index:
                index[id(parent)] = len(tensors)
                tensors.append(parent)
                stack.append(parent)
            edges.append((index[id(parent)], index[id(t)]))
    return tensors, edges


def _label(t: Tensor, names: dict[int, str]) -> str:
    shape = "x".join(str(s) for s in t.shape) or "scalar"
    name = names.get(id(t))
    if t.grad_fn is not None:
        head = t.grad_fn.name
    elif name is not None:
        head = name
    else:
        head = "leaf" if t.requires_grad else "const"
    return f"{head}\\n{shape} {t.dtype}"


def to_dot(root: Tensor, params: dict[str, Tensor] | None = None) -> str:
    """Graphviz DOT text of the graph that produced `root`.

    One box per tensor, labelled with the op that made it (or the parameter name from
    `params`, e.g. dict(model.named_parameters())), its shape and dtype; tensors that gradients
    flow into are filled, constants are dashed. Graphs freed by backward() show only the root.
    """
    names = {id(p): n for n, p in (params or {}).items()}
    tensors, edges = _walk(root)
    lines = [
        "digraph tinygrad_attn {",
        "  rankdir=BT;",
        '  node [shape=box, fontname="monospace"];',
    ]
    for i, t in enumerate(tensors):
        style = 'style="filled", fillcolor="#dbe9f6"' if t.requires_grad else 'style="dashed"'
        lines.append(f'  t{i} [label="{_label(t, names)}", {style}];')
    for src, dst in edges:
        lines.append(f"  t{src} -> t{dst};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_dot(root: Tensor, path: str | Path, params: dict[str, Tensor] | None = None) -> Path:
    """Write the graph as an image (format from the suffix: .svg, .png, .pdf) with `dot`.

    Raises RuntimeError naming the missing program when Graphviz is not installed; the DOT
    text from `to_dot` works without it.
    """
    path = Path(path)
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError("render_dot: the Graphviz program `dot` is not installed; use to_dot()")
    fmt = path.suffix.lstrip(".") or "svg"
    subprocess.run(
        [program, f"-T{fmt}", "-o", str(path)], input=to_dot(root, params), text=True, check=True
    )
    return path


def graph_tree(root: Tensor, params: dict[str, Tensor] | None = None, max_depth: int = 50) -> str:
    """An indented text tree of the graph (a shared input is printed once, then referenced)."""
    names = {id(p): n for n, p in (params or {}).items()}
    seen: dict[int, int] = {}
    lines: list[str] = []
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        t, depth = stack.pop()
        label = _label(t, names).replace("\\n", " ")
        if id(t) in seen:
            lines.append(f"{'  ' * depth}{label}  (see #{seen[id(t)]})")
            continue
        seen[id(t)] = len(seen)
        grad = " [grad]" if t.requires_grad else ""
        lines.append(f"{'  ' * depth}#{seen[id(t)]} {label}{grad}")
        node = t.grad_fn
        if node is None or node.inputs is None:
            continue
        if depth >= max_depth:
            lines.append(f"{'  ' * (depth + 1)}... (deeper than max_depth={max_depth})")
            continue
        for parent in reversed([p for p in node.inputs if p is not None]):
            stack.append((parent, depth + 1))
    return "\n".join(lines)
