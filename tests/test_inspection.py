"""Inspection tools on real graphs: to_dot / graph_tree / render_dot, detect_anomaly (the op and
the user's line) and explain_backward (the tape, against numpy).  Hooks and GradientFlow:
test_hooks_and_gradflow.py."""

from __future__ import annotations

import ast
import inspect
import io
import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import anomaly, autograd, nn
from tinygrad_attn.autograd import toposort
from tinygrad_attn.explain import explain_backward

RNG = np.random.default_rng(0)


def _here() -> int:
    """The caller's line number, for the line the next statement will be on (caller's +1)."""
    return inspect.currentframe().f_back.f_lineno + 1


# ----- to_dot, graph_tree, render_dot -----------------------------------------------------
NODE = re.compile(r'^\s*t(\d+) \[label="(.*?)", (.*)\];$')
EDGE = re.compile(r"^\s*t(\d+) -> t(\d+);$")


def _parse_dot(text: str) -> tuple[dict[int, tuple[str, str]], list[tuple[int, int]]]:
    """{node id: (label, style)} and the edges (input -> output) of our DOT output."""
    lines = text.strip().splitlines()
    assert lines[0] == "digraph tinygrad_attn {" and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if (m := NODE.match(line)) is not None:
            nodes[int(m[1])] = (m[2], m[3])
        elif (m := EDGE.match(line)) is not None:
            edges.append((int(m[1]), int(m[2])))
    assert all(a in nodes and b in nodes for a, b in edges)
    return nodes, edges


def test_to_dot_has_one_node_per_tensor_and_one_edge_per_op_input() -> None:
    x = tg.Tensor(RNG.normal(size=(2, 3)))
    W = tg.Tensor(RNG.normal(size=(3, 4)), requires_grad=True)
    b = tg.Tensor(RNG.normal(size=(4,)), requires_grad=True)
    out = (x @ W + b).tanh().softmax(-1).sum()
    nodes, edges = _parse_dot(tg.to_dot(out, params={"W": W, "b": b}))
    assert len(nodes) == 8 and len(edges) == 7  # 5 op outputs + x, W, b; 7 op inputs
    heads = sorted(label.split("\\n")[0] for label, _ in nodes.values())
    assert heads == sorted(["Sum", "Softmax", "Tanh", "Add", "MatMul", "const", "W", "b"])
    by_head = {label.split("\\n")[0]: (i, label, style) for i, (label, style) in nodes.items()}
    assert by_head["MatMul"][1] == "MatMul\\n2x4 float64" and "filled" in by_head["W"][2]
    assert "dashed" in by_head["const"][2]  # no gradient flows into the constant x
    into_matmul = {s for s, d in edges if d == by_head["MatMul"][0]}
    assert into_matmul == {by_head["const"][0], by_head["W"][0]}


def test_to_dot_of_multihead_attention_draws_every_node_of_the_autograd_graph() -> None:
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2)
    x = tg.randn(2, 3, 8)
    out, _ = mha(x, x, x, need_weights=False)
    nodes, edges = _parse_dot(tg.to_dot(out, params=dict(mha.named_parameters())))
    ops = [label.split("\\n")[0] for label, style in nodes.values() if "filled" in style]
    order = toposort(out.grad_fn)
    op_nodes = [h for h in ops if h not in dict(mha.named_parameters())]
    assert sorted(op_nodes) == sorted(node.name for node in order)
    assert op_nodes.count("ScaledDotProductAttention") == 1  # attention is one fused node
    assert {"q_proj.weight", "out_proj.bias"} <= set(ops)
    assert len(edges) == sum(sum(t is not None for t in node.inputs) for node in order)


def test_to_dot_draws_a_shared_input_once_and_a_freed_graph_as_its_root() -> None:
    x = tg.Tensor(np.ones(3), requires_grad=True)
    y = (x * x).sum()
    nodes, edges = _parse_dot(tg.to_dot(y))
    assert len(nodes) == 3 and len(edges) == 3  # x, x*x, sum; x enters Mul twice
    y.backward()
    nodes, edges = _parse_dot(tg.to_dot(y))
    assert len(nodes) == 1 and edges == []


