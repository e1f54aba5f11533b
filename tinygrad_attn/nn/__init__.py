"""Layers, containers and training utilities (`from tinygrad_attn import nn`), as torch.nn.

Shape letters: B batch, T/L target length, S source length, E model dim, H heads, D head dim.
"""

from tinygrad_attn.nn import init, utils
from tinygrad_attn.nn.activation import GELU, ReLU
from tinygrad_attn.nn.attention import KVCache, MultiheadAttention
from tinygrad_attn.nn.container import ModuleList, Sequential
from tinygrad_attn.nn.dropout import Dropout
from tinygrad_attn.nn.embedding import Embedding
from tinygrad_attn.nn.linear import Linear
from tinygrad_attn.nn.module import IncompatibleKeys, Module, RemovableHandle
from tinygrad_attn.nn.norm import BatchNorm1d, LayerNorm
from tinygrad_attn.nn.parameter import Parameter
from tinygrad_attn.nn.rotary import RotaryEmbedding

__all__ = [
    "GELU",
    "BatchNorm1d",
    "Dropout",
    "Embedding",
    "IncompatibleKeys",
    "KVCache",
    "LayerNorm",
    "Linear",
    "Module",
    "ModuleList",
    "MultiheadAttention",
    "Parameter",
    "ReLU",
    "RemovableHandle",
    "RotaryEmbedding",
    "Sequential",
    "init",
    "utils",
]
