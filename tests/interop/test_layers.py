"""to_torch / from_torch on every mapped nn layer: same outputs (1e-5 in float32, 1e-10 in
float64) on random inputs with padding, same gradients for every parameter and input after
one backward with a random cotangent, and from_torch(to_torch(m)) equal to m bit for bit."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import models
import tinygrad_attn as tg
from tinygrad_attn import nn

torch = pytest.importorskip("torch")

from tinygrad_attn import interop  # noqa: E402 (after the skip)

from .helpers import (  # noqa: E402
    assert_close,
    assert_grads_close,
    assert_same_state,
    randomised,
    torch_tensor,
)

B, L, S, E = 3, 4, 5, 8


def _padding(rng: np.random.Generator, length: int) -> np.ndarray:
    """(B, length) bool, True at PAD; every row keeps at least its first position."""
    lengths = np.array([length, *rng.integers(1, length, B - 1)])
    return np.arange(length)[None, :] >= lengths[:, None]


def _causal(length: int) -> np.ndarray:
    return np.triu(np.ones((length, length), dtype=bool), k=1)


@dataclass
class Case:
    """A layer, how to draw its inputs (floats get gradients; masks and ids do not)."""

    make: Callable[[], nn.Module]
    floats: Callable[[np.random.Generator], list[np.ndarray]]
    other: Callable[[np.random.Generator], dict] = field(default=lambda rng: {})
    ints: Callable[[np.random.Generator], list[np.ndarray]] | None = None
    train: bool = False  # compare in training mode (BatchNorm's batch statistics)
    torch_class: str = ""


def _x(*shape: int) -> Callable[[np.random.Generator], list[np.ndarray]]:
    return lambda rng: [rng.standard_normal(shape)]


def _ids(rng: np.random.Generator) -> list[np.ndarray]:
    ids = rng.integers(1, 10, (B, L))
    ids[_padding(rng, L)] = 0
    return [ids]


def _decoder_masks(rng: np.random.Generator) -> dict:
    return dict(
        tgt_mask=_causal(L),
        tgt_key_padding_mask=_padding(rng, L),
        memory_key_padding_mask=_padding(rng, S),
    )


CASES = {
    "Linear": Case(lambda: nn.Linear(6, 5), _x(B, L, 6), torch_class="Linear"),
    "Linear(bias=False)": Case(lambda: nn.Linear(6, 5, bias=False), _x(B, 6)),
    "Embedding(padding_idx=0)": Case(
        lambda: nn.Embedding(10, E, padding_idx=0), lambda rng: [], ints=_ids
    ),
    "LayerNorm": Case(lambda: nn.LayerNorm(E), _x(B, L, E), torch_class="LayerNorm"),
    "LayerNorm(2-D, no bias)": Case(lambda: nn.LayerNorm((L, E), bias=False), _x(B, L, E)),
    "BatchNorm1d(train)": Case(lambda: nn.BatchNorm1d(E), _x(6, E), train=True),
    "BatchNorm1d(train, N C L)": Case(lambda: nn.BatchNorm1d(E), _x(B, E, L), train=True),
    "BatchNorm1d(eval)": Case(lambda: nn.BatchNorm1d(E, momentum=None), _x(B, E, L)),
    "Dropout(eval)": Case(lambda: nn.Dropout(0.3), _x(B, E), torch_class="Dropout"),
    "Sequential": Case(
        lambda: nn.Sequential(
            nn.Linear(6, E),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.LayerNorm(E),
            nn.GELU("tanh"),
            nn.Linear(E, E),
            nn.GELU(),
            nn.Linear(E, 3),
        ),
        _x(B, L, 6),
        torch_class="Sequential",
    ),
    "MultiheadAttention(self, masks)": Case(
        lambda: nn.MultiheadAttention(E, 2),
        lambda rng: [rng.standard_normal((B, L, E))] * 3,
        lambda rng: dict(key_padding_mask=_padding(rng, L), attn_mask=_causal(L)),
        torch_class="MultiheadAttention",
    ),
    "MultiheadAttention(cross, no bias)": Case(
        lambda: nn.MultiheadAttention(E, 4, bias=False),
        lambda rng: [rng.standard_normal((B, L, E)), *[rng.standard_normal((B, S, E))] * 2],
        lambda rng: dict(key_padding_mask=_padding(rng, S)),
    ),
    "TransformerEncoderLayer": Case(
        lambda: models.TransformerEncoderLayer(E, 2, 16, dropout=0.1),
        _x(B, S, E),
        lambda rng: dict(src_key_padding_mask=_padding(rng, S)),
        torch_class="TransformerEncoderLayer",
    ),
    "TransformerEncoderLayer(pre-norm, gelu)": Case(
        lambda: models.TransformerEncoderLayer(E, 4, 16, 0.0, "gelu", norm_first=True),
        _x(B, S, E),
        lambda rng: dict(src_key_padding_mask=_padding(rng, S)),
    ),
    "TransformerDecoderLayer": Case(
        lambda: models.TransformerDecoderLayer(E, 2, 16, dropout=0.1),
        lambda rng: [rng.standard_normal((B, L, E)), rng.standard_normal((B, S, E))],
        _decoder_masks,
        torch_class="TransformerDecoderLayer",
    ),
    "TransformerDecoderLayer(pre-norm)": Case(
        lambda: models.TransformerDecoderLayer(E, 2, 16, 0.0, norm_first=True, eps=1e-6),
        lambda rng: [rng.standard_normal((B, L, E)), rng.standard_normal((B, S, E))],
        _decoder_masks,
    ),
    "PositionalEncoding": Case(
        lambda: models.PositionalEncoding(E, 12, dropout=0.1),
        _x(B, L, E),
        torch_class="TorchPositionalEncoding",
    ),
    "LearnedPositionalEncoding": Case(
        lambda: models.LearnedPositionalEncoding(E, 12, dropout=0.1),
        _x(B, L, E),
        torch_class="TorchLearnedPositionalEncoding",
    ),
}
DTYPES = [np.float32, np.float64]


def _build(case: Case, dtype: type) -> nn.Module:
    tg.manual_seed(0)
    module = randomised(case.make(), dtype)
    if isinstance(module, nn.BatchNorm1d):  # non-trivial running statistics
        rng = np.random.default_rng(1)
        module.running_mean.data = rng.standard_normal(E).astype(dtype)
        module.running_var.data = rng.uniform(0.5, 2.0, E).astype(dtype)
        module.num_batches_tracked.data = np.array(7)
    return module.train(case.train)


def _outputs(result) -> list:
    return list(result) if isinstance(result, tuple) else [result]


def _run_both(case: Case, dtype: type, seed: int = 0):
    """(ours, theirs, our outputs, their outputs, our float inputs, their float inputs)."""
    rng = np.random.default_rng(seed)
    ours = _build(case, dtype)
    theirs = interop.to_torch(ours)
    floats = [a.astype(dtype) for a in case.floats(rng)]
    ints = case.ints(rng) if case.ints else []
    other = case.other(rng)
    our_in = [tg.Tensor(a, requires_grad=True) for a in floats]
    if len(floats) == 3 and floats[0] is floats[1]:  # self-attention: query is key is value
        our_in = [our_in[0]] * 3
    their_in = [torch_tensor(a, grad=True) for a in floats]
    if len(floats) == 3 and floats[0] is floats[1]:
        their_in = [their_in[0]] * 3
    our_out = _outputs(ours(*our_in, *ints, **other))
    their_args = [*their_in, *[torch_tensor(i) for i in ints]]
    their_out = _outputs(theirs(*their_args, **{k: torch_tensor(v) for k, v in other.items()}))
    return ours, theirs, our_out, their_out, our_in, their_in


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_outputs_and_every_gradient_match_pytorch(name: str, dtype: type) -> None:
    case = CASES[name]
    ours, theirs, our_out, their_out, our_in, their_in = _run_both(case, dtype)
    assert len(our_out) == len(their_out)
    rng = np.random.default_rng(2)
    our_loss, their_loss = 0.0, 0.0
    for i, (a, b) in enumerate(zip(our_out, their_out)):
        if b is None:
            assert a is None
            continue
        assert_close(a.data, b.detach().numpy(), dtype, f"{name} output {i}")
        cotangent = rng.standard_normal(a.shape).astype(dtype)  # not sum(): sees every entry
        our_loss = our_loss + (a * tg.Tensor(cotangent)).sum()
        their_loss = their_loss + (b * torch_tensor(cotangent)).sum()
    if case.train and isinstance(ours, nn.BatchNorm1d):  # the running statistics moved alike
        for key, value in theirs.state_dict().items():
            assert_close(ours.state_dict()[key], value.numpy(), dtype, key)
    our_loss.backward()
    their_loss.backward()
    if list(ours.parameters()):
        assert_grads_close(ours, theirs, dtype)
    for i, (a, b) in enumerate(zip(our_in, their_in)):
        if b.grad is not None:  # each distinct input once
            assert_close(a.grad.data, b.grad.numpy(), dtype, f"{name} input {i} gradient")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_from_torch_of_to_torch_is_the_same_module_bit_for_bit(name: str, dtype: type) -> None:
    case = CASES[name]
    ours = _build(case, dtype)
    theirs = interop.to_torch(ours)
    if case.torch_class:  # PyTorch's own class (or ours for the positions)
        assert type(theirs).__name__ == case.torch_class
    assert {p.dtype for p in theirs.parameters()} <= {
        torch.float32 if dtype == np.float32 else torch.float64
    }
    assert theirs.training == case.train
    assert_same_state(interop.from_torch(theirs), ours)


def test_dropout_in_training_mode_zeroes_or_scales_on_both_sides() -> None:
    """Dropout masks come from different generators; the rule they follow is the same."""
    x = np.ones((50, 40), dtype=np.float32)
    ours = nn.Dropout(0.25)
    theirs = interop.to_torch(ours)
    for out in (ours(tg.Tensor(x)).data, theirs(torch_tensor(x)).numpy()):
        kept = out != 0
        assert 0.6 < kept.mean() < 0.9
        np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)


def test_pytorch_layers_built_by_hand_come_over() -> None:
    """from_torch takes PyTorch's own modules too, not only what to_torch made."""
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Embedding(10, E, padding_idx=0), torch.nn.LayerNorm(E), torch.nn.Linear(E, 3)
    ).eval()
    ours = interop.from_torch(theirs)
    ids = _ids(np.random.default_rng(0))[0]
    expected = theirs(torch_tensor(ids)).detach().numpy()
    assert_close(ours(ids).data, expected, np.float32, "Sequential from PyTorch")


