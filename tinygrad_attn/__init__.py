"""tinygrad_attn: a small reverse-mode autodiff engine on numpy, built to study attention.

import tinygrad_attn as tg
import tinygrad_attn.functional as F
from tinygrad_attn import nn, optim
"""

import tinygrad_attn.autograd.functional  # noqa: E402, F401 (tg.autograd.functional)
from tinygrad_attn import (
    autograd,
    functional,
    nn,
    optim,
    random,
)
from tinygrad_attn._buffers import empty_cache, set_buffer_pool
from tinygrad_attn.anomaly import AnomalyError, detect_anomaly
from tinygrad_attn.autograd import Function, enable_grad, is_grad_enabled, no_grad, override_ops
from tinygrad_attn.creation import (
    arange,
    eye,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from tinygrad_attn.explain import TapeRecord, explain_backward
from tinygrad_attn.functional import cat, stack, where
from tinygrad_attn.gradcheck import GradcheckError, GradcheckWarning, gradcheck, gradgradcheck
from tinygrad_attn.gradflow import GradientFlow
from tinygrad_attn.graphviz import graph_tree, render_dot, to_dot
from tinygrad_attn.random import manual_seed
from tinygrad_attn.serialization import load, save
from tinygrad_attn.tensor import Tensor, matmul

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "Function",
    "GradcheckError",
    "GradcheckWarning",
    "GradientFlow",
    "TapeRecord",
    "Tensor",
    "arange",
    "autograd",
    "cat",
    "detect_anomaly",
    "empty_cache",
    "enable_grad",
    "explain_backward",
    "eye",
    "full",
    "functional",
    "gradcheck",
    "gradgradcheck",
    "graph_tree",
    "is_grad_enabled",
    "load",
    "manual_seed",
    "matmul",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "override_ops",
    "rand",
    "randn",
    "random",
    "render_dot",
    "save",
    "set_buffer_pool",
    "stack",
    "tensor",
    "to_dot",
    "where",
    "zeros",
    "zeros_like",
]
