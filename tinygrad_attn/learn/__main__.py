"""`python -m tinygrad_attn.learn`: see cli.py."""

from __future__ import annotations

import sys

from tinygrad_attn.learn.cli import main

if __name__ == "__main__":  # importing the module (pkgutil, pdoc) must not run the course
    sys.exit(main())
