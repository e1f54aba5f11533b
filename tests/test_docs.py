"""The documentation: every public callable has a docstring, the API reference builds without
warnings, links in README.md and docs/ resolve inside the repository, and the README's
"Adding an op" code runs as printed."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import models
import tinygrad_attn
from tests.ops.test_registry import _package_functions
from tinygrad_attn.testing import load_profile

ROOT = Path(__file__).resolve().parents[1]


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


def _op_methods() -> Iterator[tuple[str, str, str | None]]:
    """(class, method, its own docstring) for forward, backward and backward_graph of every op
    in the package, found where each is defined (reduce._Extreme holds Max's backward)."""
    classes = {
        klass
        for op in _package_functions()
        for klass in op.__mro__[: op.__mro__.index(tinygrad_attn.Function)]
    }
    for klass in sorted(classes, key=lambda k: (k.__module__, k.__name__)):
        for method in ("forward", "backward", "backward_graph"):
            if method in vars(klass):
                yield klass.__name__, method, inspect.unwrap(getattr(klass, method)).__doc__


def test_every_op_documents_its_forward_shapes_and_its_backward_math() -> None:
    """An op's forward says what it computes with a `Shapes:` line, its backward gives the
    math starting `backward`, each on the method itself: the base class's docstring, which
    `inspect.getdoc` would hand down, says nothing about the op."""
    missing = []
    for op, method, doc in _op_methods():
        wrong = (
            not doc
            or (method == "forward" and "Shapes:" not in doc)
            or (method == "backward" and not doc.startswith("backward"))
        )
        if wrong:
            missing.append(f"{op}.{method}: {doc!r}")
    assert not missing, "\n".join(missing)


# ----- README and docs/adding_an_op.md: "Adding an op" runs as printed ----------------------------
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _section(markdown: str, title: str) -> str:
    start = markdown.index(f"\n## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else len(markdown)]


def test_readme_adding_an_op_code_runs_and_prints_what_its_comments_say(capsys) -> None:
    """The README's one-input op, then docs/adding_an_op.md's two-input one, in one namespace."""
    readme = _section((ROOT / "README.md").read_text(encoding="utf-8"), "Adding an op")
    page = (ROOT / "docs" / "adding_an_op.md").read_text(encoding="utf-8")
    blocks = FENCE.findall(readme) + FENCE.findall(_section(page, "A two-input op"))
    assert len(blocks) >= 4, "the section lost its code blocks"
    code = "\n".join(blocks)
    # `print(...)  # expected output` lines: the comment is what the line prints
    expected = [line.split("  # ", 1)[1] for line in code.splitlines() if line.startswith("print(")]
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


# ----- the API reference ---------------------------------------------------------------------
def _build_api() -> ModuleType:
    """docs/build_api.py, the script the README's command runs, imported by path."""
    spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_builds_every_public_module_without_warnings(tmp_path) -> None:
    """What `python docs/build_api.py` builds, with every pdoc warning (an annotation it cannot
    resolve, a module that fails to import, a module listed twice) made a failure."""
    pytest.importorskip("pdoc")
    build_api = _build_api()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_api.build(tmp_path)
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    assert not messages, "pdoc warned:\n" + "\n".join(messages)
    for name in build_api.public_modules():  # one page per public module, ops and viz included
        assert (tmp_path / (name.replace(".", "/") + ".html")).is_file(), name


# ----- links: the documentation stands on its own ---------------------------------------------
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
OUTSIDE = ("../shared", "lecture-notes")  # documents that exist only outside this repository


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", CODE.sub("", markdown), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _broken_links(path: Path) -> list[str]:
    text = CODE.sub("", path.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.is_relative_to(ROOT) or not dest.exists():
            broken.append(f"{path.name}: {target} (no such file in the repository)")
        elif anchor and dest.suffix == ".md":
            if anchor not in _anchors(dest.read_text(encoding="utf-8")):
                broken.append(f"{path.name}: {target} (no heading #{anchor})")
    return broken


def test_relative_links_in_readme_and_docs_resolve_inside_the_repository() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) >= 3  # README, docs/self_attention.md, docs/api.md
    broken = [problem for page in pages for problem in _broken_links(page)]
    assert not broken, "\n".join(broken)


def test_nothing_shipped_points_outside_the_repository() -> None:
    roots = [ROOT / "README.md"] + [
        ROOT / d for d in ("docs", "examples", "tinygrad_attn", "models")
    ]
    files = [r for r in roots if r.is_file()]
    for root in roots:
        if root.is_dir():
            files += [f for f in root.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
    offenders = [
        f"{f.relative_to(ROOT)}: {needle}"
        for f in files
        for needle in OUTSIDE
        if needle.encode() in f.read_bytes()
    ]
    assert len(files) > 50 and not offenders, offenders


def test_license_file_matches_the_declared_license() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # (tomllib needs 3.11)
    assert re.search(r'^license = \{ text = "MIT" \}$', pyproject, re.MULTILINE)
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n") and "the tinygrad_attn authors" in text
    assert "## Unreleased" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
