"""Second derivatives of whole blocks in float64: nn.MultiheadAttention, the encoder layer and
the decoder layer (key padding, causal self-attention, cross-attention, LayerNorm, GELU). For
each: gradgradcheck with respect to its inputs and every parameter, and the Hessian-vector
product over all of them against central differences of first-order gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import models
import tinygrad_attn as tg
from tinygrad_attn import nn

RNG = np.random.default_rng(0)
X, MEMORY = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 4))
PADDING = np.array([[False] * 4, [False, False, False, True]])
WEIGHTS = RNG.standard_normal((2, 3, 4))


def _randomised(module: nn.Module) -> nn.Module:
    module = module.double()
    rng = np.random.default_rng(1)
    for p in module.parameters():
        p.data = 0.5 * rng.standard_normal(p.shape)
    return module


def _mha() -> tuple[nn.Module, Callable]:
    block = _randomised(nn.MultiheadAttention(4, 2))
    return block, lambda x, m: block(x, m, m, key_padding_mask=PADDING)[0]


def _encoder() -> tuple[nn.Module, Callable]:
    layer = _randomised(models.TransformerEncoderLayer(4, 2, 8, dropout=0.0, activation="gelu"))
    return layer, lambda x, m: layer(x, PADDING[:, :3]) * m[:, :3].sum()


def _decoder() -> tuple[nn.Module, Callable]:
    layer = models.TransformerDecoderLayer(4, 2, 8, dropout=0.0, norm_first=True)
    layer = _randomised(layer)
    return layer, lambda x, m: layer(x, m, memory_key_padding_mask=PADDING, tgt_is_causal=True)


BLOCKS = {"mha": _mha, "encoder_layer": _encoder, "decoder_layer": _decoder}


def _slots(module: nn.Module) -> list[tuple[nn.Module, str]]:
    """(owning module, name) of every parameter, in named_parameters order."""
    slots = [(module, name) for name, p in module._parameters.items() if p is not None]
    for child in module._modules.values():
        slots += _slots(child)
    return slots


def _functional(block: nn.Module, fn: Callable) -> Callable:
    """fn as a function of (x, memory, *parameters): for each call the block's parameters are
    the given tensors (gradcheck's float64 copies), and the block's own are put back after."""
    slots = _slots(block)
    originals = [module._parameters[name] for module, name in slots]

    def call(x: tg.Tensor, memory: tg.Tensor, *params: tg.Tensor) -> tg.Tensor:
        for (module, name), p in zip(slots, params):
            module._parameters[name] = p
        try:
            return fn(x, memory)
        finally:
            for (module, name), p in zip(slots, originals):
                module._parameters[name] = p

    return call


@pytest.mark.parametrize("name", list(BLOCKS))
def test_block_passes_gradgradcheck_over_its_inputs_and_every_parameter(name: str) -> None:
    block, fn = BLOCKS[name]()
    x = tg.Tensor(X.copy(), requires_grad=True)
    m = tg.Tensor(MEMORY.copy(), requires_grad=True)
    params = [tg.Tensor(p.data.copy(), requires_grad=True) for p in block.parameters()]
    call = _functional(block, fn)
    reached = tg.autograd.grad(call(x, m, *params).sum(), params, allow_unused=True)
    assert all(g is not None for g in reached), "the block must use the tensors it is given"
    assert tg.gradgradcheck(call, (x, m, *params))


def _loss(fn: Callable, x: tg.Tensor, m: tg.Tensor) -> tg.Tensor:
    return (fn(x, m).tanh() * tg.Tensor(WEIGHTS)).sum()


def _hvp(fn: Callable, params: list, vs: list, x: tg.Tensor, m: tg.Tensor) -> list:
    """H v of the loss over `params`: the gradient of (gradient . v), create_graph first."""
    grads = tg.autograd.grad(_loss(fn, x, m), params, create_graph=True)
    dot = (grads[0] * tg.Tensor(vs[0])).sum()
    for g, v in zip(grads[1:], vs[1:]):
        dot = dot + (g * tg.Tensor(v)).sum()
    return [h.data for h in tg.autograd.grad(dot, params)]


@pytest.mark.parametrize("name", list(BLOCKS))
def test_block_hvp_over_all_parameters_matches_finite_differences_of_gradients(
    name: str,
) -> None:
    block, fn = BLOCKS[name]()
    x = tg.Tensor(X.copy(), requires_grad=True)
    m = tg.Tensor(MEMORY.copy(), requires_grad=True)
    params = [*block.parameters(), x, m]
    rng = np.random.default_rng(2)
    vs = [rng.standard_normal(p.shape) for p in params]
    hv = _hvp(fn, params, vs, x, m)
    eps = 1e-5
    numeric = [np.zeros(p.shape) for p in params]
    originals = [p.data.copy() for p in params]
    for sign in (1.0, -1.0):
        for p, v, original in zip(params, vs, originals):
            p.data = original + sign * eps * v
        grads = tg.autograd.grad(_loss(fn, x, m), params)
        for acc, g in zip(numeric, grads):
            acc += sign * g.data / (2 * eps)
    for p, original in zip(params, originals):
        p.data = original
    for i, (a, n) in enumerate(zip(hv, numeric)):
        scale = max(np.abs(n).max(), 1e-3)
        assert np.abs(a - n).max() <= 1e-6 * scale + 1e-8, f"{name}: H v of tensor {i} differs"
