"""The documentation: every public callable has a docstring, the API reference builds without
warnings, links in README.md and docs/ resolve inside the repository, and the README's
"Adding an op" code runs as printed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import models
import tinygrad_attn
from tinygrad_attn.testing import load_profile


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


# ----- README: "Adding an op" runs as printed ----------------------------------------------
ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _section(markdown: str, title: str) -> str:
    start = markdown.index(f"\n## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else len(markdown)]


def test_readme_adding_an_op_code_runs_and_prints_what_its_comments_say(capsys) -> None:
    section = _section((ROOT / "README.md").read_text(encoding="utf-8"), "Adding an op")
    blocks = FENCE.findall(section)
    assert len(blocks) >= 3, "the section lost its code blocks"
    code = "\n".join(blocks)
    # `print(...)  # expected output` lines: the comment is what the line prints
    expected = [
        line.split("  # ", 1)[1] for line in code.splitlines() if line.startswith("print(")
    ]
    namespace: dict = {"__name__": "readme_adding_an_op"}
    try:
        exec(compile(code, "README.md#adding-an-op", "exec"), namespace)  # noqa: S102
        tests = [f for name, f in namespace.items() if name.startswith("test_")]
        assert len(tests) >= 2, "the section should show a one- and a two-input property test"
        for test in tests:
            test()
    finally:
        load_profile()  # the conftest snippet loads a profile; put this session's back
    printed = capsys.readouterr().out.splitlines()
    assert printed == expected
