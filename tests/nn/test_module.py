"""Module, Parameter and the containers: registration, traversal, modes, state dict, hooks."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import nn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return self.drop(self.norm(self.proj(x)))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.layers = nn.ModuleList([Block(), Block()])
        self.bn = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x * self.scale


def _net(seed: int) -> Net:
    tg.manual_seed(seed)
    return Net()


# ----- Parameter -----------------------------------------------------------------------------
def test_parameter_always_requires_grad_and_python_floats_become_float32():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, tg.Tensor) and p.requires_grad and p.is_leaf
    assert p.dtype == np.float32


def test_parameter_from_tensor_shares_its_array_and_ndarray_keeps_dtype():
    t = tg.Tensor(np.zeros(3))
    p = nn.Parameter(t)
    assert p.data is t.data and p.dtype == np.float64
    assert not t.requires_grad  # the source tensor is untouched


def test_parameter_of_integers_is_a_type_error():
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.arange(3))


def test_op_outputs_on_parameters_are_plain_tensors():
    p = nn.Parameter([1.0, 2.0])
    assert type(p * 2) is tg.Tensor and type(p.detach()) is tg.Tensor


# ----- registration and traversal --------------------------------------------------------------
def test_named_parameters_are_dotted_in_insertion_order_through_module_list():
    names = [name for name, _ in _net(0).named_parameters()]
    assert names == [  # a module's own parameters come before its children's, as PyTorch
        "scale",
        "embed.weight",
        "layers.0.proj.weight",
        "layers.0.proj.bias",
        "layers.0.norm.weight",
        "layers.0.norm.bias",
        "layers.1.proj.weight",
        "layers.1.proj.bias",
        "layers.1.norm.weight",
        "layers.1.norm.bias",
        "bn.weight",
        "bn.bias",
    ]


def test_named_modules_are_preorder_and_children_are_direct():
    net = _net(0)
    names = [name for name, _ in net.named_modules()]
    assert names[:6] == ["", "embed", "layers", "layers.0", "layers.0.proj", "layers.0.norm"]
    assert [type(m).__name__ for m in net.children()] == ["Embedding", "ModuleList", "BatchNorm1d"]
    assert len(list(net.modules())) == len(names) == 12


def test_buffers_are_registered_with_dotted_names_and_are_not_parameters():
    net = _net(0)
    assert [n for n, _ in net.named_buffers()] == [
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]
    param_ids = {id(p) for p in net.parameters()}
    assert all(id(b) not in param_ids and not b.requires_grad for b in net.buffers())


def test_shared_parameter_is_listed_once_but_saved_under_each_name():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    net[1].weight = net[0].weight
    assert len(list(net.parameters())) == 3
    assert net.num_parameters() == 4 + 2 + 2
    assert set(net.state_dict()) == {"0.weight", "0.bias", "1.weight", "1.bias"}


def test_assigning_a_plain_value_to_a_parameter_name_is_a_type_error_but_none_is_allowed():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="bias"):
        lin.bias = tg.Tensor([1.0, 2.0])
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]


def test_reassigning_a_name_moves_it_between_registries_and_del_unregisters():
    m = nn.Module()
    m.a = nn.Parameter([1.0])
    m.a = nn.Linear(1, 1)  # now a submodule, no longer a parameter
    assert [n for n, _ in m.named_parameters()] == ["a.weight", "a.bias"]
    del m.a
    assert list(m.named_parameters()) == [] and not hasattr(m, "a")


def test_del_of_a_plain_attribute_removes_it_and_of_a_missing_one_raises():
    m = nn.Module()
    m.note = "plain"  # neither a parameter, a buffer nor a submodule
    del m.note
    assert not hasattr(m, "note")
    with pytest.raises(AttributeError):
        del m.note


def test_assigning_before_super_init_names_the_fix():
    class Broken(nn.Module):
        def __init__(self) -> None:
            self.lin = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_register_buffer_keeps_python_floats_as_float32_and_non_persistent_is_not_saved():
    m = nn.Module()
    m.register_buffer("stat", [1.0, 2.0])
    m.register_buffer("cache", np.zeros(2), persistent=False)
    assert m.stat.dtype == np.float32 and isinstance(m.stat, tg.Tensor)
    assert list(m.state_dict()) == ["stat"]
    assert [n for n, _ in m.named_buffers()] == ["stat", "cache"]
    m.stat = np.array([5.0, 6.0])  # assignment to a buffer name updates the buffer
    np.testing.assert_array_equal(m.state_dict()["stat"], [5.0, 6.0])
    m.weight = nn.Parameter([0.0])
    with pytest.raises(KeyError, match="weight"):
        m.register_buffer("weight", [0.0])


# ----- modes and gradients -----------------------------------------------------------------
def test_train_and_eval_reach_every_descendant():
    net = _net(0)
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    net.layers[1].train()
    assert net.layers[1].drop.training and not net.layers[0].drop.training
    net.train()
    assert all(m.training for m in net.modules())


def test_evaluating_is_eval_and_no_grad_then_restores_each_flag_even_on_an_exception():
    net = _net(0)
    net.layers[1].eval()  # a submodule left in eval mode must stay so afterwards
    before = [m.training for m in net.modules()]
    x = tg.randn(2, 4)
    with pytest.raises(KeyError), net.evaluating() as same:
        assert same is net
        assert not any(m.training for m in net.modules())
        assert not tg.is_grad_enabled() and net(x).grad_fn is None
        raise KeyError("boom")
    assert [m.training for m in net.modules()] == before
    assert tg.is_grad_enabled() and net(x).grad_fn is not None
    with tg.no_grad(), net.evaluating():
        pass
    assert tg.is_grad_enabled()  # back to what it was before no_grad, not stuck off


def test_zero_grad_sets_every_grad_to_none():
    net = _net(0)
    x = tg.randn(2, 4)
    (net(x) * tg.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for _, p in net.named_parameters() if "layers" in _)
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_zero_grad_set_to_none_false_keeps_zero_arrays():
    lin = nn.Linear(2, 2)
    (lin(tg.randn(3, 2)) * tg.randn(3, 2)).sum().backward()
    lin.zero_grad(set_to_none=False)
    assert all(p.grad is not None and np.all(p.grad.data == 0) for p in lin.parameters())


def test_apply_visits_children_before_parents_like_pytorch():
    seq = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    seen = []
    assert seq.apply(lambda m: seen.append(type(m).__name__)) is seq
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


def test_dir_lists_registered_names():
    names = dir(_net(0))
    assert {"embed", "layers", "bn", "scale", "forward"} <= set(names)


def test_requires_grad_false_freezes_every_parameter():
    net = _net(0).requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_double_and_float_convert_parameters_and_buffers_in_place():
    net = _net(0)
    params = list(net.parameters())
    net.bn.running_mean.data += 1.0
    net.double()
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.bn.running_mean.dtype == np.float64 and net.bn.running_var.dtype == np.float64
    assert net.bn.num_batches_tracked.dtype == np.int64  # integer buffers are left alone
    np.testing.assert_array_equal(net.bn.running_mean.data, np.ones(4))
    assert net(tg.Tensor(np.ones((2, 4)))).dtype == np.float64
    net.float()
    assert all(t.dtype == np.float32 for t in (*net.parameters(), net.bn.running_var))


# ----- state dict --------------------------------------------------------------------------
def test_state_dict_holds_copies_of_parameters_and_buffers():
    net = _net(0)
    sd = net.state_dict()
    assert "bn.running_mean" in sd and "bn.num_batches_tracked" in sd
    assert list(sd)[:3] == ["scale", "embed.weight", "layers.0.proj.weight"]
    before = net.embed.weight.data.copy()
    sd["embed.weight"][...] = 7.0  # writing the copy leaves the model alone
    np.testing.assert_array_equal(net.embed.weight.data, before)
    net.embed.weight.data[...] = 3.0  # and writing the model leaves the copy alone
    assert np.all(sd["embed.weight"] == 7.0)


def test_state_dict_round_trip_is_exact_and_keeps_objects_and_dtypes():
    source, target = _net(1), _net(2)
    source.bn(tg.randn(5, 4))  # move the running stats off their initial values
    params = [id(p) for p in target.parameters()]
    sd = {
        k: v.astype(np.float64) if v.dtype == np.float32 else v
        for k, v in source.state_dict().items()
    }
    result = target.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert [id(p) for p in target.parameters()] == params
    assert all(p.dtype == np.float32 for p in target.parameters())
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key], value, err_msg=key)
    x = tg.randn(3, 4)
    source.eval(), target.eval()
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_load_state_dict_does_not_alias_the_given_arrays():
    net = _net(0)
    sd = _net(1).state_dict()
    net.load_state_dict(sd)
    sd["scale"][...] = 9.0
    assert net.scale.data[0] != 9.0


def test_load_state_dict_strict_names_missing_and_unexpected_keys():
    net = _net(0)
    sd = net.state_dict()
    del sd["layers.1.norm.bias"]
    sd["layers.2.proj.weight"] = np.zeros((4, 3))
    with pytest.raises(KeyError) as err:
        net.load_state_dict(sd)
    assert "layers.1.norm.bias" in str(err.value) and "layers.2.proj.weight" in str(err.value)


def test_load_state_dict_non_strict_loads_the_rest_and_reports_keys():
    net = _net(0)
    sd = _net(1).state_dict()
    del sd["scale"]
    sd["extra"] = np.zeros(1)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(net.embed.weight.data, sd["embed.weight"])


def test_load_state_dict_wrong_shape_names_the_key_and_copies_nothing():
    net = _net(0)
    before = net.state_dict()
    sd = _net(1).state_dict()
    sd["bn.running_var"] = np.ones(5)
    with pytest.raises(ValueError, match=r"bn\.running_var.*\(5,\).*\(4,\)"):
        net.load_state_dict(sd)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


# ----- calling and hooks -------------------------------------------------------------------
def test_forward_hook_sees_module_inputs_and_output_and_can_replace_it():
    lin = nn.Linear(2, 3)
    seen = []
    handle = lin.register_forward_hook(lambda m, inputs, out: seen.append((m, inputs, out)))
    x = tg.randn(4, 2)
    out = lin(x)
    assert seen[0][0] is lin and seen[0][1][0] is x and seen[0][2] is out
    replace = lin.register_forward_hook(lambda m, inputs, out: out * 0.0)
    assert np.all(lin(x).data == 0)
    handle.remove()
    replace.remove()
    lin(x)
    assert len(seen) == 2
    np.testing.assert_array_equal(lin(x).data, out.data)


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module"):
        nn.Module()(1)


# ----- containers --------------------------------------------------------------------------
def test_sequential_chains_and_indexes():
    tg.manual_seed(0)
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = tg.randn(5, 3)
    np.testing.assert_array_equal(seq(x).data, seq[2](seq[1](seq[0](x))).data)
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert [type(m).__name__ for m in seq[1:]] == ["ReLU", "Linear"]
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(IndexError, match="3 modules"):
        seq[3]


def test_module_list_indexing_len_iteration_append_and_assignment():
    layers = nn.ModuleList([nn.Linear(1, 1) for _ in range(2)])
    first = layers[0]
    layers.append(nn.ReLU())
    assert len(layers) == 3 and layers[-1] is list(layers)[2]
    assert isinstance(layers[:2], nn.ModuleList) and layers[:2][0] is first
    replacement = nn.Linear(1, 1)
    layers[1] = replacement
    assert layers[1] is replacement
    layers.insert(0, nn.GELU())
    assert [type(m).__name__ for m in layers] == ["GELU", "Linear", "Linear", "ReLU"]
    assert [n for n, _ in layers.named_parameters()][:2] == ["1.weight", "1.bias"]
    with pytest.raises(TypeError, match="Module"):
        layers.append(3)


# ----- printing ----------------------------------------------------------------------------
def test_repr_is_an_indented_tree_with_constructor_arguments():
    text = repr(_net(0))
    assert text.startswith("Net(\n  (embed): Embedding(5, 3)\n  (layers): ModuleList(\n")
    assert "    (0): Block(\n      (proj): Linear(in_features=4, out_features=4, bias=True)" in text
    assert "(drop): Dropout(p=0.5)" in text and text.endswith("\n)")


def test_summary_counts_parameters_per_submodule_and_in_total():
    net = _net(0)
    text = net.summary()
    total = 5 * 3 + 2 * (4 * 4 + 4 + 4 + 4) + 4 + 4 + 1
    assert net.num_parameters() == total
    assert f"total trainable parameters: {total}" in text
    block_line = next(line for line in text.splitlines() if line.startswith("layers.0 "))
    assert block_line.split() == ["layers.0", "Block", "28"]


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.complex128])
def test_load_state_dict_refuses_values_of_another_kind_naming_the_key(dtype):
    """Issue 28: int64 zeros were cast into the float weights silently (a model of zeros)."""
    layer = nn.Linear(3, 2)
    before = layer.weight.data.copy()
    state = {**layer.state_dict(), "weight": np.zeros((2, 3), dtype=dtype)}
    with pytest.raises(TypeError, match=f"'weight' holds {np.dtype(dtype)} values but is float"):
        layer.load_state_dict(state)
    np.testing.assert_array_equal(layer.weight.data, before)  # nothing copied
    layer.load_state_dict({k: v.astype(np.float32) for k, v in layer.state_dict().items()})
    assert layer.weight.dtype == before.dtype  # float32 <-> float64 is still cast
