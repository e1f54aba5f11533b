"""Build the HTML API reference from the docstrings with pdoc (the `docs` extra).

    python docs/build_api.py              # writes docs/api/ (open docs/api/index.html)
    python docs/build_api.py /tmp/api     # or anywhere else

Every public module of `tinygrad_attn` and `models` gets a page: pdoc on its own documents
only the submodules a package lists in `__all__`, so they are listed here explicitly. The
generated HTML is not kept in the repository; tests/test_docs.py builds it with warnings as
errors.
"""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tinygrad_attn", "models")


def public_modules() -> list[str]:
    """Dotted names of the packages and every submodule without a `_private` part."""
    names = []
    for package in PACKAGES:
        names.append(package)
        path = [str(ROOT / package)]
        for info in pkgutil.walk_packages(path, package + "."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                names.append(info.name)
    return names


def module_specs() -> list[str]:
    """The packages, plus each public module that pdoc would not reach from them on its own
    (naming a module pdoc already reaches makes it warn about a duplicate)."""
    from pdoc.extract import walk_specs

    specs = list(PACKAGES)
    covered = set(walk_specs(specs))
    for name in public_modules():
        if name not in covered:
            specs.append(name)
            covered = set(walk_specs(specs))
    return specs


def build(output_directory: Path) -> None:
    """Render every public module into `output_directory` (created if missing)."""
    import pdoc

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # run from anywhere: document this checkout
    pdoc.pdoc(*module_specs(), output_directory=Path(output_directory))


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "api"
    build(out)
    print(f"API reference written to {out / 'index.html'}")
