"""Watching gradients: tensor hooks (on intermediates and leaves, summed once), module forward
hooks, and GradientFlow's per-parameter and per-module gradient norms."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import nn

RNG = np.random.default_rng(0)


# ----- hooks ------------------------------------------------------------------------------
def test_hook_on_an_intermediate_sees_the_gradient_arriving_there(small_graph) -> None:
    x, W, R, y, z, loss = small_graph
    seen = {}
    y.register_hook(lambda g: seen.setdefault("y", g.data.copy()))
    W.register_hook(lambda g: seen.setdefault("W", g.data.copy()))
    loss.backward()
    expected_y = R.data * (1 - np.tanh(x.data @ W.data) ** 2)
    np.testing.assert_allclose(seen["y"], expected_y, rtol=1e-12)
    np.testing.assert_allclose(seen["W"], x.data.T @ expected_y, rtol=1e-12)


def test_hook_returning_a_tensor_replaces_the_gradient_and_remove_undoes_it(small_graph) -> None:
    x, W, R, y, z, loss = small_graph
    handle = y.register_hook(lambda g: g * 0.0)
    loss.backward(retain_graph=True)
    assert np.all(W.grad.data == 0)
    handle.remove()
    W.grad = None
    loss.backward()
    assert np.abs(W.grad.data).max() > 0


def test_hook_on_an_intermediate_used_twice_sees_the_summed_gradient_once(small_graph) -> None:
    x, W, R, y, z, _ = small_graph
    calls = []
    y.register_hook(lambda g: calls.append(g.data.copy()))
    ((y * 2.0).sum() + (y * 3.0).sum()).backward()
    assert len(calls) == 1 and np.allclose(calls[0], 5.0)


def test_hook_on_a_leaf_used_twice_sees_the_summed_gradient_once() -> None:
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(g.data.copy()))
    ((x * 3.0).sum() + (x * 5.0).sum()).backward()
    assert len(calls) == 1 and np.allclose(calls[0], 8.0)


def test_forward_hook_sees_inputs_and_output_of_attention_inside_a_model() -> None:
    from models import TransformerEncoderLayer

    tg.manual_seed(0)
    layer = TransformerEncoderLayer(8, 2, 16, 0.0, "relu", False)
    captured = []
    handle = layer.self_attn.register_forward_hook(
        lambda m, args, out: captured.append((m, args, out))
    )
    src = tg.randn(2, 5, 8)
    layer(src)
    module, args, (attn_out, weights) = captured[0]
    assert module is layer.self_attn and args[0].shape == (2, 5, 8)
    assert attn_out.shape == (2, 5, 8) and weights is None  # the layer asks for no weights
    handle.remove()
    layer(src)
    assert len(captured) == 1


def test_forward_hook_return_value_replaces_the_module_output() -> None:
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = tg.randn(5, 3)
    model[0].register_forward_hook(lambda m, args, out: out * 0.0)
    np.testing.assert_allclose(model(x).data, np.broadcast_to(model[2].bias.data, (5, 2)))


# ----- GradientFlow -----------------------------------------------------------------------
def _mlp() -> nn.Module:
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()


def _backward(model: nn.Module, seed: int) -> None:
    rng = np.random.default_rng(seed)
    out = model(tg.Tensor(rng.normal(size=(6, 3))))
    (out * tg.Tensor(rng.normal(size=(6, 2)))).sum().backward()


def test_gradient_flow_records_each_parameters_gradient_norm_per_step() -> None:
    model = _mlp()
    flow = tg.GradientFlow(model)
    for step in (10, 20, 30):
        model.zero_grad()
        _backward(model, step)
        norms = flow.record(step)
        for name, p in model.named_parameters():
            assert norms[name] == pytest.approx(np.linalg.norm(p.grad.data), rel=1e-12)
    assert flow.steps == [10, 20, 30]
    assert list(flow.history) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(len(v) == 3 for v in flow.history.values())


def test_gradient_flow_by_module_adds_parameters_in_quadrature() -> None:
    model = _mlp()
    _backward(model, 0)
    norms = tg.GradientFlow(model, group_by="module").record()
    w, b = model[0].weight.grad.data, model[0].bias.grad.data
    assert set(norms) == {"0", "2"}
    assert norms["0"] == pytest.approx(np.sqrt(np.sum(w**2) + np.sum(b**2)), rel=1e-12)


def test_gradient_flow_records_zero_without_a_gradient_and_keeps_histories_aligned() -> None:
    model = _mlp()
    model[0].requires_grad_(False)
    flow = tg.GradientFlow(model)
    _backward(model, 0)
    assert flow.record()["0.weight"] == 0.0
    model.extra = nn.Linear(2, 2)  # a parameter that appears after the first step
    flow.record()
    assert flow.history["extra.weight"] == [0.0, 0.0]
    assert all(len(v) == len(flow.steps) == 2 for v in flow.history.values())
    assert "0.weight" in flow.table() and "extra.bias" in flow.table(last=2)


def test_gradient_flow_by_layer_groups_a_transformers_parameters_up_to_the_layer_index(
    tiny_model,
) -> None:
    model = tiny_model(src_vocab=7, tgt_vocab=7, dim_feedforward=16)  # 1 encoder, 2 decoder layers
    model(np.array([[3, 4, 5]]), np.array([[1, 6]])).sum().backward()
    norms = tg.GradientFlow(model, group_by="layer").record()
    assert list(norms) == [
        "src_embed", "tgt_embed", "encoder.0", "decoder.0", "decoder.1", "out_proj",
    ]  # fmt: skip
    squares = [np.sum(p.grad.data**2) for n, p in model.named_parameters() if n[:9] == "decoder.1"]
    assert norms["decoder.1"] == pytest.approx(np.sqrt(np.sum(squares)), rel=1e-12)


def test_gradient_flow_rejects_an_unknown_grouping() -> None:
    with pytest.raises(ValueError, match="group_by must be 'parameter', 'module' or 'layer'"):
        tg.GradientFlow(_mlp(), group_by="block")