def test_conversion_leaves_both_random_streams_alone() -> None:
    ours = models.TransformerDecoderLayer(E, 2, 16)
    tg.manual_seed(3)
    torch.manual_seed(3)
    expected = (tg.randn(4).data, torch.randn(4))
    tg.manual_seed(3)
    torch.manual_seed(3)
    interop.from_torch(interop.to_torch(ours))
    np.testing.assert_array_equal(tg.randn(4).data, expected[0])
    assert torch.equal(torch.randn(4), expected[1])


@pytest.mark.parametrize(
    "module, named",
    [
        (
            nn.Sequential(nn.Linear(E, E), models.FeedForward(E, 16, 0.0, "relu")),
            "'1' (FeedForward)",
        ),
        (nn.ModuleList([nn.ReLU(), nn.Module()]), "'1' (Module)"),
    ],
)
def test_a_layer_without_counterpart_is_an_error_naming_it(module, named) -> None:
    with pytest.raises(ValueError, match=re.escape(f"layer {named}")):
        interop.to_torch(module)


def test_a_modified_transformer_layer_is_an_error_naming_what_differs() -> None:
    layer = models.TransformerEncoderLayer(E, 2, 16, dropout=0.1)
    layer.dropout2 = nn.Dropout(0.3)
    with pytest.raises(ValueError, match="dropout differs.*dropout2"):
        interop.to_torch(layer)
    layer = models.TransformerEncoderLayer(E, 2, 16)
    layer.ff.activation = nn.GELU("tanh")
    with pytest.raises(ValueError, match="ff.activation"):
        interop.to_torch(layer)
    layer = models.TransformerDecoderLayer(E, 2, 16)
    layer.cross_attn = nn.MultiheadAttention(E, 2, bias=False)
    with pytest.raises(ValueError, match="'cross_attn.q_proj': has no bias"):
        interop.to_torch(layer)


