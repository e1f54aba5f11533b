"""`python -m tinygrad_attn.learn`: see cli.py."""

from __future__ import annotations

import sys

from tinygrad_attn.learn.cli import main

sys.exit(main())
