"""`Optimizer`: the base class that holds parameter groups and per-parameter state.

A subclass supplies its defaults, `_validate(group)` for its hyperparameters and
`_update(p, grad, group)`, the in-place update of one parameter. The base class owns the rest:
building `param_groups` (PyTorch's format), `zero_grad`, the `step` loop under `no_grad`, and
`state_dict` / `load_state_dict`, which restore the state exactly so that training resumes
bit-for-bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_attn import autograd
from tinygrad_attn.tensor import Tensor


class Optimizer:
    """Base class for optimizers: `param_groups`, `state`, `zero_grad`, `step`, state dicts.

    Shapes: every state buffer has its parameter's shape and dtype.

    Args:
        params: an iterable of Tensors, or of dicts `{"params": [...], "lr": ..., ...}` (param
            groups); hyperparameters missing from a group are taken from `defaults`.
        defaults: the hyperparameters given to the optimizer's constructor.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if isinstance(params, (Tensor, dict, set)):
            raise TypeError(
                f"{type(self).__name__}: params must be an ordered iterable of Tensors or of "
                f"param-group dicts, got a {type(params).__name__}"
            )
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Append a group: `{"params": [...]}` plus hyperparameters overriding the defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{name}: a param group must be a dict with a 'params' key")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, dict)):
            raise TypeError(f"{name}: a group's params must be ordered, got a set or dict")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (shape {p.shape})")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a param group contains the same parameter twice")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one param group")
        group = {**self.defaults, **param_group, "params": params}
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict[str, Any]) -> None:
        """Check (and normalise, e.g. floats) a group's hyperparameters; raise ValueError."""
        _check_nonnegative(type(self).__name__, "learning rate", group["lr"])

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default, as PyTorch) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place; returns closure() if given.

        Parameters whose `.grad` is None are skipped (their state is not touched).
        """
        loss = None
        if closure is not None:
            with autograd.enable_grad():
                loss = closure()
        with autograd.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.grad.shape != p.shape:  # numpy would broadcast it silently
                        raise ValueError(
                            f"{type(self).__name__}.step: a parameter of shape {p.shape} has a "
                            f"grad of shape {p.grad.shape}"
                        )
                    self._update(p, p.grad.data, group)
        return loss

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        """Apply one update to `p` (in place, through `p.data`) from its gradient array."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    # ----- state dicts ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """`{"state": {index: {name: array | number}}, "param_groups": [{..., "params": [i]}]}`.

        Parameters are replaced by their index, counted across groups in order (PyTorch's
        format). Arrays are copies, so the dict is a snapshot that later steps leave alone.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: _copy_value(v) for k, v in s.items()} for p, s in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by `state_dict` (or read back by `tg.load`).

        The groups must have as many parameters as the saved ones; buffers are copied and cast
        to their parameter's dtype, and a buffer whose shape differs from its parameter's is a
        ValueError naming it.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or {"state", "param_groups"} - state_dict.keys():
            raise KeyError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' keys"
            )
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: {len(saved_groups)} saved param groups, but the "
                f"optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: param group {i} has {len(group['params'])} "
                    f"parameters, the saved one {len(saved['params'])}"
                )
            by_index.update(zip((int(j) for j in saved["params"]), group["params"]))
        state = {}
        for key, saved_state in state_dict["state"].items():
            if int(key) not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for unknown parameter {key}")
            p = by_index[int(key)]
            state[p] = {
                k: _restore_value(v, p, f"state[{key}][{k!r}]") for k, v in saved_state.items()
            }
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            # defaults first: a checkpoint from before an option existed still loads
            new = {**self.defaults, **{k: _copy_value(v) for k, v in saved.items()}}
            new["params"] = group["params"]
            self._validate(new)
            new_groups.append(new)
        self.param_groups = new_groups
        self.state = state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _check_nonnegative(opt: str, what: str, value: Any) -> None:
    """Raise ValueError unless value is a number >= 0 (NaN fails too)."""
    if isinstance(value, (Tensor, np.ndarray)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{opt}: {what} must be a Python number, got {type(value).__name__}")
    if not value >= 0:
        raise ValueError(f"{opt}: invalid {what} {value}, must be >= 0")


def _copy_value(value: Any) -> Any:
    """Arrays are copied; numbers, tuples and strings are immutable and kept."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    return value


def _restore_value(value: Any, p: Tensor, where: str) -> Any:
    """A saved state entry for parameter p: arrays become fresh buffers of p's dtype."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        return value
    if value.ndim == 0 and value.dtype.kind in "iub":
        return value.item()  # a counter such as "step", from a file that stored it as an array
    if value.shape != p.shape:
        raise ValueError(
            f"load_state_dict: {where} has shape {value.shape}, its parameter {p.shape}"
        )
    return np.array(value, dtype=p.dtype, copy=True)
