"""The documentation: every public callable has a docstring, the API reference builds without
warnings, links in README.md and docs/ resolve inside the repository, and the README's
"Adding an op" code runs as printed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import models
import tinygrad_attn


def _modules(package: ModuleType) -> Iterator[ModuleType]:
    """The package and its public submodules (no `_private` ones; viz needs matplotlib)."""
    yield package
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        yield importlib.import_module(info.name)


def _public_names(module: ModuleType) -> list[str]:
    """`__all__`, or else the public names the module itself defines (not ones it imports)."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    ]


def _members(cls: type) -> Iterator[tuple[str, object]]:
    """Public methods and properties a class defines itself (inherited ones are checked on the
    class that defines them)."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property) or inspect.isfunction(value):
            yield name, value


def _undocumented() -> list[str]:
    missing, seen = [], set()
    for package in (tinygrad_attn, models):
        for module in _modules(package):
            for name in _public_names(module):
                value = getattr(module, name)
                if inspect.ismodule(value) or not callable(value) or id(value) in seen:
                    continue
                seen.add(id(value))
                qualname = f"{getattr(value, '__module__', module.__name__)}.{name}"
                if not inspect.getdoc(value):
                    missing.append(qualname)
                if inspect.isclass(value):
                    for member, attr in _members(value):
                        doc = inspect.getdoc(getattr(value, member, attr)) or attr.__doc__
                        if not doc:
                            missing.append(f"{qualname}.{member}")
    return sorted(set(missing))


def test_every_public_function_class_and_method_has_a_docstring() -> None:
    missing = _undocumented()
    assert not missing, f"{len(missing)} public callables without a docstring:\n" + "\n".join(
        missing
    )
