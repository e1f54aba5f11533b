"""The state-dict key mapping between our modules and their PyTorch counterparts (no torch).

One list serves both directions: each entry is (our keys, PyTorch key). One key on each side
is a plain copy; three of ours (q_proj, k_proj, v_proj) become PyTorch's packed in_proj_weight
(or in_proj_bias) stacked along rows, and are split back into three equal row blocks.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tinygrad_attn import nn

KeyPairs = list[tuple[tuple[str, ...], str]]


def key_mapping(module: nn.Module) -> KeyPairs:
    """(our state-dict keys, the PyTorch key they make), in our state_dict order."""
    pairs: KeyPairs = []
    _collect(module, "", "", pairs)
    return pairs


def _collect(module: nn.Module, ours: str, theirs: str, pairs: KeyPairs) -> None:
    if isinstance(module, nn.MultiheadAttention):
        for kind in ("weight", "bias"):
            if getattr(module.q_proj, kind) is not None:
                keys = tuple(f"{ours}{p}_proj.{kind}" for p in "qkv")
                pairs.append((keys, f"{theirs}in_proj_{kind}"))
        _collect(module.out_proj, f"{ours}out_proj.", f"{theirs}out_proj.", pairs)
        return
    own = [name for name, p in module._parameters.items() if p is not None]
    own += [
        name
        for name, b in module._buffers.items()
        if b is not None and name not in module._non_persistent
    ]
    pairs += [((ours + name,), theirs + name) for name in own]
    for name, child in module.named_children():
        _collect(child, f"{ours}{name}.", theirs + _torch_child_prefix(module, name), pairs)


def _torch_child_prefix(parent: nn.Module, name: str) -> str:
    """Where PyTorch keeps our child `name` of `parent`: the transformer layers hold the
    feed-forward's linear1/linear2 directly (no `ff.`) and call cross-attention
    `multihead_attn`; everything else keeps its name."""
    from models.transformer import TransformerDecoderLayer, TransformerEncoderLayer

    if isinstance(parent, (TransformerEncoderLayer, TransformerDecoderLayer)):
        if name == "ff":
            return ""
        if name == "cross_attn":
            return "multihead_attn."
    return name + "."


def to_torch_state(module: nn.Module) -> dict[str, np.ndarray]:
    """Our module's state dict under PyTorch's keys (q, k, v stacked), as numpy arrays."""
    state = module.state_dict()
    return {
        theirs: np.concatenate([state[k] for k in ours]) if len(ours) > 1 else state[ours[0]]
        for ours, theirs in key_mapping(module)
    }


def from_torch_state(module: nn.Module, torch_state: Mapping[str, np.ndarray]) -> dict:
    """A PyTorch state dict (numpy arrays) under our module's keys (in_proj split in three).

    A key on either side that the mapping does not cover is a ValueError naming it.
    """
    pairs = key_mapping(module)
    missing = [theirs for _, theirs in pairs if theirs not in torch_state]
    unexpected = sorted(set(torch_state) - {theirs for _, theirs in pairs})
    if missing or unexpected:
        raise ValueError(
            f"from_torch: {type(module).__name__}'s PyTorch state dict does not match: "
            f"missing {missing}, unexpected {unexpected}"
        )
    state = {}
    for ours, theirs in pairs:
        if len(ours) == 1:
            state[ours[0]] = torch_state[theirs]
            continue
        for key, block in zip(ours, np.split(torch_state[theirs], len(ours))):  # in_proj rows
            state[key] = block
    return state