def test_graph_tree_lists_each_tensor_once_and_refers_back_to_shared_ones() -> None:
    x = tg.Tensor(np.ones(3), requires_grad=True)
    out = (x * x + x).sum()
    lines = tg.graph_tree(out, params={"x": x}).splitlines()
    assert [line.split()[1] for line in lines if line.lstrip().startswith("#")] == [
        "Sum", "Add", "Mul", "x",
    ]  # fmt: skip
    assert sum("(see #3)" in line for line in lines) == 2  # x's second and third uses
    assert lines[0] == "#0 Sum scalar float64 [grad]"
    deep = tg.graph_tree(out, max_depth=1).splitlines()
    assert deep[-1].strip() == "... (deeper than max_depth=1)"


def test_render_dot_without_graphviz_names_the_missing_program(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on an empty PATH
    x = tg.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="`dot` is not installed; use to_dot"):
        tg.render_dot((x * 2).sum(), tmp_path / "g.svg")


def test_render_dot_writes_an_svg_when_graphviz_is_installed(tmp_path) -> None:
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed")
    x = tg.Tensor(np.ones(2), requires_grad=True)
    path = tg.render_dot((x * 2).sum(), tmp_path / "g.svg")
    assert "<svg" in path.read_text()


# ----- detect_anomaly ---------------------------------------------------------------------
def test_anomaly_names_the_op_and_line_that_made_a_nan_in_forward() -> None:
    x = tg.Tensor(np.array([-1.0, 1.0]), requires_grad=True)
    with tg.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(tg.AnomalyError) as info:
            line = _here()
            x.log()
    assert str(info.value) == f"Log at test_inspection.py:{line} produced NaN in forward"


def test_anomaly_names_an_inf_made_from_finite_inputs_in_forward() -> None:
    x = tg.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with tg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(tg.AnomalyError, match=r"^Log at test_inspection.py:\d+ produced Inf"):
            x.log()


@pytest.mark.parametrize(("upstream", "problem"), [([0.0, 1.0], "NaN"), ([1.0, 1.0], "Inf")])
def test_anomaly_names_the_op_and_forward_line_of_a_bad_gradient(upstream, problem) -> None:
    x = tg.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with tg.detect_anomaly(), np.errstate(divide="ignore", invalid="ignore"):
        line = _here()
        y = x.sqrt()  # finite forward; d sqrt / dx = 1 / (2 sqrt x) is infinite at 0
        loss = (y * tg.Tensor(np.array(upstream))).sum()
        with pytest.raises(tg.AnomalyError) as info:
            loss.backward()
    expected = (
        f"Sqrt at test_inspection.py:{line} produced {problem} in backward (gradient of input 0)"
    )
    assert str(info.value) == expected


def test_anomaly_in_backward_only_says_how_to_find_the_line() -> None:
    x = tg.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    loss = x.sqrt().sum()
    with tg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(tg.AnomalyError, match="run the forward inside detect_anomaly"):
            loss.backward()


def test_anomaly_raises_at_the_first_op_that_reads_nan_data() -> None:
    data = tg.Tensor(np.array([1.0, np.nan]))
    with tg.detect_anomaly():
        with pytest.raises(tg.AnomalyError) as info:
            line = _here()
            (data * 2.0).exp()
    assert str(info.value).startswith(f"Mul at test_inspection.py:{line} read NaN in forward")


def test_anomaly_accepts_masked_attention_and_is_off_outside_the_context() -> None:
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2).double()
    x = tg.Tensor(RNG.normal(size=(2, 3, 4)))
    padding = np.array([[False, False, True], [True, True, True]])  # row 2: every key masked
    with tg.detect_anomaly():
        out, _ = mha(x, x, x, key_padding_mask=padding, is_causal=True)
        (out * tg.Tensor(RNG.normal(size=out.shape))).sum().backward()
    assert np.isfinite(mha.q_proj.weight.grad.data).all()
    with np.errstate(invalid="ignore"):
        assert np.isnan(tg.Tensor(np.array([-1.0])).log().data).all()  # no error: mode is off


def test_anomaly_mode_is_an_inspector_installed_only_inside_the_context() -> None:
    """Outside detect_anomaly() the engine has no inspector to call; inside it has, and it is
    removed again even when the block raises (and restored when contexts nest)."""
    assert autograd.get_inspector() is None and not anomaly.is_enabled()
    with pytest.raises(tg.AnomalyError), tg.detect_anomaly(), np.errstate(divide="ignore"):
        assert autograd.get_inspector() is not None and anomaly.is_enabled()
        with tg.detect_anomaly():
            pass
        assert anomaly.is_enabled()  # the inner exit put the outer inspector back
        tg.Tensor(np.array([0.0])).log()
    assert autograd.get_inspector() is None and not anomaly.is_enabled()


