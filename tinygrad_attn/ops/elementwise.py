"""Where the elementwise ops live, by family; this module re-exports them all.

- arithmetic.py: Add Sub Mul Div Pow Neg (the operators + - * / ** and unary minus)
- unary.py: Exp Log Sqrt Abs Cast
- activations.py: Tanh Sigmoid Relu Gelu NormalCdf
- selection.py: Where MaskedFill Clip (each output element picked from an input or a constant)
"""

from __future__ import annotations

from tinygrad_attn.ops.activations import Gelu, NormalCdf, Relu, Sigmoid, Tanh
from tinygrad_attn.ops.arithmetic import Add, Div, Mul, Neg, Pow, Sub
from tinygrad_attn.ops.selection import Clip, MaskedFill, Where
from tinygrad_attn.ops.unary import Abs, Cast, Exp, Log, Sqrt

__all__ = [
    "Abs",
    "Add",
    "Cast",
    "Clip",
    "Div",
    "Exp",
    "Gelu",
    "Log",
    "MaskedFill",
    "Mul",
    "Neg",
    "NormalCdf",
    "Pow",
    "Relu",
    "Sigmoid",
    "Sqrt",
    "Sub",
    "Tanh",
    "Where",
]