@pytest.mark.parametrize(
    "make, named",
    [
        (lambda: torch.nn.Conv1d(2, 3, 1), "Conv1d"),
        (lambda: torch.nn.MultiheadAttention(E, 2), "batch_first=False"),
        (lambda: torch.nn.MultiheadAttention(E, 2, batch_first=True, kdim=4), "kdim"),
        (
            lambda: torch.nn.MultiheadAttention(E, 2, batch_first=True, add_bias_kv=True),
            "add_bias_kv",
        ),
        (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh()), "'1' \\(Tanh\\)"),
        (lambda: torch.nn.Embedding(5, 2, max_norm=1.0), "max_norm"),
        (
            lambda: torch.nn.TransformerEncoderLayer(
                E, 2, 16, activation=torch.tanh, batch_first=True
            ),
            "activation",
        ),
    ],
)
def test_a_pytorch_module_without_counterpart_is_an_error_naming_it(make, named) -> None:
    with pytest.raises(ValueError, match=named):
        interop.from_torch(make())


def _hooked(kind: str) -> torch.nn.Module:
    """A PyTorch module whose call does more than its class's forward (issue 28: each came over
    silently and the copy's output differed by up to 1.6)."""
    layer = torch.nn.TransformerEncoderLayer(E, 2, 16, dropout=0.0, batch_first=True)
    if kind == "forward hook":
        layer.register_forward_hook(lambda m, args, out: out + 1)
    elif kind == "forward pre-hook":
        layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    elif kind == "backward hook":
        layer.register_full_backward_hook(lambda m, g_in, g_out: None)
    elif kind == "instance-level forward override":
        seq = torch.nn.Sequential(layer)
        layer.forward = lambda x, *a, **k: x
        return seq
    else:  # a hook on a submodule
        layer.self_attn.register_forward_hook(lambda m, args, out: (out[0] * 0, out[1]))
    return layer


