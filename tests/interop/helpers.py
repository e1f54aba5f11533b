"""What the interop tests share: random weights, tolerances and comparisons in both frameworks.

Only imported by test files that have already skipped when torch is missing.
"""

from __future__ import annotations

import numpy as np
import torch

from tinygrad_attn import nn
from tinygrad_attn.interop import key_mapping

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}  # the bar: outputs and gradients


def randomised(module: nn.Module, dtype: type, seed: int = 0) -> nn.Module:
    """`module` in `dtype` with every parameter redrawn, biases and norm weights included
    (their defaults, zeros and ones, would hide a bias or scale copied to the wrong place)."""
    module = module.double() if dtype == np.float64 else module.float()
    rng = np.random.default_rng(seed)
    for p in module.parameters():
        p.data = (0.5 * rng.standard_normal(p.shape)).astype(dtype)
    return module


def randomised_transformer(model: nn.Module, dtype: type, pad_id: int = 0) -> nn.Module:
    """randomised(model, dtype) for a models.Transformer, its embeddings' PAD rows kept zero."""
    model = randomised(model, dtype)
    for embedding in (model.src_embed, model.tgt_embed):
        embedding.weight.data[pad_id] = 0.0
    return model


def torch_tensor(array: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.ascontiguousarray(array), requires_grad=grad)


def max_error(ours: np.ndarray, theirs: np.ndarray, tensorwise: bool = False) -> float:
    """Largest |difference| relative to max(1, |value|): absolute for small values. With
    `tensorwise`, relative to max(1, the largest |value| of the tensor): for gradients, whose
    entries are sums over the batch that float32 rounds relative to their largest terms."""
    if not ours.size:
        return 0.0
    scale = np.maximum(1.0, np.abs(theirs).max() if tensorwise else np.abs(theirs))
    return float(np.max(np.abs(ours - theirs) / scale))


def assert_close(
    ours: np.ndarray, theirs: np.ndarray, dtype: type, what: str, tensorwise: bool = False
) -> float:
    """Shapes equal and max_error within the dtype's tolerance; returns the error."""
    assert ours.shape == theirs.shape, f"{what}: shapes {ours.shape} vs {theirs.shape}"
    error = max_error(ours, theirs, tensorwise)
    assert error <= TOLERANCE[dtype], f"{what}: max error {error:.3g} ({np.dtype(dtype).name})"
    return error


def assert_grads_close(ours: nn.Module, theirs: torch.nn.Module, dtype: type) -> float:
    """Every parameter's gradient on both sides (q/k/v stacked as PyTorch's in_proj)."""
    ours_grads = {name: p.grad for name, p in ours.named_parameters()}
    theirs_grads = {name: p.grad for name, p in theirs.named_parameters()}
    worst, checked = 0.0, 0
    for our_keys, their_key in key_mapping(ours):
        if their_key not in theirs_grads:
            continue  # a buffer
        assert all(ours_grads[k] is not None for k in our_keys), our_keys
        assert theirs_grads[their_key] is not None, their_key
        mine = np.concatenate([ours_grads[k].data for k in our_keys])
        theirs_grad = theirs_grads[their_key].numpy()
        error = assert_close(mine, theirs_grad, dtype, f"grad {their_key}", tensorwise=True)
        worst, checked = max(worst, error), checked + 1
    assert checked == len(theirs_grads), f"{checked} of {len(theirs_grads)} gradients compared"
    return worst


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    """Bit for bit: same keys, dtypes and values; same repr (settings) and mode."""
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype, key
        assert np.array_equal(sa[key], sb[key]), key
    assert repr(a) == repr(b)
    assert [m.training for m in a.modules()] == [m.training for m in b.modules()]