def test_the_engine_imports_nothing_from_the_package() -> None:
    """The autograd package is the bottom layer: tensor.py and anomaly.py build on it, never
    the reverse (tensor.py registers its class; detect_anomaly installs an inspector). Its
    modules import only each other (relative imports); functional.py, the user-level
    torch.autograd.functional API, is the one module built on top of Tensor."""
    package = Path(autograd.__file__).parent
    for path in sorted(package.glob("*.py")):
        if path.name == "functional.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        ]
        assert not [name for name in imported if name and name.startswith("tinygrad_attn")], path


# ----- explain_backward -------------------------------------------------------------------
def test_explain_backward_records_every_op_in_engine_order_with_numpy_norms(small_graph) -> None:
    x, W, R, y, z, loss = small_graph
    records = explain_backward(loss, file=io.StringIO())
    assert [r.op for r in records] == ["Sum", "Mul", "Tanh", "MatMul"]
    assert [r.step for r in records] == [1, 2, 3, 4]
    g_z = R.data
    g_y = R.data * (1 - z.data**2)
    expected = [  # (|grad_out|, [|grad_in| per input or None])
        (1.0, [np.sqrt(15)]),
        (np.sqrt(15), [np.linalg.norm(g_z), None]),
        (np.linalg.norm(g_z), [np.linalg.norm(g_y)]),
        (np.linalg.norm(g_y), [None, np.linalg.norm(x.data.T @ g_y)]),
    ]
    for record, (out_norm, in_norms) in zip(records, expected):
        assert record.grad_out_norm == pytest.approx(out_norm, rel=1e-12)
        assert record.grad_in_norms == [None if n is None else pytest.approx(n) for n in in_norms]
    assert records[3].input_shapes == [(3, 4), (4, 5)] and records[3].output_shape == (3, 5)
    np.testing.assert_allclose(W.grad.data, x.data.T @ g_y, rtol=1e-12)  # a real backward


def test_explain_backward_reduces_broadcast_gradients_and_sums_fan_out() -> None:
    x = tg.Tensor(RNG.normal(size=(3, 4)), requires_grad=True)
    b = tg.Tensor(RNG.normal(size=(4,)), requires_grad=True)
    R = RNG.normal(size=(3, 4))
    h = x + b
    records = explain_backward(((h * h) * tg.Tensor(R)).sum(), file=io.StringIO())
    add = next(r for r in records if r.op == "Add")
    mul_hh = [r for r in records if r.op == "Mul"][-1]
    g_h = 2 * h.data * R  # h is used twice: both halves arrive summed
    assert add.grad_out_norm == pytest.approx(np.linalg.norm(g_h))
    assert add.grad_in_norms[1] == pytest.approx(np.linalg.norm(g_h.sum(axis=0)))
    assert add.input_shapes == [(3, 4), (4,)]
    assert mul_hh.grad_in_norms[0] == pytest.approx(np.linalg.norm(h.data * R))


def test_explain_backward_prints_the_tape_with_sites_and_named_leaves() -> None:
    W = tg.Tensor(RNG.normal(size=(4, 5)), requires_grad=True)
    text = io.StringIO()
    with tg.detect_anomaly():
        line = _here()
        loss = (tg.Tensor(RNG.normal(size=(3, 4))) @ W).tanh().sum()
    explain_backward(loss, params={"W": W}, file=text)
    lines = text.getvalue().splitlines()
    assert lines[0] == "backward tape: 3 ops, in the order the engine runs them"
    tanh = next(row for row in lines if " Tanh " in row)
    assert f"test_inspection.py:{line}" in tanh and "(3, 5)" in tanh
    assert lines[-1].split() == ["W", "(4,", "5):", f"{np.linalg.norm(W.grad.data):.3e}"]


def test_explain_backward_leaves_no_hooks_behind(small_graph) -> None:
    x, W, R, y, z, loss = small_graph
    explain_backward(loss, retain_graph=True, file=io.StringIO())
    first = W.grad.data.copy()
    assert all(not node._output_hooks for node in toposort(loss.grad_fn)) and not W._hooks
    loss.backward()
    np.testing.assert_allclose(W.grad.data, 2 * first)


def test_explain_backward_needs_a_graph() -> None:
    with pytest.raises(ValueError, match="explain_backward: the tensor has no graph"):
        explain_backward(tg.Tensor(np.ones(2), requires_grad=True))
