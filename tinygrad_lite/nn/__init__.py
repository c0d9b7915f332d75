"""Neural-network building blocks with PyTorch's API: Module, Parameter, layers, functional, init.

    import tinygrad_lite.nn as nn
    import tinygrad_lite.nn.functional as F

`Module.num_parameters()` is a method (number of scalars in the parameters, tied ones counted once).
"""
from . import functional, init
from .module import IncompatibleKeys, Module, ModuleDict, ModuleList, Parameter, Sequential
from .layers import (GELU, CrossEntropyLoss, Dropout, Embedding, Identity, LayerNorm, Linear, LogSoftmax, MSELoss,
                     MultiheadAttention, ReLU, Sigmoid, SiLU, Softmax, Tanh)

try:  # nn.utils (clip_grad_norm_) lives in its own module
    from . import utils  # noqa: F401
except ImportError:  # pragma: no cover
    pass

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "IncompatibleKeys", "Linear",
           "Embedding", "LayerNorm", "Dropout", "ReLU", "GELU", "Tanh", "Sigmoid", "SiLU", "Identity", "Softmax",
           "LogSoftmax", "MultiheadAttention", "CrossEntropyLoss", "MSELoss", "functional", "init"]
