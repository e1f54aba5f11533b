"""`Module`: the base of every layer and model (registration, traversal, state dict, hooks).

A Module registers what is assigned to its attributes: a `Parameter` becomes a parameter, a
`Module` a submodule, and `register_buffer` adds non-trained state such as running statistics.
Everything is kept in insertion order, so `named_parameters()` walks a model in the order its
`__init__` built it, with dotted names (`encoder.0.self_attn.q_proj.weight`), as PyTorch.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_attn.autograd import no_grad
from tinygrad_attn.nn.parameter import Parameter
from tinygrad_attn.tensor import Tensor


class RemovableHandle:
    """Returned by `register_forward_hook`; `.remove()` unregisters the hook."""

    def __init__(self, hooks: dict[int, Callable], key: int) -> None:
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        """Unregister the hook (doing it twice is harmless)."""
        self._hooks.pop(self._key, None)


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` returns: the keys it could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models: subclasses set attributes in `__init__` and define
    `forward`; calling the module runs `forward` and then the forward hooks."""

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_next_hook_id", 0)

    # ----- registration ------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter "
                    f"{name!r} (expected a Parameter or None)"
                )
            params[name] = None
        elif name in buffers:
            buffers[name] = _as_buffer(value, name)
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to submodule "
                    f"{name!r} (expected a Module or None)"
                )
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails, i.e. for registered names.
        for store in ("_parameters", "_buffers", "_modules"):
            registered = self.__dict__.get(store)
            if registered is not None and name in registered:
                return registered[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        registered = [*self._parameters, *self._buffers, *self._modules]
        return sorted(set(super().__dir__()) | set(registered))

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)  # a plain attribute (AttributeError if absent)

    def _forget(self, name: str) -> bool:
        """Drop `name` from every registry and the instance dict; True if it was registered."""
        found = False
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                found = True
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)
        return found

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """Add non-trained state (e.g. running stats) kept as a Tensor without grad.

        `value` is an array, a Tensor or None. Buffers follow `.float()`/`.double()`, and
        persistent ones are saved in `state_dict()`.
        """
        if "." in name or not name:
            raise KeyError(f"register_buffer: invalid buffer name {name!r}")
        if name in self.__dict__ or name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        self._buffers[name] = _as_buffer(value, name)
        if not persistent:
            self._non_persistent.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder, e.g. for `bias=False`) under `name`."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None")
        self._forget(name)
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a submodule under `name` (what attribute assignment does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None")
        self._forget(name)
        self._modules[name] = module

    # ----- traversal ---------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module (name "") and every descendant, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(_join(name, k), m) for k, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))  # reversed: pop in insertion order (preorder)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, each once, in preorder (self first)."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) of the direct submodules, in the order they were assigned."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct submodules, in the order they were assigned."""
        for _, module in self.named_children():
            yield module

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter), each parameter once even when shared (tied weights)."""
        yield from self._named_members("_parameters")

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter of this module and its descendants, each once (a shared one
        is listed once); what an optimizer takes.
        """
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, tensor) of every buffer (non-trained state such as running stats)."""
        yield from self._named_members("_buffers")

    def buffers(self) -> Iterator[Tensor]:
        """Every buffer of this module and its descendants (see `register_buffer`)."""
        for _, b in self.named_buffers():
            yield b

    def _named_members(self, store: str) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()  # by id: Tensor's == is elementwise, so no `in` on tensors
        for module_name, module in self.named_modules():
            for name, t in getattr(module, store).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield _join(module_name, name), t

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call fn on every submodule, children before parents (as PyTorch), then on self;
        e.g. `model.apply(my_init)` for a custom initialisation."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def num_parameters(self) -> int:
        """Total number of trainable scalars (shared parameters counted once)."""
        return sum(p.numel() for p in self.parameters())

    # ----- modes and gradients -----------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set `.training` on this module and every descendant (dropout, batch norm)."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Eval mode for this module and every descendant: same as `train(False)`."""
        return self.train(False)

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[Module]:
        """Eval mode and no graph recording for a block, then everything as it was:

            with model.evaluating():
                logits = model(src, tgt_in)

        On exit, even through an exception, every submodule gets back its own previous
        `.training` flag (a frozen submodule left in eval mode stays so) and the grad mode is
        restored. (PyTorch has no single call for this; it is `model.eval()` + `torch.no_grad()`
        + `model.train(was_training)`.)
        """
        previous = [(module, module.training) for module in self.modules()]
        self.eval()
        try:
            with no_grad():
                yield self
        finally:
            for module, mode in previous:
                object.__setattr__(module, "training", mode)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Set every parameter's `.grad` to None (or to zeros with set_to_none=False)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor(np.zeros_like(p.grad.data))

    def requires_grad_(self, flag: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad_(flag)
        return self

    def float(self) -> Module:
        """Convert every floating parameter and buffer to float32 in place (same objects)."""
        return self._cast(np.float32)

    def double(self) -> Module:
        """Convert every floating parameter and buffer to float64 in place (for gradcheck)."""
        return self._cast(np.float64)

    def _cast(self, dtype: Any) -> Module:
        for t in (*self.parameters(), *self.buffers()):
            if t.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad = Tensor(t.grad.data.astype(dtype))
        return self

    # ----- state dict --------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Dotted name -> a numpy COPY of every parameter and persistent buffer."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, t in self._state_items():
            out[name] = np.array(t.data, copy=True)
        return out

    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        # Unlike named_parameters, no de-duplication: a tied weight is saved under each name,
        # so a state dict loads into a model whatever the tying (as PyTorch).
        for module_name, module in self.named_modules():
            for name, p in module._parameters.items():
                if p is not None:
                    yield _join(module_name, name), p
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    yield _join(module_name, name), b

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values into the existing parameters and buffers (objects and dtypes kept).

        strict: a KeyError names missing and unexpected keys. A shape mismatch is always a
        ValueError naming the key, and values of another kind (ints or bools into a floating
        parameter, floats into an int buffer) a TypeError naming it; float32 <-> float64 is
        cast. Nothing is copied unless every check passes.
        """
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict ({type(self).__name__}): missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        values = {}
        for key, t in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.shape != t.shape:
                raise ValueError(
                    f"load_state_dict ({type(self).__name__}): {key!r} has shape {array.shape} "
                    f"in the state dict but {t.shape} in the model"
                )
            if not _castable(array.dtype, t.dtype):
                raise TypeError(
                    f"load_state_dict ({type(self).__name__}): {key!r} holds {array.dtype} "
                    f"values but is {t.dtype} in the model (not cast: it would change them)"
                )
            values[key] = array
        for key, array in values.items():
            # A fresh array: the model never aliases the caller's data, and a graph recorded
            # before the load keeps the arrays it saw, so its backward stays consistent.
            own[key].data = np.array(array, dtype=own[key].dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # ----- calling -----------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The module's computation; subclasses define it. Call the module (`m(x)`),
        not `forward`, so that forward hooks run.
        """
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_hook(self, fn: Callable[[Module, tuple, Any], Any]) -> RemovableHandle:
        """Call fn(module, inputs, output) after each forward; a non-None return replaces the
        output. Returns a handle whose `remove()` unregisters it."""
        key = self._next_hook_id
        object.__setattr__(self, "_next_hook_id", key + 1)
        self._forward_hooks[key] = fn
        return RemovableHandle(self._forward_hooks, key)

    # ----- printing ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in repr (its constructor arguments)."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + _indent(repr(m)) for name, m in self.named_children()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"

    def summary(self) -> str:
        """A table of every submodule with its parameter count, and the total."""
        rows = [("name", "type", "params")]
        for name, module in self.named_modules():
            count = sum(p.numel() for p in module.parameters())
            rows.append((name or "(root)", type(module).__name__, f"{count:,}"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"total trainable parameters: {self.num_parameters():,}")
        return "\n".join(lines)


def _as_buffer(value: Any, name: str) -> Tensor | None:
    """A buffer value as a Tensor without grad (None stays None)."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.detach() if value.requires_grad else value
    try:
        return Tensor(value)  # an ndarray keeps its dtype; Python floats become float32
    except (TypeError, ValueError) as err:
        raise TypeError(f"register_buffer: {name!r} cannot be a buffer: {err}") from None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def _castable(found: np.dtype, target: np.dtype) -> bool:
    """Whether load_state_dict may cast `found` values into a `target` array: within floats,
    within ints (and bools into ints or bools), never across kinds."""
    if target.kind == "f":
        return found.kind == "f"
    if target.kind in "iu":
        return found.kind in "iub"
    return found.kind == target.kind
