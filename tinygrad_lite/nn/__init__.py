"""Neural-network building blocks with PyTorch's API: Module, Parameter, layers, functional, init.

    import tinygrad_lite.nn as nn
    import tinygrad_lite.nn.functional as F

`Module.num_parameters()` is a method (number of scalars in the parameters, tied ones counted once).
"""
from . import functional, init
from .module import IncompatibleKeys, Module, ModuleDict, ModuleList, Parameter, Sequential
from .layers import (GELU, CrossEntropyLoss, Dropout, Embedding, EmbeddingBag, Identity, LayerNorm, Linear,
                     LogSoftmax, MSELoss, MultiheadAttention, ReLU, Sigmoid, SiLU, Softmax, Tanh)

from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .fold import Fold, Unfold
from .more_losses import (CosineEmbeddingLoss, GaussianNLLLoss, HingeEmbeddingLoss, MultiLabelMarginLoss,
                          MultiLabelSoftMarginLoss,
                          MultiMarginLoss, PoissonNLLLoss, SoftMarginLoss)
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AvgPool1d, AvgPool2d, AvgPool3d,
                      MaxPool1d, MaxPool2d, MaxPool3d)
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d
from .activation import ELU, LeakyReLU
from .dropout import Dropout2d, Flatten, Unflatten
from .loss import BCELoss, BCEWithLogitsLoss, HuberLoss, KLDivLoss, L1Loss, NLLLoss, SmoothL1Loss
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .padding import (CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d, ReflectionPad1d, ReflectionPad2d,
                      ReplicationPad1d, ReplicationPad2d, Upsample, ZeroPad1d, ZeroPad2d)
from .more_layers import (CELU, GLU, SELU, CosineSimilarity, GroupNorm, Hardshrink, Hardsigmoid, Hardswish, Hardtanh,
                          Mish, PairwiseDistance, ParameterDict, ParameterList, PReLU, ReLU6, Softmin, Softplus,
                          Softshrink, Softsign, Tanhshrink, Threshold)
from .more_layers import (InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LocalResponseNorm, MarginRankingLoss,
                          PixelShuffle, PixelUnshuffle, TripletMarginLoss)
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                          TransformerEncoderLayer)

try:  # nn.utils (clip_grad_norm_) lives in its own module
    from . import utils  # noqa: F401
except ImportError:  # pragma: no cover
    pass

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "IncompatibleKeys", "Linear",
           "Embedding", "EmbeddingBag", "LayerNorm", "Dropout", "ReLU", "GELU", "Tanh", "Sigmoid", "SiLU", "Identity",
           "Softmax", "LogSoftmax", "MultiheadAttention", "CrossEntropyLoss", "MSELoss", "functional", "init"]
__all__ += ["Fold", "Unfold", "Conv3d", "ConvTranspose3d", "CosineEmbeddingLoss", "GaussianNLLLoss", "HingeEmbeddingLoss",
            "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PoissonNLLLoss", "SoftMarginLoss", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d",
            "InstanceNorm3d", "LocalResponseNorm"]
__all__ += ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d",
            "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "MaxPool1d",
            "MaxPool2d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "ELU", "LeakyReLU", "Dropout2d", "Flatten",
            "Unflatten", "BCELoss", "BCEWithLogitsLoss", "HuberLoss", "KLDivLoss", "L1Loss", "NLLLoss", "SmoothL1Loss",
            "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "Transformer", "TransformerEncoder",
            "TransformerEncoderLayer", "TransformerDecoder", "TransformerDecoderLayer"]
__all__ += ["ConstantPad1d", "ConstantPad2d", "ZeroPad1d", "ZeroPad2d", "ReflectionPad1d", "ReflectionPad2d",
            "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d", "CircularPad2d", "Upsample"]
__all__ += ["CELU", "GLU", "SELU", "CosineSimilarity", "GroupNorm", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh",
            "Mish", "PairwiseDistance", "ParameterDict", "ParameterList", "PReLU", "ReLU6", "Softmin", "Softplus",
            "Softshrink", "Softsign", "Tanhshrink", "Threshold"]
__all__ += ["InstanceNorm1d", "InstanceNorm2d", "MarginRankingLoss", "PixelShuffle", "PixelUnshuffle",
            "TripletMarginLoss"]
