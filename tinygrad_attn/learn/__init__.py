"""`python -m tinygrad_attn.learn`: a course in writing backwards (docs/learn.md).

`start NAME` writes a stub (the library's forward, a backward for you to write) into --dir
(default ./my_ops); `check NAME` grades your file (exit 0 when right, 1 with a diagnosis);
`hint NAME` gives the next hint; `train` trains a small translation model with every exercise
you completed in place of the library's op, beside the library's own run. The grader needs
hypothesis (`pip install -e ".[test]"`).
"""

from __future__ import annotations

from tinygrad_attn.learn.exercises import EXERCISES, Exercise
from tinygrad_attn.learn.grader import Report, grade

__all__ = ["EXERCISES", "Exercise", "Report", "grade"]
