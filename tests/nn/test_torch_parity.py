"""The nn layers against torch.nn with copied weights (skipped when torch is not installed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import nn

torch = pytest.importorskip("torch")

SEEDS = st.integers(0, 2**31 - 1)


def _t(array: np.ndarray):
    return torch.from_numpy(np.ascontiguousarray(array))


def _torch_mha(mha: nn.MultiheadAttention):
    """torch.nn.MultiheadAttention(batch_first=True) holding mha's weights (float64)."""
    ref = torch.nn.MultiheadAttention(mha.embed_dim, mha.num_heads, batch_first=True).double()
    projections = (mha.q_proj, mha.k_proj, mha.v_proj)
    with torch.no_grad():  # PyTorch packs q, k, v into one (3E, E) in_proj_weight
        ref.in_proj_weight.copy_(_t(np.concatenate([p.weight.data for p in projections])))
        ref.in_proj_bias.copy_(_t(np.concatenate([p.bias.data for p in projections])))
        ref.out_proj.weight.copy_(_t(mha.out_proj.weight.data))
        ref.out_proj.bias.copy_(_t(mha.out_proj.bias.data))
    return ref


@pytest.mark.parametrize("mask", ["none", "padding", "bool_2d", "bool_3d", "float_3d", "both"])
@given(heads=st.integers(1, 3), tgt_len=st.integers(1, 4), src_len=st.integers(2, 5), seed=SEEDS)
def test_mha_matches_torch_with_masks(mask, heads, tgt_len, src_len, seed):
    rng = np.random.default_rng(seed)
    embed, batch = 2 * heads, 2
    tg.manual_seed(seed)
    mha = nn.MultiheadAttention(embed, heads).double()
    for p in mha.parameters():
        p.data = rng.standard_normal(p.shape) * 0.5
    query = rng.standard_normal((batch, tgt_len, embed))
    key = rng.standard_normal((batch, src_len, embed))
    value = rng.standard_normal((batch, src_len, embed))
    kwargs = {}
    if mask in ("padding", "both"):  # at least one real key per row: torch gives NaN otherwise
        kwargs["key_padding_mask"] = (
            np.arange(src_len)[None, :] >= rng.integers(1, src_len, batch)[:, None]
        )
    if mask in ("bool_2d", "both"):
        blocked = rng.random((tgt_len, src_len)) < 0.4
        blocked[:, 0] = False
        kwargs["attn_mask"] = blocked
    if mask == "bool_3d":
        blocked = rng.random((batch * heads, tgt_len, src_len)) < 0.4
        blocked[..., 0] = False
        kwargs["attn_mask"] = blocked
    if mask == "float_3d":
        kwargs["attn_mask"] = rng.standard_normal((batch * heads, tgt_len, src_len))
    for average in (True, False):
        out, weights = mha(
            tg.Tensor(query),
            tg.Tensor(key),
            tg.Tensor(value),
            average_attn_weights=average,
            **kwargs,
        )
        ref_out, ref_weights = _torch_mha(mha)(
            _t(query),
            _t(key),
            _t(value),
            average_attn_weights=average,
            **{k: _t(v) for k, v in kwargs.items()},
        )
        np.testing.assert_allclose(out.data, ref_out.detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            weights.data, ref_weights.detach().numpy(), rtol=1e-9, atol=1e-12
        )


def test_mha_input_gradients_match_torch():
    rng = np.random.default_rng(0)
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(6, 3).double()
    arrays = [rng.standard_normal((2, 4, 6)) for _ in range(3)]
    padding = np.array([[False, False, True, True], [False, False, False, False]])
    upstream = rng.standard_normal((2, 4, 6))
    ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out, _ = mha(*ours, key_padding_mask=padding, is_causal=False)
    (out * tg.Tensor(upstream)).sum().backward()
    theirs = [_t(a).requires_grad_() for a in arrays]
    ref_out, _ = _torch_mha(mha)(*theirs, key_padding_mask=_t(padding))
    (ref_out * _t(upstream)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_linear_matches_torch_forward_and_gradients():
    rng = np.random.default_rng(1)
    lin = nn.Linear(5, 3).double()
    ref = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        ref.weight.copy_(_t(lin.weight.data))
        ref.bias.copy_(_t(lin.bias.data))
    x, upstream = rng.standard_normal((2, 4, 5)), rng.standard_normal((2, 4, 3))
    (lin(tg.Tensor(x)) * tg.Tensor(upstream)).sum().backward()
    (ref(_t(x)) * _t(upstream)).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(lin.bias.grad.data, ref.bias.grad.numpy(), rtol=1e-10)


def test_layer_norm_matches_torch_forward_and_gradients():
    rng = np.random.default_rng(2)
    ln = nn.LayerNorm((3, 4)).double()
    ln.weight.data, ln.bias.data = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    ref = torch.nn.LayerNorm((3, 4)).double()
    with torch.no_grad():
        ref.weight.copy_(_t(ln.weight.data))
        ref.bias.copy_(_t(ln.bias.data))
    x, upstream = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    xt = tg.Tensor(x, requires_grad=True)
    ours = ln(xt)
    (ours * tg.Tensor(upstream)).sum().backward()
    x_ref = _t(x).requires_grad_()
    theirs = ref(x_ref)
    (theirs * _t(upstream)).sum().backward()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad.data, x_ref.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ln.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)], ids=["NC", "NCL"])
def test_batch_norm_matches_torch_in_train_and_eval(shape):
    rng = np.random.default_rng(3)
    bn = nn.BatchNorm1d(3, momentum=0.3).double()
    ref = torch.nn.BatchNorm1d(3, momentum=0.3).double()
    for _ in range(3):
        x = rng.standard_normal(shape) * 3 + 1
        np.testing.assert_allclose(
            bn(tg.Tensor(x)).data, ref(_t(x)).detach().numpy(), rtol=1e-9, atol=1e-12
        )
    for name, value in ref.state_dict().items():
        np.testing.assert_allclose(bn.state_dict()[name], value.numpy(), rtol=1e-12, err_msg=name)
    bn.eval(), ref.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(bn(tg.Tensor(x)).data, ref(_t(x)).detach().numpy(), rtol=1e-9)


def test_embedding_padding_idx_gradient_matches_torch():
    rng = np.random.default_rng(4)
    emb = nn.Embedding(6, 3, padding_idx=2).double()
    ref = torch.nn.Embedding(6, 3, padding_idx=2).double()
    with torch.no_grad():
        ref.weight.copy_(_t(emb.weight.data))
    idx = rng.integers(0, 6, size=(3, 5))
    upstream = rng.standard_normal((3, 5, 3))
    (emb(idx) * tg.Tensor(upstream)).sum().backward()
    (ref(_t(idx)) * _t(upstream)).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-12)


def test_state_dict_keys_match_torch_for_the_same_layers():
    ours = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.LayerNorm(3), nn.Embedding(4, 3))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 3),
        torch.nn.BatchNorm1d(3),
        torch.nn.LayerNorm(3),
        torch.nn.Embedding(4, 3),
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, value in theirs.state_dict().items():
        assert ours.state_dict()[name].shape == tuple(value.shape), name
