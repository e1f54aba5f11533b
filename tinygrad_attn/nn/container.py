"""Containers: `Sequential` (chain modules) and `ModuleList` (a registered list of modules)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from tinygrad_attn.nn.module import Module


class Sequential(Module):
    """Run modules one after another: `Sequential(m1, m2)(x) == m2(m1(x))`.

    Built from modules (named "0", "1", ...) or one OrderedDict of name -> module.
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, _checked(module, "Sequential"))
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), _checked(module, "Sequential"))

    def forward(self, x: Any) -> Any:
        """Each submodule applied to the previous one's output, in order."""
        for module in self._modules.values():
            x = module(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Module:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_position(index, len(items), "Sequential")][1]

    def append(self, module: Module) -> Sequential:
        """Add `module` at the end; returns self."""
        self.add_module(str(len(self)), _checked(module, "Sequential"))
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered as `"<i>.<name>"` (e.g. `layers.0.weight`).

    Supports indexing (negative and slices), `len`, iteration, `append`, `extend`, `insert` and
    item assignment. It has no forward: loop over it in the owner's forward.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_position(index, len(modules), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        position = _position(index, len(self), "ModuleList")
        self._modules[str(position)] = _checked(module, "ModuleList")

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end; returns self."""
        self.add_module(str(len(self)), _checked(module, "ModuleList"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append every module of `modules`; returns self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before position `index` (the later ones are renumbered)."""
        modules = list(self._modules.values())
        modules.insert(index, _checked(module, "ModuleList"))
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m


def _checked(module: Any, owner: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: expected a Module, got {type(module).__name__}")
    return module


def _position(index: int, length: int, owner: str) -> int:
    if not -length <= index < length:
        raise IndexError(f"{owner}: index {index} is out of range for {length} modules")
    return index % length
