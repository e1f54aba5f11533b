"""to_torch / from_torch: build the counterpart with the same settings (_to_torch.py,
_from_torch.py), then copy the weights through the key mapping of _keys.py. Imported only once
torch is known to be installed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn as tnn

import tinygrad_attn as tg
from tinygrad_attn import nn
from tinygrad_attn.interop import _keys
from tinygrad_attn.interop._from_torch import build_ours, refuse_hooks
from tinygrad_attn.interop._to_torch import DTYPES, build_torch, refuse_our_hooks


def float_dtype(arrays: dict[str, np.ndarray], who: str) -> np.dtype:
    """The one floating dtype (float32 or float64) of a state dict, else a ValueError."""
    found = {a.dtype for a in arrays.values() if a.dtype.kind == "f"}
    if len(found) > 1 or not found <= set(DTYPES):
        raise ValueError(f"{who}: needs one of float32/float64 throughout, found {sorted(found)}")
    return found.pop() if found else np.dtype(np.float32)


@contextlib.contextmanager
def _random_streams_kept() -> Iterator[None]:
    """Building a module draws initial weights (then overwritten): leave both random streams
    (ours and torch's) where the caller had them."""
    state = tg.random.get_state()
    try:
        with torch.random.fork_rng():
            yield
    finally:
        tg.random.set_state(state)


def to_torch(module: nn.Module) -> tnn.Module:
    """See tinygrad_attn.interop.to_torch."""
    refuse_our_hooks(module)
    with _random_streams_kept():
        theirs = build_torch(module)
    state = _keys.to_torch_state(module)
    theirs.to(DTYPES[float_dtype(state, "to_torch")])
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return theirs.train(module.training)


def from_torch(theirs: tnn.Module) -> nn.Module:
    """See tinygrad_attn.interop.from_torch."""
    refuse_hooks(theirs)
    with _random_streams_kept():
        ours = build_ours(theirs)
    state = {k: v.detach().cpu().numpy() for k, v in theirs.state_dict().items()}
    if float_dtype(state, "from_torch") == np.float64:
        ours.double()
    ours.load_state_dict(_keys.from_torch_state(ours, state))
    return ours.train(theirs.training)