@pytest.mark.parametrize(
    "kind, named",
    [
        ("forward hook", "the module has a forward hook"),
        ("forward pre-hook", "the module has a forward pre-hook"),
        ("backward hook", "the module has a backward hook"),
        ("instance-level forward override", "layer '0' has an instance-level forward override"),
        ("submodule hook", "layer 'self_attn' has a forward hook"),
    ],
)
def test_from_torch_refuses_hooks_and_forward_overrides_naming_them(kind, named) -> None:
    with pytest.raises(ValueError, match=f"from_torch: {named}; cannot be mapped"):
        interop.from_torch(_hooked(kind))


@pytest.mark.parametrize(
    "child, replacement, named",
    [
        ("norm1", lambda: torch.nn.Identity(), "'norm1' has type Identity"),
        ("linear1", lambda: torch.nn.Identity(), "'linear1' has type Identity"),
        ("dropout", lambda: torch.nn.Identity(), "'dropout' has type Identity"),
        ("norm2", lambda: torch.nn.LayerNorm(E, bias=False), "'norm2' has no affine weight"),
    ],
)
def test_from_torch_names_a_replaced_child_of_a_transformer_layer(child, replacement, named):
    """Issue 28: norm1 = Identity raised AttributeError ('Identity' has no attribute 'eps')."""
    layer = torch.nn.TransformerEncoderLayer(E, 2, 16, batch_first=True)
    setattr(layer, child, replacement())
    with pytest.raises(ValueError, match=named):
        interop.from_torch(layer)


def test_to_torch_refuses_our_hooks_and_forward_overrides() -> None:
    linear = nn.Linear(E, E)
    linear.register_forward_hook(lambda m, args, out: out * 2)
    with pytest.raises(ValueError, match="to_torch: the module has a forward hook"):
        interop.to_torch(linear)
    seq = nn.Sequential(nn.Linear(E, E))
    seq[0].forward = lambda x: x
    with pytest.raises(ValueError, match="layer '0' has an instance-level forward override"):
        interop.to_torch(seq)


def test_torch_transformer_keeps_its_own_fast_path_pre_hook(tiny_config) -> None:
    """TorchTransformer's no-op pre-hook (relative schemes) is the one hook from_torch takes."""
    sizes = dict(src_vocab=7, tgt_vocab=7, d_model=E, num_decoder_layers=1, dim_feedforward=16)
    theirs = interop.TorchTransformer(tiny_config(**sizes, pos="t5")).eval()
    assert any(layer._forward_pre_hooks for layer in theirs.encoder)
    src = torch.tensor([[3, 4, 5]])
    ours = interop.from_torch(theirs)
    with torch.no_grad():
        want = theirs(src, torch.tensor([[1, 3]])).numpy()
    got = ours(np.array([[3, 4, 5]]), np.array([[1, 3]])).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
